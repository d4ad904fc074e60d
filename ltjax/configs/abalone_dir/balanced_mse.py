r"""Abalone-DIR, balanced_mse.

  python -m experiments.main --config=abalone_dir/balanced_mse \
      --workdir=/tmp/ltjax/abalone_dir/balanced_mse \
      --config.data.path=/path/to/abalone.data

Balanced MSE, batch Monte-Carlo form (Ren et al. 2022, arXiv 2203.16427),
learnable sigma initialised to 1.0 (Adam, lr 1e-2).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "balanced_mse", arg)
