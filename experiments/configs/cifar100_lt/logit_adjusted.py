r"""CIFAR-100-LT, logit_adjusted: logit-adjusted loss (tau = 1).

CIFAR-100-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar100_lt/logit_adjusted.py \
      --workdir=/tmp/ltjax/cifar100_lt/logit_adjusted

Should approach the published top-1 on the balanced CIFAR-100 test set: 44.06
(Menon et al. 2021).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `logit_adjusted.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar100_lt", "logit_adjusted", arg)
