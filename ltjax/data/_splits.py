"""The hold-out rules of both tasks and fingerprints of index sets.

Every rule goes label by label (a class, a regression target value or bin),
shuffles that label's rows with one seeded generator and holds the first rows
out: `balanced_holdout` draws a class-balanced validation split for
classification (Cao et al., arXiv 1906.07413), `stratified_split` a
per-class fraction (the test split of a table), `balanced_val_test` the
balanced validation and test splits of deep imbalanced regression (Yang et
al., arXiv 2102.09554).
"""

import hashlib
from typing import Any
from typing import Iterator

import numpy as np


def _shuffled_groups(labels: np.ndarray, values: np.ndarray, rng,
                     available: np.ndarray | None = None
                    ) -> Iterator[np.ndarray]:
  """Yields, for each of `values` in order, its rows shuffled by `rng`.

  `rng.permutation` of an array shuffles a copy with the generator's
  `shuffle`, so `np.random.RandomState` draws the same numbers as an
  in-place `shuffle` would.
  """
  for value in values:
    mask = labels == value
    if available is not None:
      mask &= available
    yield rng.permutation(np.flatnonzero(mask).astype(np.int64))


def balanced_holdout(labels: np.ndarray, *, num_classes: int, per_class: int,
                     seed: int,
                     exclude: np.ndarray | None = None,
                     caps: np.ndarray | None = None) -> np.ndarray:
  """Returns up to `per_class` seeded indices of each class, none excluded.

  For each class c in label order, the indices of class c not in `exclude` are
  shuffled by one `np.random.RandomState(seed)` (a stream NumPy keeps fixed
  across versions) and the first `per_class` (at most `caps[c]`) kept; the
  caps do not change the shuffles, so an uncapped class gets the same
  examples with or without them. A class with fewer
  candidates gives all it has; compare `np.bincount` of the result with
  `per_class` to see which.

  Used for the validation split of CIFAR-LT: `exclude` is the long-tailed
  training subset, so validation images are training images the protocol
  left unused and the training set stays exactly the papers'.

  Args:
    labels: int [N] in [0, C).
    num_classes: C.
    per_class: examples wanted per class, >= 0.
    seed: seed of the generator.
    exclude: optional int [M], indices into `labels` that must not be drawn.
    caps: optional int [C], the most examples to take from each class.

  Returns:
    int64 [<= C * per_class], grouped by class in label order.
  """
  if int(per_class) != per_class or per_class < 0:
    raise ValueError(f"per_class must be an integer >= 0, got {per_class!r}.")
  labels = np.asarray(labels)
  available = np.ones(labels.shape[0], bool)
  if exclude is not None:
    available[np.asarray(exclude, np.int64)] = False
  groups = _shuffled_groups(labels, range(num_classes),
                            np.random.RandomState(seed), available)
  kept = []
  for c, idx in enumerate(groups):
    take = int(per_class) if caps is None else min(int(per_class),
                                                   max(int(caps[c]), 0))
    kept.append(idx[:take])
  return np.concatenate(kept) if kept else np.zeros((0,), np.int64)


def balanced_val_test(labels, *, per_label: int, seed: int,
                      max_fraction: float = 1 / 3
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Splits rows into train / val / test, val and test balanced per label.

  For each distinct label (in increasing order) with n rows, shuffled by one
  `np.random.default_rng(seed)`: the first m = min(per_label,
  floor(n * max_fraction)) go to validation, the next m to test, the rest to
  training (AgeDB-DIR's rule with per_label = 30, max_fraction = 1/3).

  Args:
    labels: [N] values to balance over (e.g. integer rings, or bin indices).
    per_label: the most val (and test) rows per label, >= 0.
    seed: shuffle seed.
    max_fraction: the most of a label's rows each of val and test take.

  Returns:
    (train, val, test) int64 index arrays, each sorted.

  Example:
    >>> train, val, test = balanced_val_test(rings, per_label=30, seed=0)
  """
  labels = np.asarray(labels)
  if int(per_label) != per_label or per_label < 0:
    raise ValueError(f"per_label must be an integer >= 0, got {per_label!r}.")
  if not 0 <= max_fraction <= 0.5:
    raise ValueError(f"max_fraction must be in [0, 0.5], got {max_fraction}.")
  train, val, test = [], [], []
  for rows in _shuffled_groups(labels, np.unique(labels),
                               np.random.default_rng(seed)):
    m = min(int(per_label), int(np.floor(rows.size * max_fraction + 1e-9)))
    val.append(rows[:m])
    test.append(rows[m:2 * m])
    train.append(rows[2 * m:])
  return tuple(np.sort(np.concatenate(part)).astype(np.int64)
               for part in (train, val, test))


def stratified_split(labels: np.ndarray, *, num_classes: int,
                     fraction: float, seed: int) -> np.ndarray:
  """Seeded indices of about `fraction` of each class, never all of one.

  Class c (n_c examples) gives round(fraction * n_c) examples, at most
  n_c - 1, so every class keeps one; the examples are the first of a
  per-class shuffle by one `np.random.RandomState(seed)`, in label order.
  The test split of a CSV or NumPy table without a test file.

  Args:
    labels: int [N] in [0, C).
    num_classes: C.
    fraction: in (0, 1).
    seed: seed of the shuffles.

  Returns:
    int64 [M], sorted.
  """
  chosen = []
  for idx in _shuffled_groups(np.asarray(labels), range(num_classes),
                              np.random.RandomState(seed)):
    take = min(int(round(fraction * idx.size)), max(idx.size - 1, 0))
    chosen.append(idx[:take])
  return np.sort(np.concatenate(chosen)).astype(np.int64)


def index_digest(indices: np.ndarray) -> str:
  """Returns a short sha256 (16 hex digits) of an index array, in order.

  The indices are hashed as little-endian int64, so the digest depends only on
  their values and order, never on the platform or the array's dtype. Both
  tasks record their splits with it (`metadata["digests"]` of a regression
  dataset, `train_indices_sha256` of a long-tailed one).
  """
  data = np.ascontiguousarray(np.asarray(indices, dtype="<i8")).tobytes()
  return hashlib.sha256(data).hexdigest()[:16]


def file_digest(path: str) -> str:
  """Returns a short sha256 (16 hex digits) of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()[:16]


def split_digest(split) -> str:
  """Returns a short sha256 (16 hex digits) of a split's content.

  In-memory splits hash their inputs and targets (dtype, shape and bytes);
  splits of image files hash the listed paths as given (relative to their
  root: the same files under another root give the same digest), the
  targets and the decoded size; token ids also hash their vocabulary's
  tokens (the same ids of other words are other data). So the same data read
  from another path or copy has the same digest, and any changed row, label
  or file list does not. `ltjax.train` saves the digests of a run's splits in its workdir and
  refuses to resume it on other data.
  """
  digest = hashlib.sha256()

  def add(array):
    array = np.ascontiguousarray(np.asarray(array))
    digest.update(str((array.dtype.str, array.shape)).encode())
    digest.update(array.tobytes())

  paths = getattr(split, "paths", None)
  if paths is not None:
    digest.update("\n".join(paths).encode())
    digest.update(str(getattr(split, "image_size", "")).encode())
  else:
    add(getattr(split, getattr(split, "_INPUTS", "inputs")))
  vocabulary = getattr(split, "vocabulary", None)
  if vocabulary is not None:
    digest.update(repr((vocabulary.kind, vocabulary.tokens)).encode())
  add(split.targets)
  return digest.hexdigest()[:16]


def dataset_digests(dataset) -> dict[str, dict[str, Any]]:
  """{split: {"digest", "size"}} of a dataset's train / val / test splits."""
  out = {}
  for name in ("train", "val", "test"):
    split = getattr(dataset, name, None)
    if split is not None:
      out[name] = {"digest": split_digest(split), "size": len(split)}
  return out
