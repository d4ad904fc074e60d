r"""CIFAR-100-LT, lade.

  python -m experiments.main --config=cifar100_lt/lade \
      --workdir=/tmp/ltjax/cifar100_lt/lade

LADE (Hong et al. 2012.00321): the prior cross-entropy (balanced softmax)
plus 0.1 times the batch-level LADE regulariser (lambda 0.1).

Published top-1: 45.4 (LADE, CIFAR-100-LT rho=100, ResNet-32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "lade", arg)
