r"""Abalone-DIR, vanilla.

  python -m experiments.main --config=abalone_dir/vanilla \
      --workdir=/tmp/ltjax/abalone_dir/vanilla \
      --config.data.path=/path/to/abalone.data

Plain L1 loss, no re-weighting.

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "vanilla", arg)
