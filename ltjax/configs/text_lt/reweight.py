r"""Long-tailed texts (Rotten Tomatoes; IMDB, your CSV), reweight.

  python -m experiments.main --config=text_lt/reweight \
      --workdir=/tmp/ltjax/text_lt/reweight \
      --config.data.path=/path/to/rotten_tomatoes_corpus_full.csv.bz2

Cross-entropy with inverse class-frequency weights for the
whole schedule (LDAM-DRW's RW).
A 2-layer BiLSTM trained with Adam on the fresh and rotten reviews, 10 % of
the rotten training reviews kept (`text_lt/__init__.py`).

Published top-1 error, re-weighting: 5.20 / 42.12 / 23.66 (positive / negative /
mean; Cao et al. 2019, Table 1, the imbalanced IMDB). Rotten
Tomatoes has no published figure.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("text_lt", "reweight", arg)
