r"""CIFAR-100-LT, vs.

  python -m experiments.main --config=cifar100_lt/vs \
      --workdir=/tmp/ltjax/cifar100_lt/vs

VS loss (Kini et al., NeurIPS 2021): cross-entropy of z / Delta + iota,
Delta_c = (n_max / n_c)^0.2, iota_c = 1.2 log pi_c (the VS-Loss README's
CIFAR-10-LT command; no DRW).

No published figure checked here: compare with ldam_drw (42.04).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "vs", arg)
