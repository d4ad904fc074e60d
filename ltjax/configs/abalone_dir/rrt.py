r"""Abalone-DIR, rrt.

  python -m experiments.main --config=abalone_dir/rrt \
      --workdir=/tmp/ltjax/abalone_dir/rrt \
      --config.data.path=/path/to/abalone.data

Regressor re-training: the encoder is trained with plain L1 and frozen, then
the regressor is re-initialised and re-trained on its features with
sqrt-inverse LDS weights (RRT + LDS).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "rrt", arg)
