r"""Abalone-DIR, sqrt_inv.

  python -m experiments.main --config=abalone_dir/sqrt_inv \
      --workdir=/tmp/ltjax/abalone_dir/sqrt_inv \
      --config.data.path=/path/to/abalone.data

L1 weighted by the inverse square root of the label counts per bin (no
smoothing).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "sqrt_inv", arg)
