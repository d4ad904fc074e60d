r"""CIFAR-100-LT, cb_focal.

Class-balanced focal loss (effective-number weights, beta = 0.9999, gamma = 1);
CIFAR-100-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar100_lt/cb_focal.py \
      --workdir=/tmp/ltjax/cifar100_lt/cb_focal

No published top-1 on the balanced CIFAR-100 test set is recorded for this row
in ../shared/METHODS.md; compare it with the `ce` config.

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `cb_focal.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar100_lt", "cb_focal", arg)
