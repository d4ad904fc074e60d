"""`python -m experiments.main` in a checkout: `ltjax.cli.train`
(the `ltjax-train` command).

The entry points live in the ltjax package (they ship with it); this
module keeps the checkout's old command and import path working.
"""

import sys

from ltjax.cli import train as _impl

if __name__ == "__main__":
  _impl.run()
else:
  sys.modules[__name__] = _impl
