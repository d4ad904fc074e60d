r"""Your CSV table, fds.

  python -m experiments.main --config=csv_dir/fds \
      --workdir=/tmp/ltjax/csv_dir/fds \
      --config.data.path=/path/to/table.csv --config.data.target=price

L1 with feature distribution smoothing (gaussian, ks = 5, sigma = 2, momentum
0.9, statistics from epoch 0, calibration from epoch 1).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "fds", arg)
