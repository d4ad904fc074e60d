"""`python -m experiments.evaluate_shift` in a checkout:
`ltjax.cli.evaluate_shift`.

The entry points live in the ltjax package (they ship with it); this
module keeps the checkout's old command and import path working.
"""

import sys

from ltjax.cli import evaluate_shift as _impl

if __name__ == "__main__":
  _impl.run()
else:
  sys.modules[__name__] = _impl
