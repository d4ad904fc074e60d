r"""AgeDB-DIR, ranksim.

  python -m experiments.main --config=agedb_dir/ranksim \
      --workdir=/tmp/ltjax/agedb_dir/ranksim \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

L1 plus 100 x the RankSim regulariser (Gong et al. 2205.15236; gamma 100,
lambda 2, the official README) of the encoder features.

No published figure for this exact row; the official README's best AgeDB-DIR
rows are SQINV + RankSim (MAE all 6.91) and SQINV + FDS + RankSim (MAE
few 9.68): --config.reweight.name=sqrt_inv on the ranksim config is the
first.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "ranksim", arg)
