"""Input mixing (mixup, CutMix) and mixed targets (Remix, soft labels).

Every function is pure and jittable: lambda and the keys may be traced, so one
compiled train step serves every draw. Images are NHWC float arrays
(B, H, W, C); labels are int [B].
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v


def sample_lambda(key: jax.Array, *, alpha: Any) -> jax.Array:
  r"""Draws the mixing coefficient lambda ~ Beta(alpha, alpha).

  As in the originals (`np.random.beta(alpha, alpha) if alpha > 0 else 1`),
  `alpha <= 0` gives lambda = 1, i.e. no mixing. `alpha` may be a Python
  number or a traced scalar; a traced `alpha <= 0` also gives 1.

  Args:
    key: a PRNG key.
    alpha: Beta concentration alpha (both parameters); 1 is uniform on
      [0, 1], small values push lambda towards 0 and 1.

  Returns:
    float32 scalar in [0, 1].

  Example:
    >>> lam = sample_lambda(jax.random.key(0), alpha=1.0)

  References:
    Zhang et al., mixup: Beyond Empirical Risk Minimization, arXiv 1710.09412.
  """
  v.check_scalar(alpha, "alpha")
  value = v.concrete(alpha)
  if value is not None and float(value) <= 0:
    return jnp.float32(1.0)
  alpha = jnp.asarray(alpha, jnp.float32)
  # A traced alpha <= 0 would make Beta NaN: draw with a valid one, then pick.
  safe = jnp.where(alpha > 0, alpha, 1.0)
  lam = jax.random.beta(key, safe, safe, dtype=jnp.float32)
  return jnp.where(alpha > 0, lam, jnp.float32(1.0))


def check_pair(inputs_a: Any, inputs_b: Any, *, min_ndim: int = 1
                ) -> tuple[jax.Array, jax.Array]:
  """Checks two floating arrays of one shape and dtype, ndim >= min_ndim."""
  a = jnp.asarray(inputs_a)
  b = jnp.asarray(inputs_b)
  for name, x in (("inputs_a", a), ("inputs_b", b)):
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise ValueError(
          f"{name} must be a floating-point array, got dtype {x.dtype}; "
          f"convert images first, e.g. {name}.astype(jnp.float32) / 255.")
    if x.ndim < min_ndim:
      raise ValueError(
          f"{name} must have at least {min_ndim} axes (a batch axis first"
          f"{', then H and W' if min_ndim >= 3 else ''}), got shape "
          f"{x.shape}.")
  v.check_same_shape(b, a, "inputs_b", "inputs_a",
                     " Mix two batches of the same size and image shape.")
  if a.dtype != b.dtype:
    raise ValueError(
        f"inputs_a has dtype {a.dtype} but inputs_b has dtype {b.dtype}; "
        f"cast one so they match.")
  return a, b


def _batch_lambda(lam: Any, batch: int, name: str = "lam") -> jax.Array:
  """lam as float32 [B]: a scalar broadcast, or a [B] vector checked."""
  lam = jnp.asarray(lam)
  if lam.ndim == 0:
    return jnp.broadcast_to(lam.astype(jnp.float32), (batch,))
  if lam.shape != (batch,):
    raise ValueError(
        f"{name} must be a scalar or a vector of shape [B] = ({batch},), got "
        f"shape {lam.shape}.")
  return lam.astype(jnp.float32)


def mixup(inputs_a: jax.typing.ArrayLike, inputs_b: jax.typing.ArrayLike,
          lam: jax.typing.ArrayLike) -> jax.Array:
  r"""Mixes two batches: x = lam * a + (1 - lam) * b.

  .. math::
    \tilde x_i = \lambda x^a_i + (1 - \lambda) x^b_i

  The matching target weight of `labels_a` is `lam` (see `mixed_targets`).
  `inputs_b` is usually `inputs_a[perm]` (a shuffled copy of the batch) or a
  second, class-balanced batch.

  Args:
    inputs_a: float [B, ...] (images NHWC, or features).
    inputs_b: float [B, ...], same shape and dtype.
    lam: a scalar, or float [B] (one lambda per example), broadcast over the
      trailing axes.

  Returns:
    The mixed batch, shape and dtype of `inputs_a` (computed in float32 or
    wider, then cast back).

  Example:
    >>> x = mixup(images, images[perm], sample_lambda(key, alpha=1.0))

  References:
    Zhang et al., mixup: Beyond Empirical Risk Minimization, arXiv 1710.09412.
  """
  a, b = check_pair(inputs_a, inputs_b)
  lam = _batch_lambda(lam, a.shape[0])
  dtype = v.float_dtype(a)
  lam = lam.astype(dtype).reshape((-1,) + (1,) * (a.ndim - 1))
  mixed = lam * a.astype(dtype) + (1 - lam) * b.astype(dtype)
  return mixed.astype(a.dtype)


def box_bounds(key: jax.Array, lam: jax.Array, height: int, width: int, *,
                ceil: bool) -> tuple[jax.Array, ...]:
  """CutMix's `rand_bbox`: (top, bottom, left, right), half-open, clipped."""
  ratio = jnp.sqrt(jnp.clip(1.0 - lam, 0.0, 1.0))
  rounding = jnp.ceil if ceil else jnp.floor
  cut_h = rounding(height * ratio).astype(jnp.int32)
  cut_w = rounding(width * ratio).astype(jnp.int32)
  key_h, key_w = jax.random.split(key)
  centre_h = jax.random.randint(key_h, (), 0, height)
  centre_w = jax.random.randint(key_w, (), 0, width)
  top = jnp.clip(centre_h - cut_h // 2, 0, height)
  bottom = jnp.clip(centre_h + cut_h // 2, 0, height)
  left = jnp.clip(centre_w - cut_w // 2, 0, width)
  right = jnp.clip(centre_w + cut_w // 2, 0, width)
  return top, bottom, left, right


def paste_box(a: jax.Array, b: jax.Array, bounds: tuple[jax.Array, ...]
               ) -> jax.Array:
  """`a` with the pixels of the half-open box `bounds` taken from `b`."""
  top, bottom, left, right = bounds
  rows = jnp.arange(a.shape[1])
  cols = jnp.arange(a.shape[2])
  in_rows = (rows >= top) & (rows < bottom)
  in_cols = (cols >= left) & (cols < right)
  mask = in_rows[:, None] & in_cols[None, :]
  mask = mask.reshape((1,) + mask.shape + (1,) * (a.ndim - 3))
  return jnp.where(mask, b, a)


def box_lambda(bounds: tuple[Any, ...], height: int, width: int) -> jax.Array:
  """lambda' = 1 - box area / (H W); box = (top, bottom, left, right)."""
  top, bottom, left, right = (jnp.asarray(x, jnp.float32) for x in bounds)
  area = (bottom - top) * (right - left)
  return 1.0 - area / jnp.float32(height * width)


def cutmix(inputs_a: jax.typing.ArrayLike, inputs_b: jax.typing.ArrayLike,
           lam: jax.typing.ArrayLike, key: jax.Array
           ) -> tuple[jax.Array, jax.Array]:
  r"""Pastes one random box of `inputs_b` into `inputs_a`; returns (x, lam').

  The official `rand_bbox` (clovaai/CutMix-PyTorch), one box for the whole
  batch:

  .. math::
    r = \sqrt{1 - \lambda},\quad c_h = \lfloor H r \rfloor,\quad
    c_w = \lfloor W r \rfloor,\quad y \sim U\{0..H-1\},\ x \sim U\{0..W-1\}

  rows [clip(y - c_h // 2), clip(y + c_h // 2)) and columns
  [clip(x - c_w // 2), clip(x + c_w // 2)), clipped to the image; inside the
  box the pixels come from `inputs_b`. The returned weight of `labels_a` is
  recomputed from the clipped box,

  .. math::
    \lambda' = 1 - \frac{\text{box area}}{H W},

  so it equals the fraction of pixels that still come from `inputs_a`
  exactly. Note the box side is 2 (c // 2), i.e. c - 1 for an odd c, as in
  the original; lambda = 1 gives an empty box and lambda' = 1.

  Layout: NHWC, H is axis 1 and W axis 2 (trailing axes, e.g. channels, are
  broadcast). The original works on NCHW and names `size[2]` "W" and
  `size[3]` "H", indexing `x[:, :, bbx1:bbx2, bby1:bby2]`: its "x" box
  coordinates run along the height axis and its "y" ones along the width.
  Each axis's extent and centre still come from that axis's own size, so the
  swap is in the names only: the distribution of boxes (and of lambda') is
  the same as here, for square and non-square images alike.

  Jittable with a traced `lam` and `key`: the box is an iota-comparison mask,
  no dynamic slicing, so every box shape runs in one compiled step.

  Args:
    inputs_a: float [B, H, W, ...] images (NHWC).
    inputs_b: float [B, H, W, ...], same shape and dtype (e.g.
      `inputs_a[perm]`).
    lam: scalar lambda in [0, 1], e.g. from `sample_lambda`; sets the box's
      target area (1 - lam) H W before clipping.
    key: PRNG key for the box centre.

  Returns:
    (mixed images, shape and dtype of `inputs_a`; lam' float32 scalar, the
    weight of `labels_a`).

  Example:
    >>> x, lam_box = cutmix(images, images[perm], lam, key)
    >>> targets = mixed_targets(labels, labels[perm], lam_box, num_classes)

  References:
    Yun et al., CutMix: Regularization Strategy to Train Strong Classifiers
    with Localizable Features, arXiv 1905.04899.
  """
  a, b = check_pair(inputs_a, inputs_b, min_ndim=3)
  if jnp.ndim(lam) != 0:
    raise ValueError(
        f"lam must be a scalar (CutMix cuts one box for the whole batch), got "
        f"shape {jnp.shape(lam)}.")
  lam = jnp.asarray(lam, jnp.float32)
  height, width = a.shape[1], a.shape[2]
  bounds = box_bounds(key, lam, height, width, ceil=False)
  return paste_box(a, b, bounds), box_lambda(bounds, height, width)


def check_pair_labels(labels_a: Any, labels_b: Any
                       ) -> tuple[jax.Array, jax.Array]:
  """Two int label vectors [B] of one shape."""
  a = jnp.asarray(labels_a)
  b = jnp.asarray(labels_b)
  for name, x in (("labels_a", a), ("labels_b", b)):
    if not jnp.issubdtype(x.dtype, jnp.integer):
      raise ValueError(
          f"{name} must be integer class indices, got dtype {x.dtype}; cast "
          f"with {name}.astype(jnp.int32).")
    if x.ndim != 1:
      raise ValueError(f"{name} must have shape [B], got shape {x.shape}.")
  v.check_same_shape(b, a, "labels_b", "labels_a")
  return a, b


def remix_targets(lam: jax.typing.ArrayLike, labels_a: jax.typing.ArrayLike,
                  labels_b: jax.typing.ArrayLike, *,
                  class_counts: jax.typing.ArrayLike, kappa: float = 3.0,
                  tau: float = 0.5) -> jax.Array:
  r"""Remix: the weight of `labels_a` in a mixed target, favouring the minority.

  Starting from lambda, with n_a, n_b the training counts of the two labels
  (Bag-of-Tricks `Combiner.remix`, the rules applied in this order, so the
  second wins where both hold):

  .. math::
    w = \lambda;\quad
    w = 0 \text{ if } n_a / n_b \ge \kappa \text{ and } \lambda < \tau;\quad
    w = 1 \text{ if } n_a \kappa / n_b \le 1 \text{ and } 1 - \lambda < \tau.

  The second rule is the paper's n_a / n_b <= 1 / kappa, written as the code
  does. The mixed loss is `w * l(z, y_a) + (1 - w) * l(z, y_b)`. Both rules can
  hold at once only when kappa <= 1 (and tau > 1/2); with the defaults they
  are exclusive.

  Args:
    lam: scalar or float [B], the mixing coefficient of `inputs_a` (e.g. from
      `mixup`'s lambda).
    labels_a: int [B] in [0, C), labels of the first batch.
    labels_b: int [B] in [0, C), labels of the mixed-in batch.
    class_counts: [C] training examples per class, positive.
    kappa: count-ratio threshold kappa.
    tau: lambda threshold tau.

  Returns:
    float32 [B], the weight of `labels_a` (1 - it is that of `labels_b`); NaN
    for a traced label outside [0, C).

  Example:
    >>> w = remix_targets(lam, y, y[perm], class_counts=counts)
    >>> loss = w * ce(z, y) + (1 - w) * ce(z, y[perm])

  References:
    Chou et al., Remix: Rebalanced Mixup, arXiv 2007.03943.
  """
  v.check_scalar(kappa, "kappa", minimum=0.0)
  v.check_scalar(tau, "tau")
  a, b = check_pair_labels(labels_a, labels_b)
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  num_classes = counts.shape[0]
  v.check_label_values(v.concrete(labels_a), num_classes, "labels_a")
  v.check_label_values(v.concrete(labels_b), num_classes, "labels_b")
  lam = _batch_lambda(lam, a.shape[0])
  safe_a, ok_a = v.safe_labels(a, num_classes)
  safe_b, ok_b = v.safe_labels(b, num_classes)
  counts = counts.astype(jnp.float32)
  n_a, n_b = counts[safe_a], counts[safe_b]
  weight = lam
  weight = jnp.where((n_a / n_b >= kappa) & (lam < tau), 0.0, weight)
  weight = jnp.where((n_a * kappa / n_b <= 1) & (1 - lam < tau), 1.0, weight)
  return jnp.where(ok_a & ok_b, weight, jnp.nan)


def mixed_targets(labels_a: jax.typing.ArrayLike,
                  labels_b: jax.typing.ArrayLike,
                  weight_a: jax.typing.ArrayLike, num_classes: int, *,
                  class_weights: jax.typing.ArrayLike | None = None
                  ) -> jax.Array:
  r"""Soft targets w e_{y_a} + (1 - w) e_{y_b}, for losses on soft labels.

  .. math::
    t_{i,c} = s_c \left(w_i [y^a_i = c] + (1 - w_i) [y^b_i = c]\right)

  with s_c = `class_weights` (1 when None). GLMC's re-balanced targets are
  `class_weights = losses.inverse_frequency_weights(counts, power=1.2)`: their
  rows no longer sum to 1.

  ltjax itself applies mixing to any per-example loss l (every loss in its
  registry, including those that take integer labels only) as

  .. math::
    w \, \ell(z, y_a) + (1 - w) \, \ell(z, y_b),

  which for cross-entropy equals the cross-entropy with these soft targets
  (CE is linear in the target); the engine's objective does that. Use these
  targets for a loss written on soft labels.

  Args:
    labels_a: int [B] in [0, C).
    labels_b: int [B] in [0, C).
    weight_a: scalar or float [B], the weight of `labels_a` (lambda, CutMix's
      box lambda, or `remix_targets`).
    num_classes: C.
    class_weights: optional float [C], multiplying column c.

  Returns:
    float32 [B, C]; an out-of-range label contributes a zero row part (as
    `jax.nn.one_hot`).

  References:
    Zhang et al. arXiv 1710.09412; Yun et al. arXiv 1905.04899.
  """
  if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
    raise ValueError(
        f"num_classes must be a positive Python int (it sets the shape), got "
        f"{num_classes!r}.")
  a, b = check_pair_labels(labels_a, labels_b)
  v.check_label_values(v.concrete(labels_a), num_classes, "labels_a")
  v.check_label_values(v.concrete(labels_b), num_classes, "labels_b")
  w = _batch_lambda(weight_a, a.shape[0], "weight_a")[:, None]
  targets = (w * jax.nn.one_hot(a, num_classes, dtype=jnp.float32)
             + (1 - w) * jax.nn.one_hot(b, num_classes, dtype=jnp.float32))
  if class_weights is not None:
    weights = v.check_class_vector(class_weights, num_classes,
                                   "class_weights", nonnegative=True)
    targets = targets * weights.astype(jnp.float32)[None, :]
  return targets
