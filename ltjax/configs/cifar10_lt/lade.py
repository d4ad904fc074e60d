r"""CIFAR-10-LT, lade.

  python -m experiments.main --config=cifar10_lt/lade \
      --workdir=/tmp/ltjax/cifar10_lt/lade

LADE (Hong et al. 2012.00321): the prior cross-entropy (balanced softmax)
plus 0.1 times the batch-level LADE regulariser (lambda 0.1).

No published figure for CIFAR-10-LT: compare with balanced_softmax (77.54).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "lade", arg)
