r"""CIFAR-10-LT, balanced_softmax.

  python -m experiments.main --config=cifar10_lt/balanced_softmax \
      --workdir=/tmp/ltjax/cifar10_lt/balanced_softmax

Balanced softmax loss.

Published top-1: 77.54 (Ren et al. 2020, arXiv 2007.10740).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "balanced_softmax", arg)
