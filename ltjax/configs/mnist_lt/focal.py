r"""MNIST-LT, focal.

  python -m experiments.main --config=mnist_lt/focal \
      --workdir=/tmp/ltjax/mnist_lt/focal

Focal loss (gamma = 1).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "focal", arg)
