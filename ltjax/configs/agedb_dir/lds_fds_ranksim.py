r"""AgeDB-DIR, lds_fds_ranksim.

  python -m experiments.main --config=agedb_dir/lds_fds_ranksim \
      --workdir=/tmp/ltjax/agedb_dir/lds_fds_ranksim \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

Sqrt-inverse LDS weights, FDS and RankSim (gamma 100, lambda 2) together,
the official README's "RankSim and LDS + FDS" method; RankSim sees the
encoder features before FDS calibration, as the official code.

No published figure for this exact row; the official README's best AgeDB-DIR
rows are SQINV + RankSim (MAE all 6.91) and SQINV + FDS + RankSim (MAE
few 9.68): --config.reweight.name=sqrt_inv on the ranksim config is the
first.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "lds_fds_ranksim", arg)
