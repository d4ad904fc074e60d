r"""IMDB-WIKI-DIR, lds_fds.

  python -m experiments.main --config=imdb_wiki_dir/lds_fds \
      --workdir=/tmp/ltjax/imdb_wiki_dir/lds_fds \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

Sqrt-inverse LDS weights and FDS together (the paper's best row).

No published figure for this row in the paper; compare with its Table 2.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "lds_fds", arg)
