r"""CIFAR-10-LT, imbsam_ce.

  python -m experiments.main --config=cifar10_lt/imbsam_ce \
      --workdir=/tmp/ltjax/cifar10_lt/imbsam_ce

ImbSAM (Zhou et al. 2308.07815): cross-entropy, with the sharpness-aware
ascent (rho 0.05) taken on the tail classes' loss only (n_c < 100: no
class of CIFAR-10-LT has the original's n_c < 20; weight 2), with the
original's SGD (lr 0.01, weight decay 1e-3, cosine, batch 64).

No published figure checked here: compare with ce (70.36).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "imbsam_ce", arg)
