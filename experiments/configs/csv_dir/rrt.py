r"""Your CSV table, rrt: regressor re-training; the encoder is trained with
plain L1, then frozen, and the final regressor re-initialised and re-trained on
its features with sqrt-inverse LDS weights (RRT + LDS).

A regression task from one CSV file: features (numeric; text columns
one-hot) and a target column named by header or 0-based index. Seeded
random 80 / 10 / 10 split (`--config.data.split=balanced` for the DIR
protocol's balanced val / test), bins from the training targets, targets
standardised for training (metrics and predictions.npz in the original
units), shot groups by count quantiles; MLP (128, 128), Adam 1e-3, batch
64, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/csv_dir/rrt.py \
      --workdir=/tmp/ltjax/csv_dir/rrt \
      --config.data.name=csv --config.data.path=/path/to/table.csv \
      --config.data.target=price

Other data fields: missing (the missing-value marker, e.g. "?"),
categorical, header, delimiter, drop_nonfinite, val_fraction, test_fraction,
split_seed, standardize_targets (see ltjax.regression.load_csv).

Append `:EPOCHS` to the config path for a shorter run with the
learning-rate decays scaled (e.g. `rrt.py:30`). Data paths come only from
`config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("csv_dir", "rrt", arg)
