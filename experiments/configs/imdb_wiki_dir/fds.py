r"""IMDB-WIKI-DIR, fds: L1 with feature distribution smoothing (gaussian, ks =
5, sigma = 2, momentum 0.9, statistics from epoch 0, calibration from epoch 1).

IMDB-WIKI-DIR (191.5K train / 11.0K val / 11.0K test), ResNet-50 from scratch,
224x224, Adam 1e-3, batch 256, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/imdb_wiki_dir/fds.py \
      --workdir=/tmp/ltjax/imdb_wiki_dir/fds \
      --config.data.path=/path/to/imdb_wiki.csv \
      --config.data.image_root=/path/to/data

No figure for this row in METHODS.md; compare with Yang et al. 2021, Table 2.

Append `:EPOCHS` to the config path for a shorter run with the learning-rate
decays scaled (e.g. `fds.py:30`). Data paths come only from `config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("imdb_wiki_dir", "fds", arg)
