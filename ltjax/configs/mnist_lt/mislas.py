r"""MNIST-LT, mislas.

  python -m experiments.main --config=mnist_lt/mislas \
      --workdir=/tmp/ltjax/mnist_lt/mislas

MiSLAS (Zhong et al. 2104.00466): stage 1 cross-entropy with mixup (alpha 1);
stage 2 (10 epochs) the classifier with label-aware smoothing,
class-balanced sampling and, on CIFAR-100, shift learning of the BatchNorm
statistics.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "mislas", arg)
