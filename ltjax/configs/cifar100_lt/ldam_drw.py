r"""CIFAR-100-LT, ldam_drw.

  python -m experiments.main --config=cifar100_lt/ldam_drw \
      --workdir=/tmp/ltjax/cifar100_lt/ldam_drw

LDAM loss with deferred re-weighting (effective-number weights from epoch 160).

Published top-1: 42.04 (Cao et al. 2019).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ldam_drw", arg)
