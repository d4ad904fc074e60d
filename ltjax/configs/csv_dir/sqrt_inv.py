r"""Your CSV table, sqrt_inv.

  python -m experiments.main --config=csv_dir/sqrt_inv \
      --workdir=/tmp/ltjax/csv_dir/sqrt_inv \
      --config.data.path=/path/to/table.csv --config.data.target=price

L1 weighted by the inverse square root of the label counts per bin (no
smoothing).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "sqrt_inv", arg)
