r"""CIFAR-10-LT, logit_adjusted.

  python -m experiments.main --config=cifar10_lt/logit_adjusted \
      --workdir=/tmp/ltjax/cifar10_lt/logit_adjusted

Logit-adjusted loss (tau = 1).

Published top-1: 77.89 (Menon et al. 2021's code, longer schedule).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "logit_adjusted", arg)
