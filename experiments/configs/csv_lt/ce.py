r"""Your CSV table, ce: cross-entropy (ERM) with instance-balanced sampling.

MLP on the table's features (see experiments/configs/csv_lt/__init__.py):

  python -m experiments.main \
      --config=experiments/configs/csv_lt/ce.py \
      --workdir=/tmp/ltjax/csv_lt/ce \
      --config.data.path=/path/to/table.csv --config.data.target=label

No published figure: your data. Without --config.data.test_path, a seeded
20 % of each class is the test split (test_fraction, split_seed); validation
is val_per_class rows of each class held out of training. Other data fields:
missing (e.g. "?"), categorical, header, delimiter, drop_nonfinite,
val_path, imbalance_profile (README, "Your own data").

Append `:EPOCHS` to the config path for a shorter run with the whole
schedule scaled (e.g. `ce.py:10`).
"""

from experiments.configs import csv_lt


def get_config(arg=None):
  return csv_lt.build("ce", arg)
