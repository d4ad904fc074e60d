r"""CIFAR-10-LT, ldam: LDAM loss (max margin 0.5, scale 30, cosine head).

CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar10_lt/ldam.py \
      --workdir=/tmp/ltjax/cifar10_lt/ldam

Should approach the published top-1 on the balanced CIFAR-10 test set: about
73.4 (Cao et al. 2019).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ldam.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar10_lt", "ldam", arg)
