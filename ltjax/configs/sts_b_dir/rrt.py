r"""STS-B-DIR, rrt.

  python -m experiments.main --config=sts_b_dir/rrt \
      --workdir=/tmp/ltjax/sts_b_dir/rrt \
      --config.data.path=/data/sts_b_dir

The encoder trained with plain MSE, then the regressor re-trained with
inverse LDS weights (RRT + LDS).

No published figure is given for this row here: the reference's README
lists only LDS, FDS and LDS + FDS (MSE), and the paper's table could not be
checked offline.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "rrt", arg)
