r"""Your CSV table, balanced_softmax.

  python -m experiments.main --config=csv_lt/balanced_softmax \
      --workdir=/tmp/ltjax/csv_lt/balanced_softmax \
      --config.data.path=/path/to/table.csv --config.data.target=label

Balanced softmax loss.

No published figure: your data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_lt", "balanced_softmax", arg)
