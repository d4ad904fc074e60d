r"""AgeDB-DIR, vanilla.

  python -m experiments.main --config=agedb_dir/vanilla \
      --workdir=/tmp/ltjax/agedb_dir/vanilla \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

Plain L1 loss, no re-weighting.

Published MAE all / many / medium / few: 7.77 / 6.62 / 9.55 / 13.67.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "vanilla", arg)
