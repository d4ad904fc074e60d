r"""AgeDB-DIR, balanced_mse.

  python -m experiments.main --config=agedb_dir/balanced_mse \
      --workdir=/tmp/ltjax/agedb_dir/balanced_mse \
      --config.data.path=/data/agedb.csv --config.data.image_root=/data

Balanced MSE, batch Monte-Carlo form (Ren et al. 2022, arXiv 2203.16427),
learnable sigma initialised to 1.0 (Adam, lr 1e-2).

No published figure for this row; Table 1 of the paper brackets it.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("agedb_dir", "balanced_mse", arg)
