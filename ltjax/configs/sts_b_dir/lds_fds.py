r"""STS-B-DIR, lds_fds.

  python -m experiments.main --config=sts_b_dir/lds_fds \
      --workdir=/tmp/ltjax/sts_b_dir/lds_fds \
      --config.data.path=/data/sts_b_dir

LDS (inverse) and FDS together.

Published MSE all / many / medium / few: 0.907 / 0.802 / 1.363 / 0.942 (the
reference's README, its reproduced model, with GloVe embeddings).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "lds_fds", arg)
