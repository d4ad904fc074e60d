r"""CIFAR-10-LT, balanced_softmax: balanced softmax loss.

CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar10_lt/balanced_softmax.py \
      --workdir=/tmp/ltjax/cifar10_lt/balanced_softmax

Should approach the published top-1 on the balanced CIFAR-10 test set: 77.54
(Ren et al. 2020, arXiv 2007.10740).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `balanced_softmax.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar10_lt", "balanced_softmax", arg)
