r"""CIFAR-100-LT, imbsam_ce.

  python -m experiments.main --config=cifar100_lt/imbsam_ce \
      --workdir=/tmp/ltjax/cifar100_lt/imbsam_ce

ImbSAM (Zhou et al. 2308.07815): cross-entropy, with the sharpness-aware
ascent (rho 0.05) taken on the tail classes' loss only (n_c < 20, the
original's eta; weight 2), with the original's SGD (lr 0.01, weight decay
1e-3, cosine, batch 64).

No published figure checked here: compare with ce (38.32).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "imbsam_ce", arg)
