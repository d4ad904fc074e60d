r"""CIFAR-10-LT, focal.

  python -m experiments.main --config=cifar10_lt/focal \
      --workdir=/tmp/ltjax/cifar10_lt/focal

Focal loss (gamma = 1).

Published top-1: about 70.4 (Cao et al. 2019).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "focal", arg)
