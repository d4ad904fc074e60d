r"""MNIST-LT, remix_drw.

  python -m experiments.main --config=mnist_lt/remix_drw \
      --workdir=/tmp/ltjax/mnist_lt/remix_drw

Remix (Chou et al. 2007.03943) as Bag-of-Tricks runs it: mixup with Remix's
targets (kappa 3, tau 0.5), cross-entropy with deferred re-weighting.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "remix_drw", arg)
