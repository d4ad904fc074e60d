r"""Your CSV table, ce.

  python -m experiments.main --config=csv_lt/ce \
      --workdir=/tmp/ltjax/csv_lt/ce \
      --config.data.path=/path/to/table.csv --config.data.target=label

Cross-entropy (ERM) with instance-balanced sampling.

No published figure: your data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_lt", "ce", arg)
