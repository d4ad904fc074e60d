r"""AgeDB-DIR, lds.

  python -m experiments.main --config=agedb_dir/lds \
      --workdir=/tmp/ltjax/agedb_dir/lds \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

L1 weighted by sqrt-inverse LDS weights (gaussian window, ks = 5, sigma = 2).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "lds", arg)
