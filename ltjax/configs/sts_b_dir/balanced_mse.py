r"""STS-B-DIR, balanced_mse.

  python -m experiments.main --config=sts_b_dir/balanced_mse \
      --workdir=/tmp/ltjax/sts_b_dir/balanced_mse \
      --config.data.path=/data/sts_b_dir

Balanced MSE (BMC, Ren et al. 2022, arXiv 2203.16427) with a learned
noise sigma (initial 1.0 in score units).

No published figure is given for this row here: the reference's README
lists only LDS, FDS and LDS + FDS (MSE), and the paper's table could not be
checked offline.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "balanced_mse", arg)
