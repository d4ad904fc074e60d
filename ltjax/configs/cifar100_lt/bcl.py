r"""CIFAR-100-LT, bcl.

  python -m experiments.main --config=cifar100_lt/bcl \
      --workdir=/tmp/ltjax/cifar100_lt/bcl

BCL (Zhu et al., CVPR 2022): logit-adjusted cross-entropy on the standard
view plus 0.35 x the balanced contrastive loss (class-averaging and
class-complement, temperature 0.07) on two strong views, with one prototype
per class from the classifier's weights; trained end to end.

Published top-1 (BCL, CIFAR-100-LT rho=100, ResNet-32, 200 epochs): 53.9.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "bcl", arg)
