r"""STS-B-DIR, vanilla.

  python -m experiments.main --config=sts_b_dir/vanilla \
      --workdir=/tmp/ltjax/sts_b_dir/vanilla \
      --config.data.path=/data/sts_b_dir

Plain MSE on the raw score, instance-balanced.

No published figure is given for this row here: the reference's README
lists only LDS, FDS and LDS + FDS (MSE), and the paper's table could not be
checked offline.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "vanilla", arg)
