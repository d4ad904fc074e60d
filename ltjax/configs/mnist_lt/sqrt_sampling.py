r"""MNIST-LT, sqrt_sampling.

  python -m experiments.main --config=mnist_lt/sqrt_sampling \
      --workdir=/tmp/ltjax/mnist_lt/sqrt_sampling

Cross-entropy with square-root sampling: a class is drawn in proportion to the
square root of its count.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "sqrt_sampling", arg)
