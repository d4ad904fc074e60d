"""Label bins for deep imbalanced regression: edges, indices, counts.

Glossary: N examples, K bins. A bin set is given by its K + 1 increasing
edges; bin k holds the labels in [edges[k], edges[k + 1]). Labels below the
first edge fall in bin 0 and labels at or above the last edge in bin K - 1
(the reference code does the same with `min(max_target - 1, int(label))` for
LDS and its `bucket_start` merging for FDS), so every label has a bin.

The reference code (Yang et al. 2021) hard-codes integer labels 0..120; here
any float targets work, with edges from `bin_edges(low, high, width=...)` or
given explicitly.
"""

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
