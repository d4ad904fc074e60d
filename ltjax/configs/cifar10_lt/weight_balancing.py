r"""CIFAR-10-LT, weight_balancing.

  python -m experiments.main --config=cifar10_lt/weight_balancing \
      --workdir=/tmp/ltjax/cifar10_lt/weight_balancing

Weight balancing (Alshammari et al. 2203.14197): stage 1 cross-entropy with
a tuned weight decay (5e-3, lr 0.01, cosine, batch 64); stage 2 the
classifier re-trained with the class-balanced loss, weight decay and MaxNorm.

No published figure for CIFAR-10-LT rho=100 in the paper.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "weight_balancing", arg)
