r"""CIFAR-10-LT, mixup_drw_bs.

  python -m experiments.main --config=cifar10_lt/mixup_drw_bs \
      --workdir=/tmp/ltjax/cifar10_lt/mixup_drw_bs

Bag-of-Tricks' combination (Zhang et al., AAAI 2021): input mixup
(alpha 1) for the whole schedule, balanced softmax "with DRW" as its code
has it: plain CE before epoch 160, balanced softmax from it, no class
weights.

Published top-1: 81.27 (Bag of Tricks, 200 epochs, ResNet-32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "mixup_drw_bs", arg)
