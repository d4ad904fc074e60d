r"""AgeDB-DIR, rrt.

  python -m experiments.main --config=agedb_dir/rrt \
      --workdir=/tmp/ltjax/agedb_dir/rrt \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

Regressor re-training: the encoder is trained with plain L1 and frozen, then
the regressor is re-initialised and re-trained on its features with
sqrt-inverse LDS weights (RRT + LDS).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "rrt", arg)
