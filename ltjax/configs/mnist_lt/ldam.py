r"""MNIST-LT, ldam.

  python -m experiments.main --config=mnist_lt/ldam \
      --workdir=/tmp/ltjax/mnist_lt/ldam

LDAM loss (max margin 0.5, scale 30, cosine head).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ldam", arg)
