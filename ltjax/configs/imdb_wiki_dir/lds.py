r"""IMDB-WIKI-DIR, lds.

  python -m experiments.main --config=imdb_wiki_dir/lds \
      --workdir=/tmp/ltjax/imdb_wiki_dir/lds \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

L1 weighted by sqrt-inverse LDS weights (gaussian window, ks = 5, sigma = 2).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "lds", arg)
