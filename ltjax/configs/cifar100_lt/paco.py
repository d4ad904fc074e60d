r"""CIFAR-100-LT, paco.

  python -m experiments.main --config=cifar100_lt/paco \
      --workdir=/tmp/ltjax/cifar100_lt/paco

PaCo (Cui et al. 2107.12028): parametric contrastive learning with the
classifier's logits + log prior as learnable class centres, a momentum
encoder (EMA 0.999) and a queue of 1024 keys; alpha 0.01, temperature 0.05,
a linear projection to 32, lr 0.05 on the dataset's schedule (the original
CIFAR runs use 400 epochs).

Published top-1 (PaCo, CIFAR-100-LT rho=100, ResNet-32, 400 epochs): 52.0.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "paco", arg)
