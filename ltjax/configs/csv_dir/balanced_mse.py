r"""Your CSV table, balanced_mse.

  python -m experiments.main --config=csv_dir/balanced_mse \
      --workdir=/tmp/ltjax/csv_dir/balanced_mse \
      --config.data.path=/path/to/table.csv --config.data.target=price

Balanced MSE, batch Monte-Carlo form (Ren et al. 2022, arXiv 2203.16427),
learnable sigma initialised to 1.0 (Adam, lr 1e-2).

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "balanced_mse", arg)
