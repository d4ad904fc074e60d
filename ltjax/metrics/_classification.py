"""Mergeable classification counts and the long-tail metrics derived from them.

`ClassificationCounts` is a pytree of sums: build one per batch inside a jitted
eval step, add them across batches (`a + b`), and across devices either by
computing on globally sharded arrays under `jax.jit` (the sums come out global)
or with `jax.lax.psum(counts, axis_name)` inside `shard_map`. Every metric is a
pure function of the merged counts (and, for shot groups, the training class
counts), so nothing depends on how the test set was batched.

Shot groups follow the long-tail literature: many-shot classes have more than
`many` (100) training examples, few-shot fewer than `few` (20), medium-shot the
rest. A group's accuracy is the unweighted mean of its classes' accuracies; a
group with no classes (or no evaluated classes) is NaN, never an error.

Rows that cannot be scored are counted, never scored: a row with any
non-finite logit (a diverged model) and a row whose label lies outside
[0, C) (only possible for labels traced under `jax.jit`; concrete labels
raise a `ValueError`) add to `nonfinite` / `out_of_range` and to no class or
bin. While either count is positive every metric (accuracy, per-class and
shot-group accuracy, ECE) is NaN, so a broken model or label never yields a
plausible number.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v

SHOT_GROUPS = ("many", "medium", "few")


@flax.struct.dataclass
class ClassificationCounts:
  """Per-class and per-confidence-bin sums; merge with `+`.

  Attributes:
    correct: int [C], correctly classified evaluated examples per true class.
    total: int [C], evaluated examples per true class.
    bin_correct: int [M], correct predictions per confidence bin.
    bin_total: int [M], predictions per confidence bin.
    bin_confidence: float [M], summed top-1 confidence per confidence bin.
    nonfinite: int [], evaluated rows with a NaN or infinite logit (counted
      nowhere else).
    out_of_range: int [], evaluated rows whose label is outside [0, C)
      (counted nowhere else).
  """
  correct: jax.Array
  total: jax.Array
  bin_correct: jax.Array
  bin_total: jax.Array
  bin_confidence: jax.Array
  nonfinite: jax.Array
  out_of_range: jax.Array

  @property
  def num_classes(self) -> int:
    return self.correct.shape[-1]

  @classmethod
  def empty(cls, num_classes: int, *,
            num_bins: int = 15) -> "ClassificationCounts":
    """All-zero counts for `num_classes` classes and `num_bins` ECE bins."""
    if num_classes < 1 or num_bins < 1:
      raise ValueError(
          f"num_classes and num_bins must be >= 1, got {num_classes} and "
          f"{num_bins}.")
    zeros_c = jnp.zeros((num_classes,), jnp.int32)
    zeros_m = jnp.zeros((num_bins,), jnp.int32)
    zero = jnp.zeros((), jnp.int32)
    return cls(correct=zeros_c, total=zeros_c, bin_correct=zeros_m,
               bin_total=zeros_m,
               bin_confidence=jnp.zeros((num_bins,), jnp.float32),
               nonfinite=zero, out_of_range=zero)

  @classmethod
  def from_logits(cls, logits: jax.typing.ArrayLike,
                  labels: jax.typing.ArrayLike, *,
                  mask: jax.typing.ArrayLike | None = None,
                  num_bins: int = 15) -> "ClassificationCounts":
    """Counts one batch; jittable.

    Args:
      logits: float [B, C]; the prediction is the argmax and the confidence
        the top softmax probability, so pass the logits on the scale the
        loss sees them (e.g. s * cos for a cosine head) for a meaningful ECE.
        A row with a non-finite entry is counted in `nonfinite` only.
      labels: int [B] in [0, C). Concrete labels outside raise a
        `ValueError`; traced ones are counted in `out_of_range` only.
      mask: optional bool [B]; False rows (padding of the last eval batch) are
        not counted.
      num_bins: equal-width confidence bins over [0, 1] for calibration.

    Returns:
      The batch's counts.
    """
    logits = v.check_logits(logits)
    labels = v.check_labels(labels, logits)
    if num_bins < 1:
      raise ValueError(f"num_bins must be >= 1, got {num_bins}.")
    if mask is None:
      mask = jnp.ones(labels.shape, bool)
    else:
      mask = jnp.asarray(mask)
      v.check_same_shape(mask, labels, "mask", "labels")
      mask = mask.astype(bool)
    num_classes = logits.shape[-1]
    logits = logits.astype(v.float_dtype(logits)).reshape(-1, num_classes)
    labels, in_range = v.safe_labels(labels.reshape(-1), num_classes)
    evaluated = mask.reshape(-1)
    finite = jnp.all(jnp.isfinite(logits), axis=-1)
    valid = (evaluated & finite & in_range).astype(jnp.int32)
    # Scored rows only; the others are masked out of every sum below.
    logits = jnp.where(finite[:, None], logits, 0.0)
    predictions = jnp.argmax(logits, axis=-1)
    hit = (predictions == labels).astype(jnp.int32) * valid
    confidence = jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)
    # Bin b holds confidences in (b / M, (b + 1) / M]; 0 goes to bin 0.
    bins = jnp.clip(jnp.ceil(confidence * num_bins).astype(jnp.int32) - 1, 0,
                    num_bins - 1)

    def per(index, values, size):
      return jax.ops.segment_sum(values, index, num_segments=size)

    return cls(
        correct=per(labels, hit, num_classes),
        total=per(labels, valid, num_classes),
        bin_correct=per(bins, hit, num_bins),
        bin_total=per(bins, valid, num_bins),
        bin_confidence=per(bins, confidence.astype(jnp.float32) * valid,
                           num_bins),
        nonfinite=jnp.sum(evaluated & ~finite, dtype=jnp.int32),
        out_of_range=jnp.sum(evaluated & ~in_range, dtype=jnp.int32))

  def merge(self, other: "ClassificationCounts") -> "ClassificationCounts":
    """Adds two sets of counts (batches, devices or hosts)."""
    if (self.correct.shape != other.correct.shape
        or self.bin_total.shape != other.bin_total.shape):
      raise ValueError(
          f"cannot merge counts for {self.correct.shape[-1]} classes / "
          f"{self.bin_total.shape[-1]} bins with counts for "
          f"{other.correct.shape[-1]} classes / {other.bin_total.shape[-1]} "
          f"bins.")
    return jax.tree.map(jnp.add, self, other)

  __add__ = merge


def _counts(counts: Any) -> ClassificationCounts:
  if not isinstance(counts, ClassificationCounts):
    raise TypeError(
        f"expected ClassificationCounts (from ClassificationCounts."
        f"from_logits), got {type(counts).__name__}.")
  return counts


def unscored(counts: ClassificationCounts) -> jax.Array:
  """Returns the number of evaluated rows that could not be scored.

  These are rows with a non-finite logit or a label outside [0, C); every
  metric is NaN while this is positive.
  """
  counts = _counts(counts)
  return counts.nonfinite + counts.out_of_range


def _nan_if_unscored(counts: ClassificationCounts,
                     value: jax.Array) -> jax.Array:
  return jnp.where(unscored(counts) > 0, jnp.nan, value)


def accuracy(counts: ClassificationCounts) -> jax.Array:
  """Top-1 accuracy over all evaluated examples (NaN if there are none).

  NaN as well if any row had a non-finite logit or an out-of-range label.
  """
  counts = _counts(counts)
  return _nan_if_unscored(counts,
                          jnp.sum(counts.correct) / jnp.sum(counts.total))


def per_class_accuracy(counts: ClassificationCounts) -> jax.Array:
  """Accuracy of each class, float [C]; NaN for a class with no examples.

  All NaN if any row had a non-finite logit or an out-of-range label.
  """
  counts = _counts(counts)
  total = counts.total
  return _nan_if_unscored(counts, jnp.where(
      total > 0, counts.correct / jnp.maximum(total, 1), jnp.nan))


def balanced_accuracy(counts: ClassificationCounts) -> jax.Array:
  """Mean of per-class accuracies over the classes that were evaluated."""
  return _nan_mean(per_class_accuracy(counts), None)


def expected_calibration_error(counts: ClassificationCounts) -> jax.Array:
  r"""Expected calibration error over equal-width confidence bins.

  .. math::
    \mathrm{ECE} = \sum_b \frac{n_b}{N} \left| \mathrm{acc}_b -
    \mathrm{conf}_b \right| = \frac{1}{N} \sum_b \left| \mathrm{correct}_b -
    \sum_{i \in b} \mathrm{conf}_i \right|

  The confidence is the top softmax probability of the logits given to
  `ClassificationCounts.from_logits`. NaN if any row had a non-finite logit
  or an out-of-range label.

  References:
    Guo et al., On Calibration of Modern Neural Networks, ICML 2017
    (arXiv 1706.04599).
  """
  counts = _counts(counts)
  gap = jnp.abs(counts.bin_correct - counts.bin_confidence)
  return _nan_if_unscored(counts, jnp.sum(gap) / jnp.sum(counts.bin_total))


def shot_groups(train_counts: jax.typing.ArrayLike, *, many: int = 100,
                few: int = 20) -> dict[str, np.ndarray]:
  """Splits classes into many / medium / few-shot groups by training count.

  Args:
    train_counts: [C] training examples per class.
    many: a class with more than `many` examples is many-shot.
    few: a class with fewer than `few` examples is few-shot; the rest
      (few <= n <= many) are medium-shot.

  Returns:
    {"many", "medium", "few"} -> bool [C] masks that partition the classes.
  """
  _check_thresholds(many, few)
  counts = np.asarray(train_counts)
  if counts.ndim != 1:
    raise ValueError(
        f"train_counts must have shape [C], got shape {counts.shape}.")
  many_mask = counts > many
  few_mask = counts < few
  return {"many": many_mask, "medium": ~many_mask & ~few_mask,
          "few": few_mask}


def shot_accuracy(per_class_acc: jax.typing.ArrayLike,
                  train_counts: jax.typing.ArrayLike, *, many: int = 100,
                  few: int = 20) -> dict[str, jax.Array]:
  """Many / medium / few-shot and overall accuracy from per-class accuracy.

  Each group's value is the unweighted mean accuracy of its classes; classes
  whose accuracy is NaN (not evaluated) are left out. An empty group is NaN.

  Args:
    per_class_acc: float [C], e.g. `per_class_accuracy(counts)`.
    train_counts: [C] training examples per class.
    many: many-shot threshold (more than `many` examples).
    few: few-shot threshold (fewer than `few` examples).

  Returns:
    {"many", "medium", "few", "all"} -> float scalars; "all" is the balanced
    accuracy over every evaluated class.
  """
  per_class_acc = jnp.asarray(per_class_acc)
  train_counts = np.asarray(train_counts)
  if per_class_acc.shape != train_counts.shape:
    raise ValueError(
        f"per_class_acc has shape {per_class_acc.shape} but train_counts has "
        f"shape {train_counts.shape}; both must be [C] for the same classes.")
  groups = shot_groups(train_counts, many=many, few=few)
  result = {name: _nan_mean(per_class_acc, groups[name])
            for name in SHOT_GROUPS}
  result["all"] = _nan_mean(per_class_acc, None)
  return result


def classification_summary(counts: ClassificationCounts,
                           train_counts: jax.typing.ArrayLike, *,
                           many: int = 100, few: int = 20) -> dict[str, float]:
  """All scalar metrics of merged counts as Python floats, for logging.

  Returns:
    {"top1", "balanced", "many", "medium", "few", "ece"}.
  """
  per_class = per_class_accuracy(counts)
  shots = shot_accuracy(per_class, train_counts, many=many, few=few)
  summary = {"top1": accuracy(counts), "balanced": shots["all"],
             **{name: shots[name] for name in SHOT_GROUPS},
             "ece": expected_calibration_error(counts)}
  return {name: float(value) for name, value in summary.items()}


def _check_thresholds(many, few):
  if few > many:
    raise ValueError(
        f"few ({few}) must not exceed many ({many}): few-shot classes have "
        f"fewer than `few` examples, many-shot more than `many`.")


def _nan_mean(values: jax.Array, mask) -> jax.Array:
  """Mean over entries that are in `mask` and not NaN; NaN if none are."""
  keep = ~jnp.isnan(values)
  if mask is not None:
    keep = keep & jnp.asarray(mask)
  total = jnp.sum(jnp.where(keep, values, 0.0))
  count = jnp.sum(keep)
  return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
