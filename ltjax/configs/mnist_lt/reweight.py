r"""MNIST-LT, reweight.

  python -m experiments.main --config=mnist_lt/reweight \
      --workdir=/tmp/ltjax/mnist_lt/reweight

Cross-entropy with inverse class-frequency weights for the whole schedule
(LDAM-DRW's re-weighting baseline, RW; Cao et al. 2019).

No published figure for this row on this dataset.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "reweight", arg)
