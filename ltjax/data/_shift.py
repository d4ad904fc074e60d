"""Test sets with a shifted label distribution, sub-sampled from a balanced one.

SADE's test-agnostic protocol (Zhang et al., arXiv 2107.09249; official
code `test_training_cifar.py`, `data_loader/imbalance_cifar.py`): from the
balanced test set with n examples per class, keep for class c = 0 .. C-1

  forward-LT,  ratio r:  n_c = int(n * (1 / r) ** (c / (C - 1)))
  backward-LT, ratio r:  n_c = int(n * (1 / r) ** ((C - 1 - c) / (C - 1)))
  uniform:               n_c = n

so forward-LT follows the training set's long tail (class 0 keeps the most,
as in `long_tail_counts`) and backward-LT reverses it (class C-1 keeps the
most); `int` truncates, as the original. The examples kept are, for each
class in label order, the first n_c of its indices after a shuffle by one
`np.random.RandomState(seed)` (`make_long_tailed`): with `seed=0` this is
the original's `np.random.seed(0)` subset of the CIFAR test set. SADE
evaluates r in {50, 25, 10, 5, 2} both ways and the uniform set
(`SHIFT_PROTOCOL`).

The LDAM paper's known-imbalanced test set (Cao et al., arXiv 1906.07413,
Sec. 4.2: test imbalanced like the training set) is kind "train":
n_c = int(n * m_c / max(m)) for the training counts m, the training prior
scaled so its head class keeps n.

Differences from the original: n is the smallest class count of the given
test labels (the original's len(test) / C, the same for a balanced test
set); a class may keep 0 examples when n / r < 1 (a tiny test set), where
the original's sets never do.
"""

import math

import numpy as np

from ltjax.data import _profiles

SHIFT_KINDS = ("forward", "backward", "uniform", "train")

# SADE's test distributions, in the order of its tables:
# (name, kind, ratio).
SHIFT_PROTOCOL = (
    ("forward50", "forward", 50.0),
    ("forward25", "forward", 25.0),
    ("forward10", "forward", 10.0),
    ("forward5", "forward", 5.0),
    ("forward2", "forward", 2.0),
    ("uniform", "uniform", 1.0),
    ("backward2", "backward", 2.0),
    ("backward5", "backward", 5.0),
    ("backward10", "backward", 10.0),
    ("backward25", "backward", 25.0),
    ("backward50", "backward", 50.0),
)


def _check_kind_ratio(kind, ratio, train_class_counts):
  """Validates (kind, ratio); returns the ratio as a float."""
  if kind not in SHIFT_KINDS:
    raise ValueError(
        f"kind must be one of {SHIFT_KINDS}, got {kind!r}.")
  if kind in ("forward", "backward"):
    if ratio is None or isinstance(ratio, bool) or not isinstance(
        ratio, (int, float, np.integer, np.floating)) or not math.isfinite(
            ratio) or ratio < 1.0:
      raise ValueError(
          f"ratio (n_max / n_min of the shifted test set) must be a finite "
          f"number >= 1 for kind={kind!r}, got {ratio!r}; SADE uses 2, 5, "
          f"10, 25, 50.")
    return float(ratio)
  if ratio not in (None, 1, 1.0):
    raise ValueError(
        f"ratio must be None (or 1) for kind={kind!r}, got {ratio!r}: the "
        f"{'training prior' if kind == 'train' else 'uniform set'} has no "
        f"ratio; use kind='forward' or 'backward' for a ratio.")
  if kind == "train" and train_class_counts is None:
    raise ValueError(
        "kind='train' needs train_class_counts (int [C], the training set's "
        "class counts), e.g. dataset.train_class_counts.")
  return 1.0


def shifted_class_weights(num_classes: int, *, kind: str,
                          ratio: float | None = None,
                          train_class_counts=None) -> np.ndarray:
  """Returns the relative class frequencies of a shifted test set, max 1.

  forward: (1 / r) ** (c / (C - 1)); backward: (1 / r) ** ((C - 1 - c) /
  (C - 1)); uniform: 1; train: m_c / max(m). Divided by their sum they are
  the shifted set's (unrounded) label prior, e.g. the `target_priors` of
  `ltjax.posthoc.adjust_logits`.

  Args:
    num_classes: C >= 1.
    kind: "forward", "backward", "uniform" or "train".
    ratio: r >= 1 for "forward" / "backward"; None for the others.
    train_class_counts: int [C], the training counts, for "train".

  Returns:
    float64 [C] in (0, 1].
  """
  ratio = _check_kind_ratio(kind, ratio, train_class_counts)
  if int(num_classes) != num_classes or num_classes < 1:
    raise ValueError(
        f"num_classes must be an integer >= 1, got {num_classes!r}.")
  num_classes = int(num_classes)
  if kind == "train":
    counts = np.asarray(train_class_counts)
    if counts.shape != (num_classes,) or not np.all(counts > 0):
      raise ValueError(
          f"train_class_counts must be {num_classes} positive counts (one "
          f"per class), got shape {counts.shape} and values "
          f"{counts.tolist()[:10]}.")
    return counts.astype(np.float64) / float(counts.max())
  if kind == "uniform":
    return np.ones(num_classes)
  factor = 1.0 / ratio
  denominator = max(num_classes - 1.0, 1.0)
  ranks = np.arange(num_classes)
  if kind == "backward":
    ranks = ranks[::-1]
  # The original's arithmetic: img_max * (imb_factor ** (i / (C - 1.0))).
  return np.asarray([factor**(i / denominator) for i in ranks])


def shifted_class_counts(per_class: int, num_classes: int, *, kind: str,
                         ratio: float | None = None,
                         train_class_counts=None) -> np.ndarray:
  """Returns the per-class counts of a shifted test set.

  n_c = int(per_class * w_c) with w = `shifted_class_weights(...)`:
  forward-LT int(n (1/r)^(c/(C-1))) (class 0 the most), backward-LT the
  reverse, uniform n, train int(n m_c / max(m)). `int` truncates, as SADE's
  `get_img_num_per_cls`.

  Args:
    per_class: n, examples per class of the balanced test set, >= 1.
    num_classes: C >= 1.
    kind: "forward", "backward", "uniform" or "train".
    ratio: r >= 1 for "forward" / "backward"; None for the others.
    train_class_counts: int [C], the training counts, for "train".

  Returns:
    int64 [C] in [0, per_class].

  Example:
    >>> shifted_class_counts(100, 100, kind="forward", ratio=50)[[0, 99]]
    array([100,   2])
  """
  if isinstance(per_class, bool) or int(per_class) != per_class or (
      per_class < 1):
    raise ValueError(
        f"per_class (examples per class of the balanced test set) must be an "
        f"integer >= 1, got {per_class!r}.")
  weights = shifted_class_weights(num_classes, kind=kind, ratio=ratio,
                                  train_class_counts=train_class_counts)
  return np.asarray([int(int(per_class) * w) for w in weights], np.int64)


def shifted_test_indices(labels, *, kind: str, ratio: float | None = None,
                         seed: int = 0, train_class_counts=None,
                         num_classes: int | None = None) -> np.ndarray:
  """Returns the indices of a seeded shifted sub-sample of a test set.

  n = the smallest class count of `labels` (the balanced test set's per-class
  count); the counts are `shifted_class_counts(n, C, ...)` and the indices,
  for each class in label order, the first n_c of its indices after a
  shuffle by `np.random.RandomState(seed)` (`make_long_tailed`; SADE's
  subset with seed 0). The same seed gives the same indices on every
  machine.

  Args:
    labels: int [N] in [0, C), the (balanced) test labels.
    kind: "forward", "backward", "uniform" or "train".
    ratio: r >= 1 for "forward" / "backward"; None for the others.
    seed: seed of the sub-sample.
    train_class_counts: int [C], the training counts, for "train" (also
      fixes C).
    num_classes: C (default: len(train_class_counts), else max(labels) + 1).

  Returns:
    int64 [sum(n_c)] indices into `labels`, grouped by class.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(
      labels.dtype, np.integer):
    raise ValueError(
        f"labels must be a non-empty 1-D integer array, got dtype "
        f"{labels.dtype} and shape {labels.shape}.")
  if num_classes is None:
    num_classes = (len(train_class_counts) if train_class_counts is not None
                   else int(labels.max()) + 1)
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(
        f"labels must lie in [0, {num_classes}), got values in "
        f"[{labels.min()}, {labels.max()}].")
  per_class = int(np.bincount(labels, minlength=num_classes).min())
  if per_class < 1:
    missing = np.flatnonzero(np.bincount(labels, minlength=num_classes) == 0)
    raise ValueError(
        f"labels have no example of class(es) {missing.tolist()[:10]}: a "
        f"shifted test set is sub-sampled from a test set with every class.")
  counts = shifted_class_counts(per_class, num_classes, kind=kind,
                                ratio=ratio,
                                train_class_counts=train_class_counts)
  return _profiles.make_long_tailed(labels, counts, seed=seed)
