r"""CIFAR-100-LT, ce_drs.

  python -m experiments.main --config=cifar100_lt/ce_drs \
      --workdir=/tmp/ltjax/cifar100_lt/ce_drs

Cross-entropy with deferred re-sampling (class-balanced from epoch 160).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ce_drs", arg)
