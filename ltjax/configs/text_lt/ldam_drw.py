r"""Long-tailed texts (Rotten Tomatoes; IMDB, your CSV), ldam_drw.

  python -m experiments.main --config=text_lt/ldam_drw \
      --workdir=/tmp/ltjax/text_lt/ldam_drw \
      --config.data.path=/path/to/rotten_tomatoes_corpus_full.csv.bz2

LDAM loss (normalised head, s = 30) with deferred
re-weighting (effective-number weights from epoch 8).
A 2-layer BiLSTM trained with Adam on the fresh and rotten reviews, 10 % of
the rotten training reviews kept (`text_lt/__init__.py`).

Published top-1 error, LDAM-DRW: 4.91 / 30.77 / 17.84 (positive / negative /
mean; Cao et al. 2019, Table 1, the imbalanced IMDB). Rotten
Tomatoes has no published figure.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("text_lt", "ldam_drw", arg)
