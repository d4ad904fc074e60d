r"""CIFAR-10-LT, cb_focal.

Class-balanced focal loss (effective-number weights, beta = 0.9999, gamma = 1);
CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar10_lt/cb_focal.py \
      --workdir=/tmp/ltjax/cifar10_lt/cb_focal

Should approach the published top-1 on the balanced CIFAR-10 test set: about
74.6 (Cao et al. 2019; Cui et al. 2019).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `cb_focal.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar10_lt", "cb_focal", arg)
