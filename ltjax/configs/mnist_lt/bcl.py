r"""MNIST-LT, bcl.

  python -m experiments.main --config=mnist_lt/bcl \
      --workdir=/tmp/ltjax/mnist_lt/bcl

BCL (Zhu et al., CVPR 2022): logit-adjusted cross-entropy on the standard
view plus 0.35 x the balanced contrastive loss (class-averaging and
class-complement, temperature 0.07) on two strong views, with one prototype
per class from the classifier's weights; trained end to end.

No published figure (MNIST-LT is ltjax's CPU-sized check).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "bcl", arg)
