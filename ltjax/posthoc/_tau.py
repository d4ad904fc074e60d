"""Classifier norms, tau-normalisation, and choosing tau on validation data.

Glossary: N examples, D feature dimension, C classes. A Flax Dense kernel is
`[D, C]`, so class c's weight vector W_c is column c.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v
from ltjax import metrics
from ltjax.posthoc import _adjust

# The decoupling paper's sweep: tau in [0, 2] in steps of 0.1.
DEFAULT_TAU_GRID = tuple(round(0.1 * i, 1) for i in range(21))


def _check_kernel(kernel) -> jax.Array:
  kernel = jnp.asarray(kernel)
  if kernel.ndim != 2 or not jnp.issubdtype(kernel.dtype, jnp.floating):
    raise ValueError(
        f"kernel must be a float [D, C] matrix (a Flax Dense kernel), got "
        f"{kernel.dtype} {kernel.shape}.")
  return kernel


def weight_norms(kernel: jax.typing.ArrayLike) -> jax.Array:
  """Returns ||W_c||, the L2 norm of each class's weight vector.

  Args:
    kernel: float [D, C].

  Returns:
    float [C].
  """
  kernel = _check_kernel(kernel)
  return jnp.linalg.norm(kernel.astype(v.float_dtype(kernel)), axis=0)


def tau_normalize(kernel: jax.typing.ArrayLike, *, tau: float) -> jax.Array:
  r"""Rescales each class's weights by its norm to the power tau.

  .. math::
    \tilde W_c = \frac{W_c}{\|W_c\|^\tau}

  tau = 0 is the identity, tau = 1 gives unit-norm columns. The paper drops
  the bias: compute the logits as `features @ tau_normalize(kernel, tau=t)`.

  Args:
    kernel: float [D, C] (Flax Dense layout: column c is class c).
    tau: >= 0.

  Returns:
    float [D, C].

  References:
    Kang et al., Decoupling Representation and Classifier for Long-Tailed
    Recognition, ICLR 2020 (arXiv 1910.09217).
  """
  v.check_scalar(tau, "tau", minimum=0.0)
  kernel = _check_kernel(kernel)
  dtype = v.float_dtype(kernel)
  norms = jnp.linalg.norm(kernel.astype(dtype), axis=0, keepdims=True)
  # A zero column stays zero (0 / 1) rather than becoming NaN.
  safe = jnp.where(norms > 0, norms, 1.0)
  return kernel.astype(dtype) / safe ** jnp.asarray(tau, dtype)


@dataclasses.dataclass(frozen=True)
class TauCurve:
  """Accuracy as a function of tau.

  Attributes:
    tau: float [T], the grid.
    top1, balanced: float [T].
    many, medium, few: float [T] (NaN for an empty group or without
      training counts).
  """
  tau: np.ndarray
  top1: np.ndarray
  balanced: np.ndarray
  many: np.ndarray
  medium: np.ndarray
  few: np.ndarray

  def as_dict(self) -> dict[str, list[float]]:
    return {f.name: np.asarray(getattr(self, f.name)).tolist()
            for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class TauSelection:
  """The tau with the best validation metric, and the whole curve."""
  tau: float
  metric: str
  curve: TauCurve


@jax.jit
def _counts(logits, labels):
  return metrics.ClassificationCounts.from_logits(logits, labels)


def _logits_at(inputs, tau, class_priors, kernel):
  if class_priors is not None:
    return _adjust.adjust_logits(inputs, class_priors=class_priors, tau=tau)
  return inputs @ tau_normalize(kernel, tau=tau).astype(inputs.dtype)


def tau_curve(inputs: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
              class_priors: jax.typing.ArrayLike | None = None,
              kernel: jax.typing.ArrayLike | None = None,
              grid=DEFAULT_TAU_GRID, train_counts=None, many: int = 100,
              few: int = 20) -> TauCurve:
  """Accuracy of post-hoc adjustment or tau-normalisation for each tau.

  Exactly one of `class_priors` and `kernel` is given:
    class_priors: `inputs` are logits [N, C]; prediction argmax(z - tau log
      pi) (post-hoc logit adjustment, `adjust_logits`).
    kernel: `inputs` are features [N, D]; prediction argmax(h W~), W~ =
      `tau_normalize(kernel, tau)` (tau-normalisation, bias dropped).

  Args:
    inputs: logits [N, C] or features [N, D], see above.
    labels: int [N].
    class_priors: float [C], positive.
    kernel: float [D, C].
    grid: the tau values, each >= 0.
    train_counts: optional [C] training counts, for many/medium/few curves.
    many: many-shot threshold.
    few: few-shot threshold.

  Returns:
    The `TauCurve`.
  """
  if (class_priors is None) == (kernel is None):
    raise ValueError(
        "give exactly one of class_priors (post-hoc logit adjustment of "
        "logits) and kernel (tau-normalisation of features).")
  grid = np.asarray(grid, np.float64)
  if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0):
    raise ValueError(f"grid must be a non-empty list of taus >= 0, got {grid}.")
  inputs = jnp.asarray(inputs)
  width = kernel.shape[0] if kernel is not None else jnp.shape(class_priors)[0]
  if inputs.ndim != 2 or inputs.shape[1] != width:
    what = "features [N, D]" if kernel is not None else "logits [N, C]"
    raise ValueError(
        f"inputs must be {what} with last dimension {width}, got shape "
        f"{inputs.shape}.")
  rows = {name: [] for name in ("top1", "balanced", "many", "medium", "few")}
  for tau in grid:
    counts = _counts(_logits_at(inputs, float(tau), class_priors, kernel),
                     jnp.asarray(labels))
    rows["top1"].append(float(metrics.accuracy(counts)))
    per_class = metrics.per_class_accuracy(counts)
    rows["balanced"].append(float(metrics.balanced_accuracy(counts)))
    if train_counts is not None:
      shots = metrics.shot_accuracy(per_class, train_counts, many=many,
                                    few=few)
    for group in metrics.SHOT_GROUPS:
      rows[group].append(float(shots[group]) if train_counts is not None
                         else np.nan)
  return TauCurve(tau=grid, **{k: np.asarray(x) for k, x in rows.items()})


def select_tau(inputs_val: jax.typing.ArrayLike,
               labels_val: jax.typing.ArrayLike, *,
               class_priors: jax.typing.ArrayLike | None = None,
               kernel: jax.typing.ArrayLike | None = None,
               grid=DEFAULT_TAU_GRID, metric: str = "balanced",
               train_counts=None, many: int = 100,
               few: int = 20) -> TauSelection:
  """Chooses tau by validation accuracy (the smallest tau on ties).

  Inputs as for `tau_curve`: validation logits with `class_priors` (post-hoc
  logit adjustment) or validation features with `kernel` (tau-norm). Never
  choose tau on the test set.

  Args:
    inputs_val: logits [N, C] or features [N, D].
    labels_val: int [N].
    class_priors: float [C] (post-hoc adjustment).
    kernel: float [D, C] (tau-normalisation).
    grid: candidate taus.
    metric: "balanced" (default) or "top1"; on a balanced validation split
      they coincide up to classes without validation examples.
    train_counts: optional [C], for the curve's shot groups.
    many: many-shot threshold.
    few: few-shot threshold.

  Returns:
    `TauSelection(tau, metric, curve)`.
  """
  if metric not in ("balanced", "top1"):
    raise ValueError(f"metric must be 'balanced' or 'top1', got {metric!r}.")
  curve = tau_curve(inputs_val, labels_val, class_priors=class_priors,
                    kernel=kernel, grid=grid, train_counts=train_counts,
                    many=many, few=few)
  scores = np.nan_to_num(getattr(curve, metric), nan=-np.inf)
  return TauSelection(tau=float(curve.tau[int(np.argmax(scores))]),
                      metric=metric, curve=curve)
