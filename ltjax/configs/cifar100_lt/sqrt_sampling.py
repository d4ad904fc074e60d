r"""CIFAR-100-LT, sqrt_sampling.

  python -m experiments.main --config=cifar100_lt/sqrt_sampling \
      --workdir=/tmp/ltjax/cifar100_lt/sqrt_sampling

Cross-entropy with square-root sampling: a class is drawn in proportion to the
square root of its count.

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "sqrt_sampling", arg)
