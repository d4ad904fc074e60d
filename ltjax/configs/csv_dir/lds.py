r"""Your CSV table, lds.

  python -m experiments.main --config=csv_dir/lds \
      --workdir=/tmp/ltjax/csv_dir/lds \
      --config.data.path=/path/to/table.csv --config.data.target=price

L1 weighted by sqrt-inverse LDS weights (gaussian window, ks = 5, sigma = 2).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "lds", arg)
