r"""CIFAR-100-LT, progressive.

Cross-entropy with progressively-balanced sampling; CIFAR-100-LT (exponential
profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar100_lt/progressive.py \
      --workdir=/tmp/ltjax/cifar100_lt/progressive

No published top-1 on the balanced CIFAR-100 test set is recorded for this row
in ../shared/METHODS.md; compare it with the `ce` config.

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `progressive.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar100_lt", "progressive", arg)
