r"""CIFAR-10-LT, ldam.

  python -m experiments.main --config=cifar10_lt/ldam \
      --workdir=/tmp/ltjax/cifar10_lt/ldam

LDAM loss (max margin 0.5, scale 30, cosine head).

Published top-1: about 73.4 (Cao et al. 2019).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ldam", arg)
