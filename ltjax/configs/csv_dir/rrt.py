r"""Your CSV table, rrt.

  python -m experiments.main --config=csv_dir/rrt \
      --workdir=/tmp/ltjax/csv_dir/rrt \
      --config.data.path=/path/to/table.csv --config.data.target=price

Regressor re-training: the encoder is trained with plain L1 and frozen, then
the regressor is re-initialised and re-trained on its features with
sqrt-inverse LDS weights (RRT + LDS).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "rrt", arg)
