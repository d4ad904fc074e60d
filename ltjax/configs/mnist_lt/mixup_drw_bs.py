r"""MNIST-LT, mixup_drw_bs.

  python -m experiments.main --config=mnist_lt/mixup_drw_bs \
      --workdir=/tmp/ltjax/mnist_lt/mixup_drw_bs

Bag-of-Tricks' combination (Zhang et al., AAAI 2021): input mixup
(alpha 1) for the whole schedule, balanced softmax "with DRW" as its code
has it: plain CE before epoch 8, balanced softmax from it, no class
weights.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "mixup_drw_bs", arg)
