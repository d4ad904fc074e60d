r"""CIFAR-10-LT, paco.

  python -m experiments.main --config=cifar10_lt/paco \
      --workdir=/tmp/ltjax/cifar10_lt/paco

PaCo (Cui et al. 2107.12028): parametric contrastive learning with the
classifier's logits + log prior as learnable class centres, a momentum
encoder (EMA 0.999) and a queue of 1024 keys; alpha 0.01, temperature 0.05,
a linear projection to 32, lr 0.05 on the dataset's schedule (the original
CIFAR runs use 400 epochs).

No published figure for PaCo on CIFAR-10-LT at this schedule (its
CIFAR-100-LT rho=100: 52.0 at 400 epochs; ImageNet-LT 57.0 / 58.2).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "paco", arg)
