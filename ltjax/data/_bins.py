"""Label bins for deep imbalanced regression: edges, indices, counts.

Glossary: N examples, K bins. A bin set is given by its K + 1 increasing
edges; bin k holds the labels in [edges[k], edges[k + 1]), and the last bin
also holds a label equal to edges[K] (so bins built over [min, max] of the
labels hold every label). `bin_index` puts labels below the first edge in
bin 0 and labels above the last edge in bin K - 1 (the reference code does
the same with `min(max_target - 1, int(label))` for LDS and its
`bucket_start` merging for FDS); `count_outside` says how many there are, so
a caller can refuse or report them.

The reference code (Yang et al. 2021) hard-codes integer labels 0..120; here
any float targets work, with edges from `bin_edges(low, high, width=...)`,
given explicitly, or from the training targets with `data_bin_edges`.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np


def bin_edges(low: float, high: float, *, width: float | None = None,
              num_bins: int | None = None) -> np.ndarray:
  """Returns K + 1 equally spaced bin edges over the target range [low, high).

  Give exactly one of `width` and `num_bins`. With `width`, (high - low) must
  be a whole number of widths (to 1e-6 relative), so that no partial bin is
  silently created.

  Args:
    low: the first edge.
    high: the last edge, > low.
    width: the width of every bin, > 0.
    num_bins: K >= 1.

  Returns:
    float64 [K + 1] increasing edges.

  Example:
    >>> bin_edges(0, 121, width=1)  # the reference's ages 0..120, K = 121
  """
  if not np.isfinite(low) or not np.isfinite(high) or not high > low:
    raise ValueError(
        f"bins need finite low < high, got low={low} and high={high}.")
  if (width is None) == (num_bins is None):
    raise ValueError("give exactly one of width and num_bins.")
  if width is not None:
    if not width > 0:
      raise ValueError(f"width must be > 0, got {width}.")
    ratio = (high - low) / width
    num_bins = int(round(ratio))
    if num_bins < 1 or abs(ratio - num_bins) > 1e-6 * max(1.0, ratio):
      raise ValueError(
          f"(high - low) / width = ({high} - {low}) / {width} = {ratio:g} is "
          f"not a whole number of bins; adjust high or width.")
  if isinstance(num_bins, bool) or int(num_bins) != num_bins or num_bins < 1:
    raise ValueError(f"num_bins must be an integer >= 1, got {num_bins!r}.")
  return np.linspace(float(low), float(high), int(num_bins) + 1)


# Integer-valued targets spanning at most this many values get width-1 bins.
MAX_INTEGER_BINS = 200
# The count rule's bounds: K = ceil(sqrt(N)) clipped to [10, 100].
MIN_COUNT_BINS, MAX_COUNT_BINS = 10, 100


def count_rule(num_examples: int) -> int:
  """The default bin count of N continuous targets: ceil(sqrt(N)) in [10, 100].

  The square-root choice of histogram bins, bounded so that LDS / FDS kernels
  (a few bins wide) and the shot groups stay meaningful.
  """
  return int(min(MAX_COUNT_BINS, max(MIN_COUNT_BINS,
                                     math.ceil(math.sqrt(num_examples)))))


def data_bin_edges(targets, *, low: float | None = None,
                   high: float | None = None, width: float | None = None,
                   num_bins: int | None = None) -> tuple[np.ndarray, str]:
  """Returns bin edges from the training targets, with any given field fixed.

  Unset fields come from the targets (N of them, range [t_min, t_max]):

  * the bin size: if neither `width` nor `num_bins` is given, integer-valued
    targets (and integer low / high, when given) spanning at most
    `MAX_INTEGER_BINS` values get width 1 (abalone's rings 1..29 give
    [1, 30), as the reference's one bin per age); otherwise
    K = `count_rule(N)` = ceil(sqrt(N)) clipped to [10, 100] equal bins;
  * `low`: t_min (with a `width` and a given `high`: high minus a whole
    number of widths, at or below t_min);
  * `high`: with a width, low plus the fewest whole widths that put t_max
    inside [low, high); with a bin count, t_max (the last bin is closed).

  With `low`, `high` and `width` all given, (high - low) must be a whole
  number of widths (`bin_edges`). Targets outside the result are not
  checked here (`count_outside`).

  Args:
    targets: float [N] finite training targets, N >= 1.
    low: the first edge, or None.
    high: the last edge, or None.
    width: the width of every bin, or None.
    num_bins: K, or None; not together with `width`.

  Returns:
    (float64 [K + 1] edges, a short description of the rule used).

  Example:
    >>> edges, rule = data_bin_edges(rings)  # rings 1..29: [1, 2, ..., 30]
  """
  t = _finite_targets(targets)
  if width is not None and num_bins is not None:
    raise ValueError(
        f"give at most one of width ({width}) and num_bins ({num_bins}).")
  if width is not None and not width > 0:
    raise ValueError(f"width must be > 0, got {width}.")
  if num_bins is not None and (isinstance(num_bins, bool) or
                               int(num_bins) != num_bins or num_bins < 1):
    raise ValueError(f"num_bins must be an integer >= 1, got {num_bins!r}.")
  t_min, t_max = float(t.min()), float(t.max())
  lo = t_min if low is None else float(low)
  hi = t_max if high is None else float(high)
  rule = "given"
  if width is None and num_bins is None:
    ends = [x for x in (low, high) if x is not None]
    integral = (np.all(t == np.round(t)) and
                all(float(x).is_integer() for x in ends))
    if integral and (hi - lo + 1) <= MAX_INTEGER_BINS:
      width = 1.0
      rule = "width 1 (integer-valued targets)"
    else:
      num_bins = count_rule(t.size)
      rule = f"count: ceil(sqrt(N = {t.size})) in [10, 100] = {num_bins}"
  if width is not None:
    if low is None and high is not None:
      lo = hi - width * max(1, math.ceil((hi - t_min) / width - 1e-9))
    if high is None:
      hi = lo + width * max(1, math.floor((t_max - lo) / width + 1e-9) + 1)
    return bin_edges(lo, hi, width=width), rule
  if not hi > lo:  # All targets equal: one bin around them.
    if low is None and high is None:
      lo, hi = lo - 0.5, hi + 0.5
  return bin_edges(lo, hi, num_bins=num_bins), rule


# `config.bins.rule`: how the edges are made from the training targets.
BIN_RULES = ("width", "quantile", "range")
# Outliers: beyond this many interquartile ranges from the quartiles
# (Tukey's far fences); the "range" rule's bins span the fences.
OUTLIER_IQRS = 3.0
# Warn when one equal-width bin holds more than this share of the training
# targets while some targets are outliers.
CROWDED_SHARE = 0.9


def parse_bin_rule(rule, name: str = "rule") -> str | np.ndarray:
  """Returns a rule of `BIN_RULES`, or explicit edges from "e0,e1,...".

  Args:
    rule: "width", "quantile", "range", or K + 1 >= 2 strictly increasing
      edges as a comma-separated string ("0,1,5,25"; brackets allowed) or a
      sequence of numbers.
    name: how messages name the field.

  Returns:
    The rule's name, or float64 [K + 1] edges.
  """
  if isinstance(rule, str):
    text = rule.strip()
    if text in BIN_RULES:
      return text
    cells = [c.strip() for c in text.strip("[]()").split(",")]
    try:
      values = [float(c) for c in cells if c]
    except ValueError:
      raise ValueError(
          f"{name} must be one of {list(BIN_RULES)} or comma-separated bin "
          f"edges such as '0,1,5,25', got {rule!r}.") from None
  else:
    try:
      values = [float(v) for v in rule]
    except (TypeError, ValueError):
      raise ValueError(
          f"{name} must be one of {list(BIN_RULES)} or a list of bin edges, "
          f"got {rule!r}.") from None
  edges = np.asarray(values, np.float64)
  if edges.size < 2:
    raise ValueError(
        f"{name}: explicit bin edges need at least 2 values (K + 1 edges of "
        f"K >= 1 bins), got {rule!r}.")
  if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
    raise ValueError(
        f"{name}: explicit bin edges must be finite and strictly increasing, "
        f"got {rule!r}.")
  return edges


def _finite_targets(targets) -> np.ndarray:
  t = np.asarray(targets, np.float64).reshape(-1)
  if t.size == 0:
    raise ValueError("bins from the training targets need at least one "
                     "target.")
  if not np.all(np.isfinite(t)):
    raise ValueError("the training targets must be finite.")
  return t


def quantile_bin_edges(targets, *, num_bins: int | None = None
                      ) -> np.ndarray:
  """Returns equal-count bin edges: the targets' quantiles.

  Edges at the quantiles k / K, k = 0..K, of the N targets (NumPy's linear
  interpolation), K = `num_bins` or `count_rule(N)`; repeated edges (tied
  targets) are merged, so there may be fewer than K bins. The first and last
  edges are the smallest and largest target, so every target is inside.

  Args:
    targets: float [N] finite training targets.
    num_bins: K, or None for `count_rule(N)`.

  Returns:
    float64 [K' + 1] increasing edges, K' <= K.
  """
  t = _finite_targets(targets)
  k = count_rule(t.size) if num_bins is None else int(num_bins)
  edges = np.unique(np.quantile(t, np.linspace(0.0, 1.0, k + 1)))
  if edges.size < 2:  # All targets equal: one bin around them.
    edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
  return edges


def robust_range(targets) -> tuple[float, float]:
  """The targets' range without outliers: Tukey's far fences within it.

  [max(t_min, Q1 - 3 IQR), min(t_max, Q3 + 3 IQR)] with Q1, Q3 the
  quartiles (NumPy's linear interpolation) and IQR = Q3 - Q1: [t_min, t_max]
  when no target is an outlier, however many outliers there are up to a
  quarter of the targets.
  """
  t = _finite_targets(targets)
  q1, q3 = np.percentile(t, (25, 75))
  spread = OUTLIER_IQRS * (q3 - q1)
  return (float(max(t.min(), q1 - spread)),
          float(min(t.max(), q3 + spread)))


def range_bin_edges(targets, *, num_bins: int | None = None) -> np.ndarray:
  """Returns equal-width bin edges over the targets' robust range.

  K = `num_bins` or `count_rule(N)` equal bins over `robust_range` (the
  targets' range cut at Tukey's far fences, Q1 - 3 IQR and Q3 + 3 IQR), so
  a few extreme values do not stretch every bin; targets outside fall in the
  end bins (`bin_index` clips them). Without outliers the edges are those
  of equal bins over [min, max]. When the fences coincide (more than half
  the targets equal), the range is [min, max].

  Args:
    targets: float [N] finite training targets.
    num_bins: K, or None for `count_rule(N)`.

  Returns:
    float64 [K + 1] increasing edges.
  """
  t = _finite_targets(targets)
  k = count_rule(t.size) if num_bins is None else int(num_bins)
  low, high = robust_range(t)
  if not high > low:
    low, high = t.min(), t.max()
  if not high > low:
    low, high = low - 0.5, high + 0.5
  return bin_edges(float(low), float(high), num_bins=k)


def crowded_bin_message(targets, edges) -> str | None:
  """Says why equal-width bins misfit the targets, or None when they fit.

  They misfit when one bin holds more than `CROWDED_SHARE` of the targets
  and some target is an outlier (beyond `OUTLIER_IQRS` interquartile ranges
  from the quartiles): the outliers stretched the range, and nearly every
  row lands in one bin and one shot group.
  """
  t = _finite_targets(targets)
  counts = bin_counts(t, edges)
  k = int(np.argmax(counts))
  share = counts[k] / t.size
  low, high = robust_range(t)
  outliers = int(np.sum((t < low) | (t > high)))
  if share <= CROWDED_SHARE or not outliers:
    return None
  return (f"{share:.0%} of the {t.size} training targets fall in one of the "
          f"{len(counts)} equal-width bins, [{edges[k]:g}, {edges[k + 1]:g}), "
          f"because {outliers} target(s) beyond Tukey's far fences "
          f"[{low:g}, {high:g}] stretch the range to [{t.min():g}, "
          f"{t.max():g}], so nearly every row lands in that bin and its shot "
          f"group")


def count_outside(labels, edges) -> int:
  """The number of labels outside [edges[0], edges[K]] (host-side)."""
  edges = check_edges(edges)
  labels = np.asarray(labels, np.float32).reshape(-1)
  low, high = np.float32(edges[0]), np.float32(edges[-1])
  return int(np.sum((labels < low) | (labels > high)))


def check_edges(edges, name: str = "edges") -> np.ndarray:
  """Checks K + 1 >= 2 finite, strictly increasing edges; returns them."""
  edges = np.asarray(edges, np.float64)
  if edges.ndim != 1 or edges.shape[0] < 2:
    raise ValueError(
        f"{name} must be a vector of K + 1 >= 2 bin edges, got shape "
        f"{edges.shape}.")
  if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
    raise ValueError(f"{name} must be finite and strictly increasing.")
  return edges


def num_bins_of(edges) -> int:
  return int(np.shape(edges)[0]) - 1


def bin_index(labels: jax.typing.ArrayLike, edges) -> jax.Array:
  """Returns the bin of each label; jittable.

  Bin k holds [edges[k], edges[k + 1]); labels outside the range are clipped
  to the first or last bin. Labels are compared in float32 (the dtype the
  compiled step sees), so the host and the device agree on every label.

  Args:
    labels: float or int [N] (any shape; the result has the same shape).
    edges: float [K + 1] increasing bin edges (concrete, e.g. from
      `bin_edges`).

  Returns:
    int32 [N] in [0, K).
  """
  edges = check_edges(edges)
  labels = jnp.asarray(labels)
  if jnp.issubdtype(labels.dtype, jnp.complexfloating) or labels.dtype == bool:
    raise ValueError(f"labels must be real numbers, got dtype {labels.dtype}.")
  inner = jnp.asarray(edges[1:-1], jnp.float32)
  # searchsorted(side="right") counts the inner edges <= label, which is the
  # bin index; below edges[0] gives 0 and at/above edges[-1] gives K - 1.
  index = jnp.searchsorted(inner, labels.astype(jnp.float32), side="right")
  return index.astype(jnp.int32)


def bin_counts(labels, edges) -> np.ndarray:
  """Returns the number of labels in each bin (host-side).

  Args:
    labels: float or int [N].
    edges: float [K + 1] increasing bin edges.

  Returns:
    int64 [K].
  """
  edges = check_edges(edges)
  index = np.asarray(bin_index(np.asarray(labels).reshape(-1), edges))
  return np.bincount(index, minlength=num_bins_of(edges)).astype(np.int64)


def bin_centers(edges) -> np.ndarray:
  """Returns the midpoint of each bin, float64 [K]."""
  edges = check_edges(edges)
  return (edges[:-1] + edges[1:]) / 2
