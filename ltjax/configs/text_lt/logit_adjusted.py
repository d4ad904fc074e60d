r"""Long-tailed texts (Rotten Tomatoes; IMDB, your CSV), logit_adjusted.

  python -m experiments.main --config=text_lt/logit_adjusted \
      --workdir=/tmp/ltjax/text_lt/logit_adjusted \
      --config.data.path=/path/to/rotten_tomatoes_corpus_full.csv.bz2

Logit-adjusted loss (tau = 1).
A 2-layer BiLSTM trained with Adam on the fresh and rotten reviews, 10 % of
the rotten training reviews kept (`text_lt/__init__.py`).

No published figure for this loss on texts (LDAM-DRW on the imbalanced
IMDB: 4.91 / 30.77 / 17.84 top-1 error, positive / negative / mean;
Cao et al. 2019, Table 1).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("text_lt", "logit_adjusted", arg)
