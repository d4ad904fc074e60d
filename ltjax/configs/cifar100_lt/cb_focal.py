r"""CIFAR-100-LT, cb_focal.

  python -m experiments.main --config=cifar100_lt/cb_focal \
      --workdir=/tmp/ltjax/cifar100_lt/cb_focal

Class-balanced focal loss (effective-number weights, beta = 0.9999, gamma = 1).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "cb_focal", arg)
