"""Regression on your own CSV table: one config per regression method.

A regression task from one CSV file: features (numeric; text columns
one-hot) and a target column named by header or 0-based index
(`--config.data.target=...`). Seeded random 80 / 10 / 10 split
(`--config.data.split=balanced` for the DIR protocol's balanced val / test),
bins from the training targets, targets standardised for training (metrics
and predictions.npz in the original units), shot groups by count quantiles;
MLP (128, 128), Adam 1e-3, batch 64, 90 epochs, x0.1 at 60 and 80. No
published figures: your data.

Other data fields: missing (the missing-value marker, e.g. "?"),
categorical, header, delimiter, encoding (default utf-8; e.g. latin-1),
drop_nonfinite, val_fraction, test_fraction, split_seed,
standardize_targets (see ltjax.regression.load_csv). Targets with outliers:
`--config.bins.rule=range` (equal width without the outliers, which go to
the end bins) or `quantile` (equal-count bins) instead of equal-width bins
over [min, max] (`width`, which warns when one bin holds > 90 % of the
targets); explicit edges: `--config.bins.rule=0,1,5,25`. Data paths
come only from `config.data`. Append `:EPOCHS` to the config for a shorter
run with the schedule scaled (e.g. `--config=csv_dir/lds:30`).
"""
