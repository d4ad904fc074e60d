r"""MNIST-LT, cb_resample: cross-entropy with class-balanced re-sampling.

MNIST-LT (exponential profile, rho = 100), small CNN, 10 epochs.

  python -m experiments.main \
      --config=experiments/configs/mnist_lt/cb_resample.py \
      --workdir=/tmp/ltjax/mnist_lt/cb_resample

No published figure: a quick run (minutes on a CPU) for comparing methods with
each other.

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `cb_resample.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("mnist_lt", "cb_resample", arg)
