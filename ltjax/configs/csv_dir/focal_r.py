r"""Your CSV table, focal_r.

  python -m experiments.main --config=csv_dir/focal_r \
      --workdir=/tmp/ltjax/csv_dir/focal_r \
      --config.data.path=/path/to/table.csv --config.data.target=price

The focal-R L1 loss (sigmoid, beta = 0.2, gamma = 1).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "focal_r", arg)
