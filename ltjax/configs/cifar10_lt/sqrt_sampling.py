r"""CIFAR-10-LT, sqrt_sampling.

  python -m experiments.main --config=cifar10_lt/sqrt_sampling \
      --workdir=/tmp/ltjax/cifar10_lt/sqrt_sampling

Cross-entropy with square-root sampling: a class is drawn in proportion to the
square root of its count.

No published figure for this row; compare with the `ce` config.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "sqrt_sampling", arg)
