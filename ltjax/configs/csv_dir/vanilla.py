r"""Your CSV table, vanilla.

  python -m experiments.main --config=csv_dir/vanilla \
      --workdir=/tmp/ltjax/csv_dir/vanilla \
      --config.data.path=/path/to/table.csv --config.data.target=price

Plain L1 loss, no re-weighting.

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "vanilla", arg)
