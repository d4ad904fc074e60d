r"""MNIST-LT, ce_drs.

  python -m experiments.main --config=mnist_lt/ce_drs \
      --workdir=/tmp/ltjax/mnist_lt/ce_drs

Cross-entropy with deferred re-sampling (class-balanced from epoch 8 of 10).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ce_drs", arg)
