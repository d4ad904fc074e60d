r"""CIFAR-100-LT, ldam.

  python -m experiments.main --config=cifar100_lt/ldam \
      --workdir=/tmp/ltjax/cifar100_lt/ldam

LDAM loss (max margin 0.5, scale 30, cosine head).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ldam", arg)
