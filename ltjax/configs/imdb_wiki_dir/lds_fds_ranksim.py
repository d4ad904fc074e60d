r"""IMDB-WIKI-DIR, lds_fds_ranksim.

  python -m experiments.main --config=imdb_wiki_dir/lds_fds_ranksim \
      --workdir=/tmp/ltjax/imdb_wiki_dir/lds_fds_ranksim \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

Sqrt-inverse LDS weights, FDS and RankSim (gamma 100, lambda 2) together,
the official README's "RankSim and LDS + FDS" method; RankSim sees the
encoder features before FDS calibration, as the official code.

No published figure quoted in ltjax (Gong et al. 2022, Table 2, has it).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "lds_fds_ranksim", arg)
