r"""AgeDB-DIR, lds_fds.

  python -m experiments.main --config=agedb_dir/lds_fds \
      --workdir=/tmp/ltjax/agedb_dir/lds_fds \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

Sqrt-inverse LDS weights and FDS together (the paper's best row).

Published MAE all / many / medium / few: 7.55 / 7.01 / 8.24 / 10.79.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "lds_fds", arg)
