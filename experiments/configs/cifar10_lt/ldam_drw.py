r"""CIFAR-10-LT, ldam_drw.

LDAM loss with deferred re-weighting (effective-number weights from epoch 160);
CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar10_lt/ldam_drw.py \
      --workdir=/tmp/ltjax/cifar10_lt/ldam_drw

Should approach the published top-1 on the balanced CIFAR-10 test set: 77.03
(Cao et al. 2019; an independent re-run: 77.73).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ldam_drw.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar10_lt", "ldam_drw", arg)
