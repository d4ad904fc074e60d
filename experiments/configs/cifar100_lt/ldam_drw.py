r"""CIFAR-100-LT, ldam_drw.

LDAM loss with deferred re-weighting (effective-number weights from epoch 160);
CIFAR-100-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar100_lt/ldam_drw.py \
      --workdir=/tmp/ltjax/cifar100_lt/ldam_drw

Should approach the published top-1 on the balanced CIFAR-100 test set: 42.04
(Cao et al. 2019).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ldam_drw.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar100_lt", "ldam_drw", arg)
