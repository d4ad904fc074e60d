r"""CIFAR-100-LT, ce_drw.

  python -m experiments.main --config=cifar100_lt/ce_drw \
      --workdir=/tmp/ltjax/cifar100_lt/ce_drw

Cross-entropy with deferred re-weighting (effective-number weights from epoch
160).

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ce_drw", arg)
