r"""CIFAR-10-LT, ce: cross-entropy (ERM) with instance-balanced sampling.

CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, 200 epochs.

  python -m experiments.main \
      --config=experiments/configs/cifar10_lt/ce.py \
      --workdir=/tmp/ltjax/cifar10_lt/ce

Should approach the published top-1 on the balanced CIFAR-10 test set: ERM 70.36
(Cao et al. 2019, arXiv 1906.07413); post-hoc logit adjustment of this model
(metrics.json `test_posthoc`, tau = 1) 77.32 in the logit-adjustment code's runs
(Menon et al. 2021, arXiv 2007.07314; longer schedule).

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ce.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("cifar10_lt", "ce", arg)
