r"""IMDB-WIKI-DIR, rrt.

  python -m experiments.main --config=imdb_wiki_dir/rrt \
      --workdir=/tmp/ltjax/imdb_wiki_dir/rrt \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

Regressor re-training: the encoder is trained with plain L1 and frozen, then
the regressor is re-initialised and re-trained on its features with
sqrt-inverse LDS weights (RRT + LDS).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "rrt", arg)
