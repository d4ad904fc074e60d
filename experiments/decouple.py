"""`python -m experiments.decouple` in a checkout: `ltjax.cli.decouple`
(the `ltjax-decouple` command).

The entry points live in the ltjax package (they ship with it); this
module keeps the checkout's old command and import path working.
"""

import sys

from ltjax.cli import decouple as _impl

if __name__ == "__main__":
  _impl.run()
else:
  sys.modules[__name__] = _impl
