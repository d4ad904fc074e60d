r"""Your CSV table, ldam_drw.

  python -m experiments.main --config=csv_lt/ldam_drw \
      --workdir=/tmp/ltjax/csv_lt/ldam_drw \
      --config.data.path=/path/to/table.csv --config.data.target=label

LDAM loss (normalised head) with deferred re-weighting.

No published figure: your data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_lt", "ldam_drw", arg)
