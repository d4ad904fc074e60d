r"""MNIST-LT, cb_focal.

  python -m experiments.main --config=mnist_lt/cb_focal \
      --workdir=/tmp/ltjax/mnist_lt/cb_focal

Class-balanced focal loss (effective-number weights, beta = 0.9999, gamma = 1).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "cb_focal", arg)
