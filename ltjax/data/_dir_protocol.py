"""The DIR protocol: train / val / test rows of a regression table.

Deep imbalanced regression (Yang et al., arXiv 2102.09554) keeps the
training split imbalanced and balances validation and test over the target:
`balanced_val_test` gives each target value (or bin) min(per_label, n // 3)
rows of each. A table without its own splits (abalone, a CSV or NumPy file)
is cut here; its numeric features are standardised with the training rows'
mean and std, and its metadata records the split's sizes and digests.
"""

from typing import Any

import numpy as np

from ltjax.data import _bins
from ltjax.data import _splits
from ltjax.data import _types

SPLITS = ("random", "balanced")


def _bin_strata(targets: np.ndarray) -> np.ndarray:
  """The default regression bin of each target (`data_bin_edges`)."""
  edges, _ = _bins.data_bin_edges(targets)
  return np.asarray(_bins.bin_index(targets, edges))


def split_rows(targets: np.ndarray, *, split: str, val_fraction: float,
               test_fraction: float, val_per_label: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Train / val / test row indices of a table (one seeded generator).

  * "random": a uniform random `val_fraction` / `test_fraction` of the rows
    for validation / test, the rest for training (val and test follow the
    table's own, imbalanced, target distribution).
  * "balanced": the DIR protocol: the targets are cut into the default bins
    of the whole table (`ltjax.regression.data_bin_edges`: one per value
    for integer targets over <= 200 values, else ceil(sqrt(N)) in [10, 100]
    equal bins) and each bin with n rows gives min(val_per_label, n // 3)
    rows to validation and as many to test (`balanced_val_test`).

  Args:
    targets: float [N].
    split: "random" or "balanced".
    val_fraction, test_fraction: "random": the fractions of the rows.
    val_per_label: "balanced": the most val (and test) rows per bin.
    seed: seed of the split.

  Returns:
    (train, val, test) sorted int64 row indices.
  """
  n = targets.shape[0]
  if split == "random":
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    n_test = int(round(test_fraction * n))
    parts = (order[n_val + n_test:], order[:n_val],
             order[n_val:n_val + n_test])
    return tuple(np.sort(p).astype(np.int64) for p in parts)
  return _splits.balanced_val_test(_bin_strata(targets),
                                   per_label=val_per_label, seed=seed)


def standardize(features: np.ndarray, train: np.ndarray, numeric: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Standardises the `numeric` columns with the training rows' statistics.

  Args:
    features: float64 [N, D].
    train: int [n] training rows.
    numeric: bool [D], the columns to standardise (others keep their 0 / 1).

  Returns:
    (inputs [N, D], mean [D] (0 for other columns), std [D] (1 for other
    columns and for a constant column)).
  """
  mean = np.where(numeric, features[train].mean(axis=0), 0.0)
  std = features[train].std(axis=0)
  std = np.where(numeric & (std > 0), std, 1.0)
  return (features - mean) / std, mean, std


def split_record(train: np.ndarray, val: np.ndarray,
                 test: np.ndarray) -> dict[str, Any]:
  """The sizes and `index_digest`s of a split, for the metadata."""
  parts = {"train": train, "val": val, "test": test}
  return {"sizes": {k: int(v.size) for k, v in parts.items()},
          "digests": {k: _splits.index_digest(v) for k, v in parts.items()}}


def table_splits(inputs: np.ndarray, targets: np.ndarray,
                 lines: np.ndarray | None, rows: tuple[np.ndarray, ...]
                ) -> tuple[_types.RegressionSplit, ...]:
  """The `RegressionSplit` of each index array in `rows`."""
  return tuple(
      _types.RegressionSplit(inputs=inputs[r], targets=targets[r],
                             source_lines=None if lines is None else lines[r])
      for r in rows)
