r"""CIFAR-10-LT, glmc.

  python -m experiments.main --config=cifar10_lt/glmc \
      --workdir=/tmp/ltjax/cifar10_lt/glmc

GLMC (Du et al., CVPR 2023): global (mixup) and local (CutMix) views mixed
with a class-balanced second sample, their SimSiam consistency, the
cumulative class-balanced re-weighting, and MaxNorm; the fixed sampler
(without replacement).

Published top-1: 87.75 (GLMC, 200 epochs; about 2 points more with its
sampler fixed).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "glmc", arg)
