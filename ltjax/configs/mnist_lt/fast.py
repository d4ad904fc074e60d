r"""MNIST-LT, fast.

  python -m experiments.main --config=mnist_lt/fast \
      --workdir=/tmp/ltjax/mnist_lt/fast

The time-to-accuracy recipe (`ltjax.recipes`, issue 17): logit
adjustment with label smoothing, Nesterov SGD on a warm-up + linear-decay
schedule, EMA weights, zero-init residuals, a whitening first convolution
and, for natural images, the alternating flip and mirror test-time
augmentation.

No published figure: a quick run (about a minute on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "fast", arg)
