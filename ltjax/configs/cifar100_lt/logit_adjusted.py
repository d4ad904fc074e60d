r"""CIFAR-100-LT, logit_adjusted.

  python -m experiments.main --config=cifar100_lt/logit_adjusted \
      --workdir=/tmp/ltjax/cifar100_lt/logit_adjusted

Logit-adjusted loss (tau = 1).

Published top-1: 44.06 (Menon et al. 2021).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "logit_adjusted", arg)
