r"""Your CSV table, ranksim.

  python -m experiments.main --config=csv_dir/ranksim \
      --workdir=/tmp/ltjax/csv_dir/ranksim \
      --config.data.path=/path/to/table.csv --config.data.target=price

L1 plus 100 x the RankSim regulariser (Gong et al. 2205.15236; gamma 100,
lambda 2, the official README) of the encoder features.

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "ranksim", arg)
