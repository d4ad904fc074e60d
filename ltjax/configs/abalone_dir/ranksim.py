r"""Abalone-DIR, ranksim.

  python -m experiments.main --config=abalone_dir/ranksim \
      --workdir=/tmp/ltjax/abalone_dir/ranksim \
      --config.data.path=/path/to/abalone.data

L1 plus 100 x the RankSim regulariser (Gong et al. 2205.15236; gamma 100,
lambda 2, the official README) of the encoder features.

No published figure (abalone is in neither the RankSim nor the SMOGN paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "ranksim", arg)
