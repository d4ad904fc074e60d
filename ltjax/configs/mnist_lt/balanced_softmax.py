r"""MNIST-LT, balanced_softmax.

  python -m experiments.main --config=mnist_lt/balanced_softmax \
      --workdir=/tmp/ltjax/mnist_lt/balanced_softmax

Balanced softmax loss.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "balanced_softmax", arg)
