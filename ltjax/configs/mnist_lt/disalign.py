r"""MNIST-LT, disalign.

  python -m experiments.main --config=mnist_lt/disalign \
      --workdir=/tmp/ltjax/mnist_lt/disalign

DisAlign (Zhang et al. 2103.16370): a cross-entropy model, then the adaptive
calibration of its logits trained with the generalised re-weighting loss on
the frozen backbone (10 epochs).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "disalign", arg)
