r"""MNIST-LT, ce_drs.

Cross-entropy with deferred re-sampling (class-balanced from epoch 8 of 10);
MNIST-LT (exponential profile, rho = 100), small CNN, 10 epochs.

  python -m experiments.main \
      --config=experiments/configs/mnist_lt/ce_drs.py \
      --workdir=/tmp/ltjax/mnist_lt/ce_drs

No published figure: a quick run (minutes on a CPU) for comparing methods with
each other.

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ce_drs.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("mnist_lt", "ce_drs", arg)
