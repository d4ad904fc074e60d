r"""CIFAR-100-LT, sam_ldam_drw.

  python -m experiments.main --config=cifar100_lt/sam_ldam_drw \
      --workdir=/tmp/ltjax/cifar100_lt/sam_ldam_drw

SAM on LDAM-DRW (Rangwani et al., NeurIPS 2022): sharpness-aware
minimisation, rho 0.8, on the LDAM-DRW recipe.

Published top-1: 45.4 (LDAM + DRW + SAM, ResNet-32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "sam_ldam_drw", arg)
