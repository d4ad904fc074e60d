r"""IMDB-WIKI-DIR, vanilla.

  python -m experiments.main --config=imdb_wiki_dir/vanilla \
      --workdir=/tmp/ltjax/imdb_wiki_dir/vanilla \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

Plain L1 loss, no re-weighting.

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "vanilla", arg)
