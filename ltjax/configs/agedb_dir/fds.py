r"""AgeDB-DIR, fds.

  python -m experiments.main --config=agedb_dir/fds \
      --workdir=/tmp/ltjax/agedb_dir/fds \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

L1 with feature distribution smoothing (gaussian, ks = 5, sigma = 2, momentum
0.9, statistics from epoch 0, calibration from epoch 1).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "fds", arg)
