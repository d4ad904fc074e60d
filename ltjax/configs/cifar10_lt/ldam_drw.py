r"""CIFAR-10-LT, ldam_drw.

  python -m experiments.main --config=cifar10_lt/ldam_drw \
      --workdir=/tmp/ltjax/cifar10_lt/ldam_drw

LDAM loss with deferred re-weighting (effective-number weights from epoch 160).

Published top-1: 77.03 (Cao et al. 2019; an independent re-run: 77.73).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ldam_drw", arg)
