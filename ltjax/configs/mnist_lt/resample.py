r"""MNIST-LT, resample.

  python -m experiments.main --config=mnist_lt/resample \
      --workdir=/tmp/ltjax/mnist_lt/resample

Cross-entropy with class-balanced re-sampling for the whole schedule
(LDAM-DRW's re-sampling baseline, RS, under its name; the same recipe as
cb_resample).

No published figure for this row on this dataset.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "resample", arg)
