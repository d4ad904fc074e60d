r"""CIFAR-100-LT, ce: cross-entropy (ERM) with instance-balanced sampling.

CIFAR-100-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar100_lt/ce.py \
      --workdir=/tmp/ltjax/cifar100_lt/ce

Should approach the published top-1 on the balanced CIFAR-100 test set: ERM
38.32 (Cao et al. 2019); post-hoc logit adjustment (metrics.json `test_posthoc`)
44.07 (Menon et al. 2021).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ce.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar100_lt", "ce", arg)
