r"""CIFAR-10-LT, resample.

  python -m experiments.main --config=cifar10_lt/resample \
      --workdir=/tmp/ltjax/cifar10_lt/resample

Cross-entropy with class-balanced re-sampling for the whole schedule
(LDAM-DRW's re-sampling baseline, RS, under its name; the same recipe as
cb_resample).

No published figure for this row on this dataset.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "resample", arg)
