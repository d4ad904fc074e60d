r"""MNIST-LT, ride.

  python -m experiments.main --config=mnist_lt/ride \
      --workdir=/tmp/ltjax/mnist_lt/ride

RIDE (Wang et al. 2010.01809): 3 experts of reduced width on a shared
backbone (cosine heads, s = 30), each trained with LDAM-DRW plus the
diversity KL to the ensemble; evaluated on the mean of the experts' logits.
Add --config.experts.router_epochs=5 for RIDE's expert-assignment router
(a second stage; it records the average number of experts consulted).

Published top-1: RIDE (3 experts) 48.6 on CIFAR-100-LT rho=100 (200
epochs); ImageNet-LT ResNeXt-50 55.7 / 56.8 (the issue's figures). The paper gives no CIFAR-10-LT
number.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ride", arg)
