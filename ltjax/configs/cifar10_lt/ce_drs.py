r"""CIFAR-10-LT, ce_drs.

  python -m experiments.main --config=cifar10_lt/ce_drs \
      --workdir=/tmp/ltjax/cifar10_lt/ce_drs

Cross-entropy with deferred re-sampling (class-balanced from epoch 160).

No published figure for this row; compare with the `ce` config.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ce_drs", arg)
