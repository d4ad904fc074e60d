r"""MNIST-LT, vs.

  python -m experiments.main --config=mnist_lt/vs \
      --workdir=/tmp/ltjax/mnist_lt/vs

VS loss (Kini et al., NeurIPS 2021): cross-entropy of z / Delta + iota,
Delta_c = (n_max / n_c)^0.05, iota_c = 1.0 log pi_c, chosen on MNIST-LT's
validation split (the VS-Loss README's CIFAR-10-LT gamma 0.2, tau 1.2
over-correct on this 10-epoch proxy: validation balanced 85.6 % against
94.4 %; no DRW).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "vs", arg)
