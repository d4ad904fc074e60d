"""Mergeable regression error sums and the DIR metrics derived from them.

`RegressionSums` holds, per label bin, the number of evaluated examples and
the sums of |e|, e^2, log|e| and e (e = prediction - target). Build one per
batch inside a jitted eval step and add them (`a + b`) across batches; under
`jax.jit` on a sharded batch the sums come out global, inside `shard_map` use
`jax.lax.psum`. Every metric is a pure function of the merged sums and the
training counts per bin, so nothing depends on the batching.

Metrics (Yang et al. 2021): MAE, MSE and GM, the geometric mean of the
per-example |e| (exp of the mean log|e|; an exact zero error makes it 0, as
`scipy.stats.gmean`), over all examples and over many / medium / few-shot
bins: more than `many` (100) training examples, fewer than `few` (20), the
rest (or thresholds relative to the data: `shot_thresholds`). Within a group errors are averaged per example (not per bin). A group
with no evaluated example is NaN (`null` in the JSON files), never an error.
Bins with no training example are few-shot (0 < 20), as in the reference.
"""

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import metrics as ltmetrics
from ltjax.data import _bins


GROUPS = ("all", "many", "medium", "few")
METRICS = ("mae", "mse", "gm")


@flax.struct.dataclass
class RegressionSums:
  """Per-bin error sums; merge with `+`.

  Attributes:
    count: int32 [K] evaluated examples per bin (bin of the target).
    abs_error: float32 [K] sum of |e|.
    squared_error: float32 [K] sum of e^2.
    log_abs_error: float32 [K] sum of log|e| (-inf if an |e| is 0).
    error: float32 [K] sum of e (the signed bias).
    prediction, target: float32 [K] sums of the predictions p and targets y.
    prediction_squared, target_squared, product: float32 [K] sums of p^2,
      y^2 and p y (with the two above: Pearson's r over any set of bins).
  """
  count: jax.Array
  abs_error: jax.Array
  squared_error: jax.Array
  log_abs_error: jax.Array
  error: jax.Array
  prediction: jax.Array
  target: jax.Array
  prediction_squared: jax.Array
  target_squared: jax.Array
  product: jax.Array

  @property
  def num_bins(self) -> int:
    return self.count.shape[-1]

  @classmethod
  def empty(cls, num_bins: int) -> "RegressionSums":
    if num_bins < 1:
      raise ValueError(f"num_bins must be >= 1, got {num_bins}.")
    def zeros():
      return jnp.zeros((num_bins,), jnp.float32)

    return cls(count=jnp.zeros((num_bins,), jnp.int32), abs_error=zeros(),
               squared_error=zeros(), log_abs_error=zeros(), error=zeros(),
               prediction=zeros(), target=zeros(),
               prediction_squared=zeros(), target_squared=zeros(),
               product=zeros())

  @classmethod
  def from_predictions(cls, predictions: jax.typing.ArrayLike,
                       targets: jax.typing.ArrayLike, *, edges,
                       mask: jax.typing.ArrayLike | None = None
                       ) -> "RegressionSums":
    """Sums one batch; jittable.

    Args:
      predictions: float [B].
      targets: float [B].
      edges: float [K + 1] bin edges (concrete).
      mask: optional bool [B]; False rows (padding) are not counted.

    Returns:
      The batch's sums.
    """
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(targets)
    if predictions.shape != targets.shape or predictions.ndim != 1:
      raise ValueError(
          f"predictions and targets must both be [B], got "
          f"{predictions.shape} and {targets.shape}.")
    if mask is None:
      mask = jnp.ones(targets.shape, bool)
    mask = jnp.asarray(mask).astype(bool)
    if mask.shape != targets.shape:
      raise ValueError(f"mask must be [B], got {mask.shape}.")
    num_bins = _bins.num_bins_of(_bins.check_edges(edges))
    bins = _bins.bin_index(targets, edges)
    error = (predictions.astype(jnp.float32) - targets.astype(jnp.float32))
    abs_error = jnp.abs(error)
    keep = mask.astype(jnp.float32)

    def per_bin(values):
      return jax.ops.segment_sum(values, bins, num_segments=num_bins)

    log_abs = jnp.where(mask, jnp.log(abs_error), 0.0)
    # Masked rows (padding) may hold anything: zeroed, not multiplied.
    p = jnp.where(mask, predictions.astype(jnp.float32), 0.0)
    y = jnp.where(mask, targets.astype(jnp.float32), 0.0)
    return cls(count=per_bin(mask.astype(jnp.int32)),
               abs_error=per_bin(abs_error * keep),
               squared_error=per_bin(error * error * keep),
               log_abs_error=per_bin(log_abs), error=per_bin(error * keep),
               prediction=per_bin(p), target=per_bin(y),
               prediction_squared=per_bin(p * p),
               target_squared=per_bin(y * y), product=per_bin(p * y))

  def merge(self, other: "RegressionSums") -> "RegressionSums":
    if self.count.shape != other.count.shape:
      raise ValueError(
          f"cannot merge sums over {self.num_bins} bins with sums over "
          f"{other.num_bins} bins.")
    return jax.tree.map(jnp.add, self, other)

  __add__ = merge


def _host(sums: RegressionSums) -> dict[str, np.ndarray]:
  sums = jax.device_get(sums)
  return {k: np.asarray(getattr(sums, k), np.float64)
          for k in ("count", "abs_error", "squared_error", "log_abs_error",
                    "error", "prediction", "target", "prediction_squared",
                    "target_squared", "product")}


def pearson_of(s: dict[str, np.ndarray], member) -> float:
  """Pearson's r of the predictions and targets of bins `member`.

  r = (n Spy - Sp Sy) / sqrt((n Spp - Sp^2)(n Syy - Sy^2)) from the sums
  (float64 on the host); NaN with fewer than 2 examples or a constant
  prediction or target.
  """
  n = s["count"][member].sum()
  sp, sy = s["prediction"][member].sum(), s["target"][member].sum()
  cov = n * s["product"][member].sum() - sp * sy
  var_p = n * s["prediction_squared"][member].sum() - sp * sp
  var_y = n * s["target_squared"][member].sum() - sy * sy
  if n < 2 or var_p <= 0 or var_y <= 0:
    return float("nan")
  return float(np.clip(cov / np.sqrt(var_p * var_y), -1.0, 1.0))


def _ratio(total, count):
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def per_bin_errors(sums: RegressionSums) -> dict[str, np.ndarray]:
  """The error-vs-label curve: per-bin count, MAE, MSE, GM and mean error.

  Args:
    sums: merged `RegressionSums`.

  Returns:
    {"count", "mae", "mse", "gm", "mean_error"} -> float64 [K]; NaN for bins
    with no evaluated example. Plot against `bin_centers(edges)`.
  """
  s = _host(sums)
  count = s["count"]
  return {"count": count, "mae": _ratio(s["abs_error"], count),
          "mse": _ratio(s["squared_error"], count),
          "gm": np.exp(_ratio(s["log_abs_error"], count)),
          "mean_error": _ratio(s["error"], count)}


def regression_summary(sums: RegressionSums, train_bin_counts, *,
                       many: float = 100, few: float = 20) -> dict[str, float]:
  """MAE, MSE, GM and Pearson's r over all examples and each shot group.

  Args:
    sums: merged `RegressionSums` over an evaluation split.
    train_bin_counts: int [K] training examples per bin (`bin_counts`).
    many: a bin with more than `many` training examples is many-shot.
    few: a bin with fewer than `few` is few-shot; the rest medium.

  Returns:
    {"mae_all", "mse_all", "gm_all", "pearson_all", "mae_many", ...,
    "pearson_few", "count_all", ..., "count_few"} -> Python floats; NaN for
    an empty group (Pearson's r: also for one of fewer than 2 examples or
    a constant prediction or target; `pearson_of`).

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  s = _host(sums)
  train_bin_counts = np.asarray(train_bin_counts)
  if train_bin_counts.shape != s["count"].shape:
    raise ValueError(
        f"train_bin_counts has shape {train_bin_counts.shape} but the sums "
        f"have {s['count'].shape[0]} bins.")
  groups = ltmetrics.shot_groups(train_bin_counts, many=many, few=few)
  groups["all"] = np.ones(train_bin_counts.shape, bool)
  out = {}
  for group in GROUPS:
    member = groups[group]
    count = s["count"][member].sum()
    mean = {key: float(_ratio(s[key][member].sum(), count))
            for key in ("abs_error", "squared_error", "log_abs_error")}
    out[f"mae_{group}"] = mean["abs_error"]
    out[f"mse_{group}"] = mean["squared_error"]
    out[f"gm_{group}"] = float(np.exp(mean["log_abs_error"]))
    out[f"pearson_{group}"] = pearson_of(s, member)
    out[f"count_{group}"] = float(count)
  return out


def bin_groups(train_bin_counts, *, many: float = 100,
               few: float = 20) -> list[str]:
  """The shot group name of every bin."""
  groups = ltmetrics.shot_groups(np.asarray(train_bin_counts), many=many,
                                 few=few)
  return [next(g for g in ltmetrics.SHOT_GROUPS if groups[g][k])
          for k in range(len(train_bin_counts))]


def shot_thresholds(train_bin_counts, *, rule: str = "absolute",
                    many: float = 100, few: float = 20,
                    quantiles: tuple[float, float] = (1 / 3, 2 / 3)
                    ) -> tuple[float, float]:
  """The (many, few) count thresholds of the shot groups.

  "absolute" returns (`many`, `few`) as given (the DIR protocol: 100, 20).
  "quantile" returns the `quantiles` = (q_few, q_many) quantiles of the
  training counts of the non-empty bins (linear interpolation, as
  `np.quantile`): many-shot bins are those above the q_many quantile,
  few-shot those below the q_few quantile (and empty bins), so a small data
  set still has all three groups.

  Args:
    train_bin_counts: int [K] training examples per bin.
    rule: "absolute" or "quantile".
    many: the absolute many-shot threshold.
    few: the absolute few-shot threshold.
    quantiles: (q_few, q_many), 0 <= q_few <= q_many <= 1.

  Returns:
    (many, few) as floats, for `regression_summary` and `bin_groups`.
  """
  if rule == "absolute":
    return float(many), float(few)
  if rule != "quantile":
    raise ValueError(
        f"rule must be 'absolute' or 'quantile', got {rule!r}.")
  q_few, q_many = quantiles
  if not 0 <= q_few <= q_many <= 1:
    raise ValueError(
        f"quantiles must be (few, many) with 0 <= few <= many <= 1, got "
        f"{quantiles}.")
  counts = np.asarray(train_bin_counts, np.float64)
  counts = counts[counts > 0]
  if not counts.size:
    raise ValueError("quantile shot thresholds need a non-empty bin.")
  return (float(np.quantile(counts, q_many)),
          float(np.quantile(counts, q_few)))
