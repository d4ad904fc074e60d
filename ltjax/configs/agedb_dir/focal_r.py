r"""AgeDB-DIR, focal_r.

  python -m experiments.main --config=agedb_dir/focal_r \
      --workdir=/tmp/ltjax/agedb_dir/focal_r \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

The focal-R L1 loss (sigmoid, beta = 0.2, gamma = 1).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "focal_r", arg)
