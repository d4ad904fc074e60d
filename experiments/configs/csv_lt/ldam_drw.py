r"""Your CSV table, ldam_drw: LDAM loss (normalised head) with deferred re-weighting.

MLP on the table's features (see experiments/configs/csv_lt/__init__.py):

  python -m experiments.main \
      --config=experiments/configs/csv_lt/ldam_drw.py \
      --workdir=/tmp/ltjax/csv_lt/ldam_drw \
      --config.data.path=/path/to/table.csv --config.data.target=label

No published figure: your data. Without --config.data.test_path, a seeded
20 % of each class is the test split (test_fraction, split_seed); validation
is val_per_class rows of each class held out of training. Other data fields:
missing (e.g. "?"), categorical, header, delimiter, drop_nonfinite,
val_path, imbalance_profile (README, "Your own data").

Append `:EPOCHS` to the config path for a shorter run with the whole
schedule scaled (e.g. `ldam_drw.py:10`).
"""

from experiments.configs import csv_lt


def get_config(arg=None):
  return csv_lt.build("ldam_drw", arg)
