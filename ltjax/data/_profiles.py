"""Long-tailed class counts and the seeded subset that realises them.

This is the protocol of Cao et al. (LDAM-DRW), used by nearly every CIFAR-LT
paper: class i of C keeps

  exp:  n_i = int(n_max * rho^(-i / (C - 1)))
  step: n_i = n_max for the first C // 2 classes, int(n_max / rho) after,

and the images kept are, for each class in label order, the first n_i of that
class's indices after a shuffle by one seeded generator. With
`np.random.RandomState(seed)` (the legacy generator behind `np.random.seed`,
whose stream NumPy keeps fixed across versions and machines), `seed=0`
reproduces the original `IMBALANCECIFAR10` subset exactly.

References:
  Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
  Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
"""

import math

import numpy as np

PROFILES = ("exp", "step")


def _check_ratio(ratio: float) -> float:
  if isinstance(ratio, bool) or not isinstance(
      ratio, (int, float, np.integer, np.floating)):
    raise ValueError(
        f"ratio (the imbalance ratio n_max / n_min) must be a number, got "
        f"{ratio!r}.")
  ratio = float(ratio)
  if not math.isfinite(ratio) or ratio < 1.0:
    raise ValueError(
        f"ratio (the imbalance ratio n_max / n_min) must be finite and >= 1, "
        f"got {ratio}; use 1 for a balanced set, 100 for the usual CIFAR-LT.")
  return ratio


def long_tail_counts(n_max: int, num_classes: int, *, ratio: float,
                     profile: str = "exp") -> np.ndarray:
  """Returns the per-class training counts of a long-tailed profile.

  `exp`: n_i = int(n_max * ratio^(-i / (C - 1))), i = 0..C-1, so class 0 (the
  head) keeps n_max and class C-1 keeps int(n_max / ratio). `step`: the first
  C // 2 classes keep n_max, the others int(n_max / ratio). The arithmetic
  follows the original code (`n_max * (1 / ratio) ** (i / (C - 1.0))`), so
  counts agree with it to the last example.

  Args:
    n_max: examples of the head class, >= 1.
    num_classes: C >= 1.
    ratio: imbalance ratio n_max / n_min, >= 1 (1 gives a balanced set).
    profile: "exp" or "step".

  Returns:
    int64 [C], every entry >= 1.

  Example:
    >>> long_tail_counts(5000, 10, ratio=100)  # 12,406 in all
    array([5000, 2997, 1796, 1077,  645,  387,  232,  139,   83,   50])

  References:
    Cao et al., NeurIPS 2019 (arXiv 1906.07413).
  """
  if profile not in PROFILES:
    raise ValueError(
        f"profile must be one of {PROFILES}, got {profile!r}.")
  ratio = _check_ratio(ratio)
  if int(n_max) != n_max or n_max < 1:
    raise ValueError(f"n_max must be an integer >= 1, got {n_max!r}.")
  if int(num_classes) != num_classes or num_classes < 1:
    raise ValueError(
        f"num_classes must be an integer >= 1, got {num_classes!r}.")
  n_max, num_classes = int(n_max), int(num_classes)
  factor = 1.0 / ratio
  if profile == "exp":
    denominator = max(num_classes - 1.0, 1.0)
    counts = [int(n_max * factor**(i / denominator))
              for i in range(num_classes)]
  else:
    head = num_classes // 2
    counts = [n_max] * head + [int(n_max * factor)] * (num_classes - head)
  counts = np.asarray(counts, np.int64)
  if counts.min() < 1:
    raise ValueError(
        f"ratio={ratio} with n_max={n_max} leaves class "
        f"{int(np.argmin(counts))} with no examples; use a ratio <= {n_max}.")
  return counts


def make_long_tailed(labels: np.ndarray, counts: np.ndarray, *,
                     seed: int) -> np.ndarray:
  """Returns the indices of a seeded subset with `counts[c]` examples of c.

  For each class c in label order, the indices of class c are shuffled by one
  `np.random.RandomState(seed)` and the first `counts[c]` kept: the algorithm
  of the original LDAM-DRW code, whose `np.random.seed(0)` makes `seed=0`
  reproduce its subset. The stream of `RandomState` is frozen by NumPy, so the
  same seed gives the same subset on every machine and NumPy version.

  Args:
    labels: int [N] in [0, C), the full (balanced) training labels.
    counts: int [C], examples to keep per class (e.g. `long_tail_counts`).
    seed: seed of the generator.

  Returns:
    int64 [sum(counts)], indices into `labels`, grouped by class in label order
    (within a class, in shuffled order).

  Example:
    >>> idx = make_long_tailed(labels, long_tail_counts(5000, 10, ratio=100),
    ...                        seed=0)  # 12,406 CIFAR-10 indices
  """
  labels = np.asarray(labels)
  counts = np.asarray(counts)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
        f"labels must be a 1-D integer array, got dtype {labels.dtype} and "
        f"shape {labels.shape}.")
  if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer):
    raise ValueError(
        f"counts must be a 1-D integer array [C], got dtype {counts.dtype} "
        f"and shape {counts.shape}.")
  if counts.size and counts.min() < 0:
    raise ValueError(f"counts must be >= 0, got {counts.tolist()}.")
  num_classes = counts.shape[0]
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(
        f"labels must lie in [0, {num_classes}) for {num_classes} counts, got "
        f"values in [{labels.min()}, {labels.max()}].")
  rng = np.random.RandomState(seed)
  kept = []
  for c in range(num_classes):
    idx = np.flatnonzero(labels == c).astype(np.int64)
    if counts[c] > idx.size:
      raise ValueError(
          f"class {c} needs {counts[c]} examples but only {idx.size} are "
          f"available; lower n_max (or the count) to at most {idx.size}.")
    rng.shuffle(idx)
    kept.append(idx[:counts[c]])
  return np.concatenate(kept) if kept else np.zeros((0,), np.int64)
