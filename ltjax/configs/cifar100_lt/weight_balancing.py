r"""CIFAR-100-LT, weight_balancing.

  python -m experiments.main --config=cifar100_lt/weight_balancing \
      --workdir=/tmp/ltjax/cifar100_lt/weight_balancing

Weight balancing (Alshammari et al. 2203.14197): stage 1 cross-entropy with
a tuned weight decay (5e-3, lr 0.01, cosine, batch 64); stage 2 the
classifier re-trained with the class-balanced loss, weight decay and MaxNorm.

Published top-1: 53.1 (weight decay + MaxNorm, CIFAR-100-LT rho=100,
ResNet-34; ltjax uses ResNet-32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "weight_balancing", arg)
