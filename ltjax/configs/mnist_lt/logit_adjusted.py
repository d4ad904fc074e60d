r"""MNIST-LT, logit_adjusted.

  python -m experiments.main --config=mnist_lt/logit_adjusted \
      --workdir=/tmp/ltjax/mnist_lt/logit_adjusted

Logit-adjusted loss (tau = 1).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "logit_adjusted", arg)
