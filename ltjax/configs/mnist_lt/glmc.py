r"""MNIST-LT, glmc.

  python -m experiments.main --config=mnist_lt/glmc \
      --workdir=/tmp/ltjax/mnist_lt/glmc

GLMC (Du et al., CVPR 2023): global (mixup) and local (CutMix) views mixed
with a class-balanced second sample, their SimSiam consistency, the
cumulative class-balanced re-weighting, and MaxNorm; the fixed sampler
(without replacement); MNIST-LT's own optimiser (the original's 200-epoch
CIFAR one, lr 0.01 and batch 64 with cosine, leaves the evaluated
classifier near its initialisation in 10 epochs).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "glmc", arg)
