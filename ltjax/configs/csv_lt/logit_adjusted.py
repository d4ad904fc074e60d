r"""Your CSV table, logit_adjusted.

  python -m experiments.main --config=csv_lt/logit_adjusted \
      --workdir=/tmp/ltjax/csv_lt/logit_adjusted \
      --config.data.path=/path/to/table.csv --config.data.target=label

Logit-adjusted loss (tau = 1).

No published figure: your data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_lt", "logit_adjusted", arg)
