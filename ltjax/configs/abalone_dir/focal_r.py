r"""Abalone-DIR, focal_r.

  python -m experiments.main --config=abalone_dir/focal_r \
      --workdir=/tmp/ltjax/abalone_dir/focal_r \
      --config.data.path=/path/to/abalone.data

The focal-R L1 loss (sigmoid, beta = 0.2, gamma = 1).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "focal_r", arg)
