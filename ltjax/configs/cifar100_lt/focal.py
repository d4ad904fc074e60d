r"""CIFAR-100-LT, focal.

  python -m experiments.main --config=cifar100_lt/focal \
      --workdir=/tmp/ltjax/cifar100_lt/focal

Focal loss (gamma = 1).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "focal", arg)
