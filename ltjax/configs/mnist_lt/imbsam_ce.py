r"""MNIST-LT, imbsam_ce.

  python -m experiments.main --config=mnist_lt/imbsam_ce \
      --workdir=/tmp/ltjax/mnist_lt/imbsam_ce

ImbSAM (Zhou et al. 2308.07815): cross-entropy, with the sharpness-aware
ascent (rho 0.05) taken on the tail classes' loss only (n_c < 100: no
class of MNIST-LT has the original's n_c < 20; weight 2), with MNIST-LT's
own optimiser (the original's CIFAR SGD, lr 0.01 and batch 64 with cosine,
leaves the tail near 2 % in 10 epochs).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "imbsam_ce", arg)
