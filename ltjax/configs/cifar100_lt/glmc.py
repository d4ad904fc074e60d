r"""CIFAR-100-LT, glmc.

  python -m experiments.main --config=cifar100_lt/glmc \
      --workdir=/tmp/ltjax/cifar100_lt/glmc

GLMC (Du et al., CVPR 2023): global (mixup) and local (CutMix) views mixed
with a class-balanced second sample, their SimSiam consistency, the
cumulative class-balanced re-weighting, and MaxNorm; the fixed sampler
(without replacement).

Published top-1: 55.88 (GLMC, 200 epochs; about 2 points more with its
sampler fixed).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "glmc", arg)
