r"""IMDB-WIKI-DIR, balanced_mse.

  python -m experiments.main --config=imdb_wiki_dir/balanced_mse \
      --workdir=/tmp/ltjax/imdb_wiki_dir/balanced_mse \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

Balanced MSE, batch Monte-Carlo form (Ren et al. 2022, arXiv 2203.16427),
learnable sigma initialised to 1.0 (Adam, lr 1e-2).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "balanced_mse", arg)
