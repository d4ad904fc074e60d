r"""STS-B-DIR, ranksim.

  python -m experiments.main --config=sts_b_dir/ranksim \
      --workdir=/tmp/ltjax/sts_b_dir/ranksim \
      --config.data.path=/data/sts_b_dir

RankSim (Gong et al. 2022, arXiv 2205.15236; gamma 100, lambda 2) on
the pair features, with plain MSE.

No published figure is given for this row here: the reference's README
lists only LDS, FDS and LDS + FDS (MSE), and the paper's table could not be
checked offline.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "ranksim", arg)
