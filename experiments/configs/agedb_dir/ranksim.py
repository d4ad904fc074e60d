r"""AgeDB-DIR, ranksim.

  python -m experiments.main --config=agedb_dir/ranksim \
      --workdir=/tmp/ltjax/agedb_dir/ranksim \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

L1 plus 100 x the RankSim regulariser (Gong et al. 2205.15236; gamma 100,
lambda 2, the official README) of the encoder features.

No published figure quoted in ltjax for RankSim alone (Gong et al. 2022,
Table 1, has it).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "ranksim", arg)
