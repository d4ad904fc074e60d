r"""Long-tailed texts (Rotten Tomatoes; IMDB, your CSV), resample.

  python -m experiments.main --config=text_lt/resample \
      --workdir=/tmp/ltjax/text_lt/resample \
      --config.data.path=/path/to/rotten_tomatoes_corpus_full.csv.bz2

Cross-entropy with class-balanced re-sampling for the whole
schedule (LDAM-DRW's RS).
A 2-layer BiLSTM trained with Adam on the fresh and rotten reviews, 10 % of
the rotten training reviews kept (`text_lt/__init__.py`).

Published top-1 error, re-sampling: 7.12 / 45.88 / 26.50 (positive / negative /
mean; Cao et al. 2019, Table 1, the imbalanced IMDB). Rotten
Tomatoes has no published figure.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("text_lt", "resample", arg)
