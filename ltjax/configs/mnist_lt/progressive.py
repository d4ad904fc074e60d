r"""MNIST-LT, progressive.

  python -m experiments.main --config=mnist_lt/progressive \
      --workdir=/tmp/ltjax/mnist_lt/progressive

Cross-entropy with progressively-balanced sampling (instance-balanced to
class-balanced over the run).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "progressive", arg)
