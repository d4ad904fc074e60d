"""Classification on your own CSV table of features (`data.name = "csv"`).

The `csv` data source (`ltjax.data.read_csv_table`: numeric columns as they
are, text columns one-hot, a label column named by header or index), an MLP
(256, 256) on the standardised features, SGD with momentum, batch 64, 30
epochs with the learning rate x0.1 at 24 and x0.01 at 27 (the DRW / DRS
switch at 24). `build(method, arg)` is `ltjax.recipes.build("csv_lt",
method, arg)`: any classification method of `ltjax.recipes.METHODS`.

No published figures: your data. Without --config.data.test_path, a seeded
20 % of each class is the test split (test_fraction, split_seed); validation
is val_per_class rows of each class held out of training. Other data fields:
missing (e.g. "?"), categorical, header, delimiter, encoding (default
utf-8; e.g. latin-1), drop_nonfinite, val_path, imbalance_profile (README,
"Your own data"). The label column must hold at least 2 classes.

Append `:EPOCHS` to the config for a shorter run with the whole schedule
scaled (e.g. `--config=csv_lt/ce:10`).
"""

import ml_collections

from ltjax import recipes


def build(method: str,
          arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on a CSV table; `arg` = epochs of a short run."""
  return recipes.build("csv_lt", method, arg)
