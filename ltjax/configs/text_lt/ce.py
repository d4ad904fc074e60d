r"""Long-tailed texts (Rotten Tomatoes; IMDB, your CSV), ce.

  python -m experiments.main --config=text_lt/ce \
      --workdir=/tmp/ltjax/text_lt/ce \
      --config.data.path=/path/to/rotten_tomatoes_corpus_full.csv.bz2

Cross-entropy (ERM) with instance-balanced sampling.
A 2-layer BiLSTM trained with Adam on the fresh and rotten reviews, 10 % of
the rotten training reviews kept (`text_lt/__init__.py`).

Published top-1 error, ERM: 2.86 / 70.78 / 36.82 (positive / negative /
mean; Cao et al. 2019, Table 1, the imbalanced IMDB). Rotten
Tomatoes has no published figure.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("text_lt", "ce", arg)
