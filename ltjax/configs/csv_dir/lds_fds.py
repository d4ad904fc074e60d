r"""Your CSV table, lds_fds.

  python -m experiments.main --config=csv_dir/lds_fds \
      --workdir=/tmp/ltjax/csv_dir/lds_fds \
      --config.data.path=/path/to/table.csv --config.data.target=price

Sqrt-inverse LDS weights and FDS together (the paper's best row).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "lds_fds", arg)
