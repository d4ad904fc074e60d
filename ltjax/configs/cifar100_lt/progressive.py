r"""CIFAR-100-LT, progressive.

  python -m experiments.main --config=cifar100_lt/progressive \
      --workdir=/tmp/ltjax/cifar100_lt/progressive

Cross-entropy with progressively-balanced sampling (instance-balanced to
class-balanced over the run).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "progressive", arg)
