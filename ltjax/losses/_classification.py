"""Per-example classification losses for long-tailed data.

Glossary: B batch (any leading shape), C classes. Every loss takes
`logits: float [B, C]` and `labels: int [B] in [0, C)` and returns the
per-example loss `float [B]`; the caller reduces (`jnp.mean`, or
`weighted_mean` to match PyTorch's `cross_entropy(weight=...)`).

Inputs of any floating dtype are accepted; the loss is computed and returned in
float32 (or float64 if the logits are float64), so bfloat16 logits lose no
precision in the softmax. Class statistics (counts, priors, margins, weights)
are arguments, never state.

Labels outside [0, C): when the labels are known at trace time (NumPy arrays,
Python lists, concrete arrays) every loss and `weighted_mean` raise a
`ValueError`. Under `jax.jit` with traced labels they cannot raise; the loss
of such an example is NaN (never the loss of class C - 1 for label -1, as
plain JAX indexing would give), so a reduced loss over the batch is NaN too.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v


def _prepare(logits, labels):
  """(float logits, labels safe to gather with, bool in-range mask)."""
  logits = v.check_logits(logits)
  labels = v.check_labels(labels, logits)
  labels, in_range = v.safe_labels(labels, logits.shape[-1])
  return logits.astype(v.float_dtype(logits)), labels, in_range


def _nan_where_out_of_range(loss: jax.Array, in_range: jax.Array
                            ) -> jax.Array:
  """The loss, NaN for the examples whose label lies outside [0, C)."""
  return jnp.where(in_range, loss, jnp.asarray(jnp.nan, loss.dtype))


def _true_class(values: jax.Array, labels: jax.Array) -> jax.Array:
  """values[..., labels] for values [B, C] and labels [B]."""
  return jnp.take_along_axis(values, labels[..., None], axis=-1)[..., 0]


def _cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """-log softmax(logits)_y, numerically stable; inputs already checked."""
  return (jax.nn.logsumexp(logits, axis=-1) - _true_class(logits, labels))


def _apply_class_weights(loss, labels, class_weights, num_classes):
  if class_weights is None:
    return loss
  weights = v.check_class_vector(class_weights, num_classes, "class_weights",
                                 nonnegative=True)
  return loss * weights.astype(loss.dtype)[labels]


def _log_class_vector(x, num_classes, name):
  x = v.check_class_vector(x, num_classes, name, positive=True)
  return jnp.log(x.astype(v.float_dtype(x)))


def weighted_cross_entropy(logits: jax.typing.ArrayLike,
                           labels: jax.typing.ArrayLike, *,
                           class_weights: jax.typing.ArrayLike | None = None
                           ) -> jax.Array:
  r"""Computes the class-weighted softmax cross-entropy per example.

  .. math::
    \ell_i = w_{y_i} \left(-\log \mathrm{softmax}(z_i)_{y_i}\right)

  With `class_weights=None` this is plain cross-entropy (ERM). Reduce with
  `weighted_mean` to reproduce PyTorch's `cross_entropy(weight=w)`, or with
  `jnp.mean` for the "sum / B" convention.

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    class_weights: optional float [C], non-negative (e.g.
      `inverse_frequency_weights` or `class_balanced_weights`).

  Returns:
    float [B] per-example loss.

  Example:
    >>> weighted_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 2]))
    Array([1.0986123, 1.0986123], dtype=float32)

  References:
    Cui et al., Class-Balanced Loss Based on Effective Number of Samples,
    CVPR 2019 (arXiv 1901.05555), for the effective-number weights.
  """
  logits, labels, in_range = _prepare(logits, labels)
  loss = _cross_entropy(logits, labels)
  loss = _apply_class_weights(loss, labels, class_weights, logits.shape[-1])
  return _nan_where_out_of_range(loss, in_range)


def focal_loss(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
               gamma: float = 1.0,
               class_weights: jax.typing.ArrayLike | None = None,
               ldam_repo_parity: bool = False) -> jax.Array:
  r"""Computes the (class-weighted) focal loss per example.

  .. math::
    \ell_i = w_{y_i} (1 - p_{y_i})^\gamma \left(-\log p_{y_i}\right),
    \qquad p = \mathrm{softmax}(z_i)

  `gamma=0` is weighted cross-entropy. With effective-number `class_weights`
  this is the "CB-focal" loss. The default `gamma=1.0` follows the LDAM repo.

  Difference from the LDAM-DRW repo: its `FocalLoss` computes the weighted
  cross-entropy first and takes `p = exp(-w_y CE) = p_y^{w_y}`, so with class
  weights the modulating factor uses a distorted probability, and it then
  divides the sum by B. ltjax uses the true probability p_y by default;
  `ldam_repo_parity=True` reproduces the repo's per-example value
  `(1 - p_y^{w_y})^gamma w_y CE` (reduce with `jnp.mean` for its reduction).
  Without class weights the two agree.

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    gamma: focusing parameter, >= 0.
    class_weights: optional float [C], non-negative.
    ldam_repo_parity: use the LDAM repo's p = exp(-w_y CE) (see above).

  Returns:
    float [B] per-example loss.

  References:
    Lin et al., Focal Loss for Dense Object Detection, ICCV 2017
    (arXiv 1708.02002); Cao et al. (arXiv 1906.07413) for the LDAM-repo form.
  """
  v.check_scalar(gamma, "gamma", minimum=0.0)
  logits, labels, in_range = _prepare(logits, labels)
  ce = _cross_entropy(logits, labels)
  if class_weights is not None:
    weights = v.check_class_vector(class_weights, logits.shape[-1],
                                   "class_weights", nonnegative=True)
    w_y = weights.astype(ce.dtype)[labels]
  else:
    w_y = jnp.ones_like(ce)
  # 1 - p with p = exp(-x), accurate when p is close to 1.
  x = w_y * ce if ldam_repo_parity else ce
  one_minus_p = -jnp.expm1(-x)
  # (1 - p)^gamma with a well-defined value and gradient at p = 1: the loss
  # there is 0 and so is its derivative for gamma > 0.
  positive = one_minus_p > 0
  safe = jnp.where(positive, one_minus_p, 1.0)
  modulator = jnp.where(positive, safe ** gamma,
                        jnp.where(jnp.asarray(gamma) > 0, 0.0, 1.0))
  return _nan_where_out_of_range(modulator * w_y * ce, in_range)


def ldam_margins(class_counts: jax.typing.ArrayLike, *,
                 max_margin: float = 0.5) -> jax.Array:
  r"""Returns the LDAM per-class margins.

  .. math::
    m_c = \mathrm{max\_margin} \cdot \frac{n_c^{-1/4}}{\max_k n_k^{-1/4}}

  Args:
    class_counts: [C] training examples per class, positive.
    max_margin: the margin of the rarest class, >= 0.

  Returns:
    float [C]; for CIFAR-10-LT rho=100 about
    [0.158, 0.180, ..., 0.441, 0.500].

  References:
    Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
  """
  v.check_scalar(max_margin, "max_margin", minimum=0.0)
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  margins = counts ** -0.25
  return margins * (max_margin / jnp.max(margins))


def ldam_loss(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
              class_counts: jax.typing.ArrayLike, max_margin: float = 0.5,
              scale: float = 30.0,
              class_weights: jax.typing.ArrayLike | None = None) -> jax.Array:
  r"""Computes the label-distribution-aware margin (LDAM) loss per example.

  .. math::
    \ell_i = w_{y_i} \, \mathrm{CE}\left(s \cdot (z_i - m_{y_i} e_{y_i}),
    y_i\right)

  The margin m_y (`ldam_margins`) is subtracted from the true-class logit only,
  then all logits are multiplied by `scale` s. The paper pairs it with a
  normalised (cosine) head, so z lies in [-1, 1]; with DRW, pass
  `class_weights=drw_class_weights(step, ...)`.

  Args:
    logits: float [B, C], usually cosine similarities.
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.
    max_margin: margin of the rarest class, >= 0.
    scale: logit scale s > 0.
    class_weights: optional float [C], non-negative.

  Returns:
    float [B] per-example loss.

  References:
    Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
  """
  v.check_scalar(scale, "scale", minimum=0.0)
  logits, labels, in_range = _prepare(logits, labels)
  num_classes = logits.shape[-1]
  v.check_class_vector(class_counts, num_classes, "class_counts",
                       positive=True)
  margins = ldam_margins(class_counts, max_margin=max_margin)
  margins = margins.astype(logits.dtype)
  one_hot = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype)
  adjusted = scale * (logits - one_hot * margins[labels][..., None])
  loss = _cross_entropy(adjusted, labels)
  loss = _apply_class_weights(loss, labels, class_weights, num_classes)
  return _nan_where_out_of_range(loss, in_range)


def logit_adjusted_loss(logits: jax.typing.ArrayLike,
                        labels: jax.typing.ArrayLike, *,
                        class_priors: jax.typing.ArrayLike,
                        tau: float = 1.0) -> jax.Array:
  r"""Computes the logit-adjusted softmax cross-entropy per example.

  .. math::
    \ell_i = -\log \mathrm{softmax}(z_i + \tau \log \pi)_{y_i}

  Fisher-consistent for the balanced error when tau = 1: the minimiser's
  raw logits z (used for prediction, without the adjustment) rank classes by
  p(x | y). The priors need not be normalised (a constant factor cancels). The
  original code adds 1e-12 inside the log; ltjax requires positive priors
  instead, so a class with no data is reported rather than given a huge
  negative offset.

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    class_priors: float [C], positive (e.g. `class_priors(class_counts)`).
    tau: temperature, >= 0 (tau = 0 is plain cross-entropy).

  Returns:
    float [B] per-example loss.

  References:
    Menon et al., Long-tail learning via logit adjustment, ICLR 2021
    (arXiv 2007.07314).
  """
  v.check_scalar(tau, "tau", minimum=0.0)
  logits, labels, in_range = _prepare(logits, labels)
  log_priors = _log_class_vector(class_priors, logits.shape[-1],
                                 "class_priors")
  adjusted = logits + jnp.asarray(tau, logits.dtype) * log_priors.astype(
      logits.dtype)
  return _nan_where_out_of_range(_cross_entropy(adjusted, labels), in_range)


def balanced_softmax_loss(logits: jax.typing.ArrayLike,
                          labels: jax.typing.ArrayLike, *,
                          class_counts: jax.typing.ArrayLike) -> jax.Array:
  r"""Computes the balanced softmax cross-entropy per example.

  .. math::
    \ell_i = -\log \mathrm{softmax}(z_i + \log n)_{y_i}

  Equal to `logit_adjusted_loss` with tau = 1 (log n and log pi differ by the
  constant log N, which cancels in the softmax).

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.

  Returns:
    float [B] per-example loss.

  References:
    Ren et al., Balanced Meta-Softmax for Long-Tailed Visual Recognition,
    NeurIPS 2020 (arXiv 2007.10740).
  """
  logits, labels, in_range = _prepare(logits, labels)
  log_counts = _log_class_vector(class_counts, logits.shape[-1],
                                 "class_counts")
  loss = _cross_entropy(logits + log_counts.astype(logits.dtype), labels)
  return _nan_where_out_of_range(loss, in_range)


def pairwise_margin_loss(logits: jax.typing.ArrayLike,
                         labels: jax.typing.ArrayLike, *,
                         margins: jax.typing.ArrayLike,
                         class_weights: jax.typing.ArrayLike | None = None
                         ) -> jax.Array:
  r"""Computes the general pairwise-margin softmax loss per example.

  .. math::
    \ell_i = \alpha_{y_i} \log\Big(1 + \sum_{y' \ne y_i}
    e^{\Delta_{y_i y'} + z_{i y'} - z_{i y_i}}\Big)

  Special cases: Delta_{yy'} = tau log(pi_{y'} / pi_y) with alpha = 1 is the
  logit-adjusted loss; Delta = 0 with alpha_y = 1 / pi_y the balanced
  (re-weighted) loss; Delta_{yy'} = m_y an LDAM-style margin (without scale).
  The diagonal of Delta is ignored.

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    margins: float [C, C], Delta[y, y'] the margin of class y' against y.
    class_weights: optional float [C], alpha, non-negative.

  Returns:
    float [B] per-example loss.

  References:
    Menon et al., Long-tail learning via logit adjustment, ICLR 2021
    (arXiv 2007.07314), Eq. 11.
  """
  logits, labels, in_range = _prepare(logits, labels)
  num_classes = logits.shape[-1]
  values = v.concrete(margins)
  margins = jnp.asarray(margins)
  if margins.shape != (num_classes, num_classes):
    raise ValueError(
        f"margins must have shape [C, C] = {(num_classes, num_classes)} for "
        f"{num_classes} classes, got {margins.shape}.")
  if values is not None and not np.all(np.isfinite(values)):
    raise ValueError("margins must be finite; use a large finite margin "
                     "rather than inf to exclude a class pair.")
  delta = margins.astype(logits.dtype)[labels]  # [B, C]
  exponents = delta + logits - _true_class(logits, labels)[..., None]
  # The y' = y term becomes exp(0) = 1, the "1 +" of the formula.
  on_label = jax.nn.one_hot(labels, num_classes, dtype=bool)
  exponents = jnp.where(on_label, 0.0, exponents)
  loss = jax.nn.logsumexp(exponents, axis=-1)
  loss = _apply_class_weights(loss, labels, class_weights, num_classes)
  return _nan_where_out_of_range(loss, in_range)


def weighted_mean(per_example: jax.typing.ArrayLike,
                  labels: jax.typing.ArrayLike, *,
                  class_weights: jax.typing.ArrayLike) -> jax.Array:
  r"""Reduces per-example values with class weights, as PyTorch does.

  .. math::
    \bar\ell = \frac{\sum_i w_{y_i} \ell_i}{\sum_i w_{y_i}}

  This matches `torch.nn.functional.cross_entropy(weight=w)` when
  `per_example` is the *unweighted* cross-entropy. Do not pass a loss that
  already multiplies by w_y, or the weights apply twice.

  A label outside [0, C) raises a `ValueError` when the labels are concrete;
  traced under `jax.jit` it gets the weight NaN, so the mean is NaN (it is
  never given the weight of class C - 1, as plain indexing of -1 would).

  Args:
    per_example: float [B].
    labels: int [B] in [0, C).
    class_weights: float [C], non-negative.

  Returns:
    float scalar.
  """
  per_example = jnp.asarray(per_example)
  if not jnp.issubdtype(per_example.dtype, jnp.floating):
    raise ValueError(
        f"per_example must be floating-point, got dtype {per_example.dtype}.")
  label_values = v.concrete(labels)
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(
        f"labels must be integer class indices, got dtype {labels.dtype}.")
  v.check_same_shape(labels, per_example, "labels", "per_example")
  weights = v.check_class_vector(class_weights, None, "class_weights",
                                 nonnegative=True)
  num_classes = weights.shape[0]
  v.check_label_values(label_values, num_classes)
  dtype = v.float_dtype(per_example)
  labels, in_range = v.safe_labels(labels, num_classes)
  w_y = _nan_where_out_of_range(weights.astype(dtype)[labels], in_range)
  return jnp.sum(w_y * per_example.astype(dtype)) / jnp.sum(w_y)
