r"""MNIST-LT, ldam_drw.

LDAM loss with deferred re-weighting (effective-number weights from epoch 8 of
10); MNIST-LT (exponential profile, rho = 100), small CNN, 10 epochs.

  python -m experiments.main \
      --config=experiments/configs/mnist_lt/ldam_drw.py \
      --workdir=/tmp/ltjax/mnist_lt/ldam_drw

No published figure: a quick run (minutes on a CPU) for comparing methods with
each other.

Append `:EPOCHS` to the config path for a shorter run with the whole schedule
scaled (e.g. `ldam_drw.py:30`); give a local copy of the data with
`--config.data.path=...` (see README).
"""

from experiments.configs import common


def get_config(arg=None):
  return common.build("mnist_lt", "ldam_drw", arg)
