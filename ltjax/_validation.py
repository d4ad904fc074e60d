"""Input checks shared by ltjax's pure functions.

Every check runs in Python at trace time, so a bad argument raises a
`ValueError` naming the argument and the fix before anything is compiled.
Shape and dtype checks always run. Value checks (a class count of zero, a
negative temperature) run when the value is known at trace time: a NumPy array,
a Python number, or a concrete `jax.Array` closed over by a jitted function.
When such a value is passed as a traced argument its value cannot be seen, and
only the shape and dtype are checked.

Labels are the exception that is still caught at run time: a traced label
outside [0, C) cannot raise, so the losses and the class-weight gathers make
that example's value NaN (`labels_in_range`, `safe_labels`) instead of reading
a wrapped (-1 -> C - 1) or clamped class.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def concrete(x: Any) -> np.ndarray | None:
  """Returns `x` as a NumPy array if its value is known at trace time.

  Call it on the argument as given: inside `jax.jit`, even `jnp.asarray` of a
  NumPy constant is a tracer whose value cannot be read.
  """
  try:
    return np.asarray(x)
  except (jax.errors.TracerArrayConversionError,
          jax.errors.ConcretizationTypeError):
    return None


def float_dtype(*xs: Any) -> jnp.dtype:
  """The dtype ltjax computes in: float32, or wider if an input is wider."""
  dtype = jnp.float32
  for x in xs:
    x_dtype = jnp.asarray(x).dtype
    if jnp.issubdtype(x_dtype, jnp.floating):
      dtype = jnp.promote_types(dtype, x_dtype)
  return dtype


def check_logits(logits: Any, name: str = "logits") -> jax.Array:
  """Checks `logits` is a floating array of shape [..., C] with C >= 1."""
  logits = jnp.asarray(logits)
  if not jnp.issubdtype(logits.dtype, jnp.floating):
    raise ValueError(
        f"{name} must be a floating-point array, got dtype {logits.dtype}; "
        f"cast it, e.g. {name}.astype(jnp.float32).")
  if logits.ndim < 1 or logits.shape[-1] < 1:
    raise ValueError(
        f"{name} must have shape [..., C] with C >= 1 classes, got shape "
        f"{logits.shape}.")
  return logits


def check_labels(labels: Any, logits: jax.Array,
                 name: str = "labels") -> jax.Array:
  """Checks integer labels whose shape is the batch shape of `logits`."""
  values = concrete(labels)
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(
        f"{name} must be integer class indices, got dtype {labels.dtype}; "
        f"for one-hot or soft targets take argmax, for float class ids cast "
        f"with {name}.astype(jnp.int32).")
  if labels.shape != logits.shape[:-1]:
    raise ValueError(
        f"{name} has shape {labels.shape} but logits have shape "
        f"{logits.shape}: {name} must have shape {logits.shape[:-1]} (one "
        f"class index per row of logits).")
  check_label_values(values, logits.shape[-1], name)
  return labels


def check_label_values(values: np.ndarray | None, num_classes: int,
                       name: str = "labels") -> None:
  """Raises if concrete label `values` (from `concrete`) leave [0, C)."""
  if values is not None and values.size and (
      values.min() < 0 or values.max() >= num_classes):
    bad = np.flatnonzero((values.ravel() < 0)
                         | (values.ravel() >= num_classes))
    raise ValueError(
        f"{name} must lie in [0, {num_classes}) for {num_classes} classes, "
        f"got values in [{values.min()}, {values.max()}] (first bad "
        f"position(s) {bad[:5].tolist()}); a negative label is not read as a "
        f"class counted from the end.")


def labels_in_range(labels: jax.Array, num_classes: int) -> jax.Array:
  """bool, shape of `labels`: True where 0 <= label < num_classes; jittable."""
  return (labels >= 0) & (labels < num_classes)


def safe_labels(labels: jax.Array, num_classes: int
                ) -> tuple[jax.Array, jax.Array]:
  """(labels with out-of-range entries replaced by 0, in-range mask).

  Gather with the first and mask the result with the second (e.g.
  `jnp.where(ok, loss, jnp.nan)`): JAX indexing would otherwise wrap a
  negative label to a class counted from the end, and gradients stay finite
  for the in-range rows.
  """
  ok = labels_in_range(labels, num_classes)
  return jnp.where(ok, labels, 0), ok


def check_class_vector(x: Any, num_classes: int | None, name: str, *,
                       positive: bool = False,
                       nonnegative: bool = False) -> jax.Array:
  """Checks a per-class vector of shape [C] and, if concrete, its values."""
  values = concrete(x)
  x = jnp.asarray(x)
  if x.ndim != 1:
    raise ValueError(
        f"{name} must be a vector of shape [C] (one entry per class), got "
        f"shape {x.shape}.")
  if num_classes is not None and x.shape[0] != num_classes:
    raise ValueError(
        f"{name} has {x.shape[0]} entries but the logits have {num_classes} "
        f"classes; pass one entry per class.")
  if values is not None:
    if not np.all(np.isfinite(values)):
      raise ValueError(f"{name} must be finite, got {values}.")
    if positive and np.any(values <= 0):
      bad = np.flatnonzero(values <= 0)
      raise ValueError(
          f"{name} must be positive (a log or power of it is taken), but "
          f"class(es) {bad.tolist()} have {values[bad].tolist()}; drop classes "
          f"with no training examples or give them a positive pseudo-count.")
    if nonnegative and np.any(values < 0):
      bad = np.flatnonzero(values < 0)
      raise ValueError(
          f"{name} must be non-negative, but class(es) {bad.tolist()} have "
          f"{values[bad].tolist()}.")
  return x


def check_scalar(x: Any, name: str, *, minimum: float | None = None,
                 below: float | None = None) -> None:
  """Checks a scalar hyperparameter: minimum <= x (< below), if concrete."""
  if jnp.ndim(x) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(x)}.")
  value = concrete(x)
  if value is None:
    return
  if not np.isfinite(value):
    raise ValueError(f"{name} must be finite, got {value}.")
  if minimum is not None and value < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {value}.")
  if below is not None and value >= below:
    raise ValueError(f"{name} must be < {below}, got {value}.")


def check_same_shape(x, like, name: str, like_name: str,
                     hint: str = "") -> None:
  """Raises a ValueError naming both arguments unless the shapes match."""
  if x.shape != like.shape:
    raise ValueError(
        f"{name} has shape {x.shape} but {like_name} has shape {like.shape}; "
        f"they must match.{hint}")
