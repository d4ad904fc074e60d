r"""CIFAR-10-LT, mislas.

  python -m experiments.main --config=cifar10_lt/mislas \
      --workdir=/tmp/ltjax/cifar10_lt/mislas

MiSLAS (Zhong et al. 2104.00466): stage 1 cross-entropy with mixup (alpha 1);
stage 2 (10 epochs) the classifier with label-aware smoothing,
class-balanced sampling and, on CIFAR-100, shift learning of the BatchNorm
statistics.

Published top-1: 82.5 (MiSLAS, 200 + 10 epochs, ResNet-32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "mislas", arg)
