r"""CIFAR-10-LT, cb_resample.

  python -m experiments.main --config=cifar10_lt/cb_resample \
      --workdir=/tmp/ltjax/cifar10_lt/cb_resample

Cross-entropy with class-balanced re-sampling.

No published figure for this row; compare with the `ce` config.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "cb_resample", arg)
