r"""CIFAR-10-LT, ce_drw.

  python -m experiments.main --config=cifar10_lt/ce_drw \
      --workdir=/tmp/ltjax/cifar10_lt/ce_drw

Cross-entropy with deferred re-weighting (effective-number weights from epoch
160).

Published top-1: 74.82 (Cao et al. 2019).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ce_drw", arg)
