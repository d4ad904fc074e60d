r"""CIFAR-100-LT, cb_resample.

  python -m experiments.main --config=cifar100_lt/cb_resample \
      --workdir=/tmp/ltjax/cifar100_lt/cb_resample

Cross-entropy with class-balanced re-sampling.

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "cb_resample", arg)
