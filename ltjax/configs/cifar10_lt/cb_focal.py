r"""CIFAR-10-LT, cb_focal.

  python -m experiments.main --config=cifar10_lt/cb_focal \
      --workdir=/tmp/ltjax/cifar10_lt/cb_focal

Class-balanced focal loss (effective-number weights, beta = 0.9999, gamma = 1).

Published top-1: about 74.6 (Cao et al. 2019; Cui et al. 2019).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "cb_focal", arg)
