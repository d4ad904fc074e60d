r"""STS-B-DIR, lds.

  python -m experiments.main --config=sts_b_dir/lds \
      --workdir=/tmp/ltjax/sts_b_dir/lds \
      --config.data.path=/data/sts_b_dir

Inverse re-weighting by the LDS-smoothed label density (gaussian,
ks 5, sigma 2, over the 0.1-wide bins), as the reference's
`--reweight inverse --lds`.

Published MSE all / many / medium / few: 0.914 / 0.819 / 1.319 / 0.955 (the
reference's README, its reproduced model, with GloVe embeddings).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("sts_b_dir", "lds", arg)
