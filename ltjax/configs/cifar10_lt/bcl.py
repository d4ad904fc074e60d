r"""CIFAR-10-LT, bcl.

  python -m experiments.main --config=cifar10_lt/bcl \
      --workdir=/tmp/ltjax/cifar10_lt/bcl

BCL (Zhu et al., CVPR 2022): logit-adjusted cross-entropy on the standard
view plus 0.35 x the balanced contrastive loss (class-averaging and
class-complement, temperature 0.07) on two strong views, with one prototype
per class from the classifier's weights; trained end to end.

No published figure for CIFAR-10-LT in the BCL paper's tables at this
schedule (its CIFAR-100-LT rho=100: 53.9, 200 epochs).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "bcl", arg)
