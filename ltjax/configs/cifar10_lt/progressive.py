r"""CIFAR-10-LT, progressive.

  python -m experiments.main --config=cifar10_lt/progressive \
      --workdir=/tmp/ltjax/cifar10_lt/progressive

Cross-entropy with progressively-balanced sampling (instance-balanced to
class-balanced over the run).

No published figure for this row; compare with the `ce` config.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "progressive", arg)
