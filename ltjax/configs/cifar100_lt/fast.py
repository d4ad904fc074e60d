r"""CIFAR-100-LT, fast.

  python -m experiments.main --config=cifar100_lt/fast \
      --workdir=/tmp/ltjax/cifar100_lt/fast

The time-to-accuracy recipe (`ltjax.recipes`, issue 17): logit
adjustment with label smoothing, Nesterov SGD on a warm-up + linear-decay
schedule, EMA weights, zero-init residuals, a whitening first convolution
and, for natural images, the alternating flip and mirror test-time
augmentation.

No published figure: the goal is LDAM-DRW's published 200-epoch CIFAR-100-LT
number (42.04 top-1) in a fraction of its time; measured numbers are in
benchmarks/RESULTS.md.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "fast", arg)
