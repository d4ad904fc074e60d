"""Seeded class-balanced hold-out splits and fingerprints of index sets."""

import hashlib

import numpy as np


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
  rng = np.random.RandomState(seed)
  kept = []
  for c in range(num_classes):
    idx = np.flatnonzero((labels == c) & available).astype(np.int64)
    rng.shuffle(idx)
    take = int(per_class) if caps is None else min(int(per_class),
                                                   max(int(caps[c]), 0))
    kept.append(idx[:take])
  return np.concatenate(kept) if kept else np.zeros((0,), np.int64)


def index_digest(indices: np.ndarray) -> str:
  """Returns a short sha256 (16 hex digits) of an index array, in order.

  The indices are hashed as little-endian int64, so the digest depends only on
  their values and order, never on the platform or the array's dtype.
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
