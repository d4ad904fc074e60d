r"""MNIST-LT, sam_ldam_drw.

  python -m experiments.main --config=mnist_lt/sam_ldam_drw \
      --workdir=/tmp/ltjax/mnist_lt/sam_ldam_drw

SAM on LDAM-DRW (Rangwani et al., NeurIPS 2022): sharpness-aware
minimisation, rho 0.8, on the LDAM-DRW recipe.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "sam_ldam_drw", arg)
