r"""IMDB-WIKI-DIR, ranksim.

  python -m experiments.main --config=imdb_wiki_dir/ranksim \
      --workdir=/tmp/ltjax/imdb_wiki_dir/ranksim \
      --config.data.path=/data/imdb/wiki.csv --config.data.image_root=/data/imdb

L1 plus 100 x the RankSim regulariser (Gong et al. 2205.15236; gamma 100,
lambda 2, the official README) of the encoder features.

No published figure quoted in ltjax (Gong et al. 2022, Table 2, has it).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("imdb_wiki_dir", "ranksim", arg)
