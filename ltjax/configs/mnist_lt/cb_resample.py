r"""MNIST-LT, cb_resample.

  python -m experiments.main --config=mnist_lt/cb_resample \
      --workdir=/tmp/ltjax/mnist_lt/cb_resample

Cross-entropy with class-balanced re-sampling.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "cb_resample", arg)
