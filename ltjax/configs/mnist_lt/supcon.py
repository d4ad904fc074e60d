r"""MNIST-LT, supcon.

  python -m experiments.main --config=mnist_lt/supcon \
      --workdir=/tmp/ltjax/mnist_lt/supcon

SupCon (Khosla et al. 2004.11362) for long tails (Kang et al. 2021):
contrastive pre-training on two strong views (SupCon, temperature 0.1, an
MLP projection to 128) with an online linear probe on the stop-gradient
features for the run's evaluations, then cRT on the frozen backbone's
cached features (stage 2, class-balanced, 10 epochs): metrics.json's
"final" is the cRT head. Contrastive pre-training needs long schedules
(SupCon: 1000 epochs at batch 1024); at the 30-epoch schedule it trails CE.

No published figure (MNIST-LT is ltjax's CPU-sized check).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "supcon", arg)
