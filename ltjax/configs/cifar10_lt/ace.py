r"""CIFAR-10-LT, ace.

  python -m experiments.main --config=cifar10_lt/ace \
      --workdir=/tmp/ltjax/cifar10_lt/ace

ACE (Cai et al., ICCV 2021, arXiv 2108.02385): experts on nested class
subsets (all / medium + few / few) with linear classifiers, re-scaled
learning rates, the shared layers trained by expert 0's loss only, and the
logits re-scaled by the weight-norm ratios and averaged per class.

Published top-1 (4 experts, 400 epochs): CIFAR-10-LT rho=100 81.4,
CIFAR-100-LT rho=100 49.6; ImageNet-LT 56.6.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "ace", arg)
