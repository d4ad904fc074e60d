r"""IMDB-WIKI-DIR, focal_r.

  python -m experiments.main --config=imdb_wiki_dir/focal_r \
      --workdir=/tmp/ltjax/imdb_wiki_dir/focal_r \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

The focal-R L1 loss (sigmoid, beta = 0.2, gamma = 1).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "focal_r", arg)
