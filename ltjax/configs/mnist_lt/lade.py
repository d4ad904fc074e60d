r"""MNIST-LT, lade.

  python -m experiments.main --config=mnist_lt/lade \
      --workdir=/tmp/ltjax/mnist_lt/lade

LADE (Hong et al. 2012.00321): the prior cross-entropy (balanced softmax)
plus 0.1 times the batch-level LADE regulariser (lambda 0.1).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "lade", arg)
