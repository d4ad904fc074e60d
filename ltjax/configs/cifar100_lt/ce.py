r"""CIFAR-100-LT, ce.

  python -m experiments.main --config=cifar100_lt/ce \
      --workdir=/tmp/ltjax/cifar100_lt/ce

Cross-entropy (ERM) with instance-balanced sampling.

Published top-1: 38.32 (Cao et al. 2019), post-hoc adjusted 44.07.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ce", arg)
