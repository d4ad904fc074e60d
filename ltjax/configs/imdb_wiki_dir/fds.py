r"""IMDB-WIKI-DIR, fds.

  python -m experiments.main --config=imdb_wiki_dir/fds \
      --workdir=/tmp/ltjax/imdb_wiki_dir/fds \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

L1 with feature distribution smoothing (gaussian, ks = 5, sigma = 2, momentum
0.9, statistics from epoch 0, calibration from epoch 1).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "fds", arg)
