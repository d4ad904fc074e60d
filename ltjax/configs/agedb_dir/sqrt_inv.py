r"""AgeDB-DIR, sqrt_inv.

  python -m experiments.main --config=agedb_dir/sqrt_inv \
      --workdir=/tmp/ltjax/agedb_dir/sqrt_inv \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

L1 weighted by the inverse square root of the label counts per bin (no
smoothing).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "sqrt_inv", arg)
