r"""CIFAR-100-LT, remix_drw.

  python -m experiments.main --config=cifar100_lt/remix_drw \
      --workdir=/tmp/ltjax/cifar100_lt/remix_drw

Remix (Chou et al. 2007.03943) as Bag-of-Tricks runs it: mixup with Remix's
targets (kappa 3, tau 0.5), cross-entropy with deferred re-weighting.

No published figure checked here: compare with mixup_drw_bs (46.70).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "remix_drw", arg)
