r"""IMDB-WIKI-DIR, sqrt_inv.

  python -m experiments.main --config=imdb_wiki_dir/sqrt_inv \
      --workdir=/tmp/ltjax/imdb_wiki_dir/sqrt_inv \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

L1 weighted by the inverse square root of the label counts per bin (no
smoothing).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "sqrt_inv", arg)
