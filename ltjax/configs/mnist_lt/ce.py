r"""MNIST-LT, ce.

  python -m experiments.main --config=mnist_lt/ce \
      --workdir=/tmp/ltjax/mnist_lt/ce

Cross-entropy (ERM) with instance-balanced sampling.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ce", arg)
