r"""MNIST-LT, paco.

  python -m experiments.main --config=mnist_lt/paco \
      --workdir=/tmp/ltjax/mnist_lt/paco

PaCo (Cui et al. 2107.12028): parametric contrastive learning with the
classifier's logits + log prior as learnable class centres, a momentum
encoder (EMA 0.999) and a queue of 1024 keys; alpha 0.01, temperature 0.05,
a linear projection to 32, lr 0.05 on the dataset's schedule (the original
CIFAR runs use 400 epochs).

No published figure (MNIST-LT is ltjax's CPU-sized check).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "paco", arg)
