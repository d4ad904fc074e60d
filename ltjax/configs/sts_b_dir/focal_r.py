r"""STS-B-DIR, focal_r.

  python -m experiments.main --config=sts_b_dir/focal_r \
      --workdir=/tmp/ltjax/sts_b_dir/focal_r \
      --config.data.path=/data/sts_b_dir

Focal-R on the squared error (the reference's `--loss focal_mse`:
sigmoid, beta 0.2, gamma 1).

No published figure is given for this row here: the reference's README
lists only LDS, FDS and LDS + FDS (MSE), and the paper's table could not be
checked offline.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "focal_r", arg)
