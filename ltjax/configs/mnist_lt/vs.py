r"""MNIST-LT, vs.

  python -m experiments.main --config=mnist_lt/vs \
      --workdir=/tmp/ltjax/mnist_lt/vs

VS loss (Kini et al., NeurIPS 2021): cross-entropy of z / Delta + iota,
Delta_c = (n_max / n_c)^0.2, iota_c = 1.2 log pi_c (the VS-Loss README's
CIFAR-10-LT command; no DRW).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "vs", arg)
