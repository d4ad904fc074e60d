r"""Your CSV table, lds_fds_ranksim.

  python -m experiments.main --config=csv_dir/lds_fds_ranksim \
      --workdir=/tmp/ltjax/csv_dir/lds_fds_ranksim \
      --config.data.path=/path/to/table.csv --config.data.target=price

Sqrt-inverse LDS weights, FDS and RankSim (gamma 100, lambda 2) together,
the official README's "RankSim and LDS + FDS" method; RankSim sees the
encoder features before FDS calibration, as the official code.

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "lds_fds_ranksim", arg)
