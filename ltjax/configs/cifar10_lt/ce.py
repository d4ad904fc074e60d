r"""CIFAR-10-LT, ce.

  python -m experiments.main --config=cifar10_lt/ce \
      --workdir=/tmp/ltjax/cifar10_lt/ce

Cross-entropy (ERM) with instance-balanced sampling.

Published top-1: ERM 70.36 (Cao et al. 2019); `test_posthoc` 77.32.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ce", arg)
