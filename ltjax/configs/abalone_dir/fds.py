r"""Abalone-DIR, fds.

  python -m experiments.main --config=abalone_dir/fds \
      --workdir=/tmp/ltjax/abalone_dir/fds \
      --config.data.path=/path/to/abalone.data

L1 with feature distribution smoothing (gaussian, ks = 5, sigma = 2, momentum
0.9, statistics from epoch 0, calibration from epoch 1).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "fds", arg)
