r"""MNIST-LT, ldam_drw.

  python -m experiments.main --config=mnist_lt/ldam_drw \
      --workdir=/tmp/ltjax/mnist_lt/ldam_drw

LDAM loss with deferred re-weighting (effective-number weights from epoch 8 of
10).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ldam_drw", arg)
