"""Long-tailed text classification (`text_lt`): LDAM-DRW's text protocol.

The imbalanced-IMDB experiment of Cao et al. (arXiv 1906.07413, Table 1): a
2-layer bidirectional LSTM (`ltjax.text.BiLSTMClassifier`, model "bilstm")
trained with Adam, the minority class's training texts cut to 10 %
(`data.keep_fraction`), balanced validation and test splits. The default
data is the Rotten Tomatoes reviews (`data.name = "rotten_tomatoes"`, the
file rotten_tomatoes_corpus_full.csv.bz2: fresh and rotten reviews, 10 % of
the rotten training reviews kept, a seeded class-balanced test split of
floor(0.2 x the smaller class) reviews per class, 200 per class held out for
validation); `--config.data.name=imdb --config.data.path=aclImdb` (and the
fields it names) for IMDB, `text_csv` for your own file (README, "Your own
text"). `build(method, arg)` is `ltjax.recipes.build("text_lt", method,
arg)`: any classification method that neither mixes nor augments inputs.

Batch 64, lr 1e-3 without weight decay, 10 epochs, x0.1 at 8 (the DRW / DRS
switch). Append `:EPOCHS` to the config for a shorter run with the whole
schedule scaled (e.g. `--config=text_lt/ldam_drw:2`).
"""

import ml_collections

from ltjax import recipes


def build(method: str,
          arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on texts; `arg` = epochs of a short run."""
  return recipes.build("text_lt", method, arg)
