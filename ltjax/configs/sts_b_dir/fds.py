r"""STS-B-DIR, fds.

  python -m experiments.main --config=sts_b_dir/fds \
      --workdir=/tmp/ltjax/sts_b_dir/fds \
      --config.data.path=/data/sts_b_dir

FDS on the pair features (gaussian, ks 5, sigma 2, momentum 0.9,
statistics from epoch 0, calibration from epoch 1; 50 buckets).

Published MSE all / many / medium / few: 0.916 / 0.875 / 1.027 / 1.086 (the
reference's README, its reproduced model, with GloVe embeddings).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "fds", arg)
