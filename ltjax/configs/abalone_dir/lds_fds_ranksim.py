r"""Abalone-DIR, lds_fds_ranksim.

  python -m experiments.main --config=abalone_dir/lds_fds_ranksim \
      --workdir=/tmp/ltjax/abalone_dir/lds_fds_ranksim \
      --config.data.path=/path/to/abalone.data

Sqrt-inverse LDS weights, FDS and RankSim (gamma 100, lambda 2) together,
the official README's "RankSim and LDS + FDS" method; RankSim sees the
encoder features before FDS calibration, as the official code.

No published figure (abalone is in neither the RankSim nor the SMOGN paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "lds_fds_ranksim", arg)
