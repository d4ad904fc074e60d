"""Classifier heads: linear, and normalised (cosine) as in LDAM's NormedLinear.

Every ltjax model ends in a submodule named `head`, a `Head`, applied to the
pooled penultimate features. Its parameters, `params["head"]`, are

  kind="linear":      {"kernel": float32 [D, C], "bias": float32 [C]}
  kind="normalized":  {"kernel": float32 [D, C]}

(D feature dimension, C classes), the layout of `flax.linen.Dense`, so the
head can be applied on its own, e.g. to cached features when re-training the
classifier of a frozen backbone:

  logits = apply_head(params["head"], features, kind="linear")
  # or, with a fresh head initialised exactly as the model's own:
  head = head_of(model)
  head_params = head.init(rng, features[:1])["params"]

The head always computes in float32 (it is a [B, D] x [D, C] product, a tiny
cost) and returns float32 logits, whatever the backbone's compute dtype.
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax.models import _layers

HEADS = ("linear", "normalized")

# F.normalize's eps in the LDAM repo's NormedLinear.
_NORM_EPS = 1e-12


def check_head_kind(kind: str, name: str = "head") -> None:
  """Raises a ValueError naming the known heads if `kind` is not one."""
  if kind not in HEADS:
    raise ValueError(
        f"Unknown {name} {kind!r}; known heads: {', '.join(HEADS)}.")


def _l2_normalize(x: jax.Array, axis: int) -> jax.Array:
  """x / max(||x||, eps) along `axis`, with a finite gradient at x = 0."""
  sq = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
  return x * jax.lax.rsqrt(jnp.maximum(sq, _NORM_EPS**2))


def linear_logits(features: jax.Array, kernel: jax.Array,
                  bias: jax.Array) -> jax.Array:
  """Computes z = h W + b in float32.

  Args:
    features: float [B, D].
    kernel: float [D, C].
    bias: float [C].

  Returns:
    float32 [B, C] logits.
  """
  f32 = jnp.float32
  return features.astype(f32) @ kernel.astype(f32) + bias.astype(f32)


def cosine_logits(features: jax.Array, kernel: jax.Array) -> jax.Array:
  r"""Computes cosine logits z_c = (h / ||h||) . (W_c / ||W_c||) in float32.

  .. math::
    z_{bc} = \frac{h_b}{\max(\|h_b\|, \epsilon)} \cdot
             \frac{W_{:,c}}{\max(\|W_{:,c}\|, \epsilon)}, \quad
    \epsilon = 10^{-12}

  Each z lies in [-1, 1]; no bias and no scale: the loss multiplies by s
  (LDAM: s = 30). This is the LDAM-DRW repo's `NormedLinear`
  (`F.normalize(x, dim=1).mm(F.normalize(W, dim=0))`).

  Args:
    features: float [B, D].
    kernel: float [D, C]; column c is class c's weight vector.

  Returns:
    float32 [B, C] logits in [-1, 1].

  References:
    Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
  """
  f32 = jnp.float32
  return (_l2_normalize(features.astype(f32), axis=-1)
          @ _l2_normalize(kernel.astype(f32), axis=0))


def apply_head(params: Mapping[str, Any], features: jax.typing.ArrayLike, *,
               kind: str) -> jax.Array:
  """Applies a head's parameters to features, without a module; jittable.

  Args:
    params: the head's parameters, e.g. `variables["params"]["head"]`:
      {"kernel": [D, C], "bias": [C]} for "linear", {"kernel": [D, C]} for
      "normalized".
    features: float [B, D], e.g. the features a model returned.
    kind: "linear" or "normalized".

  Returns:
    float32 [B, C] logits.
  """
  check_head_kind(kind, "kind")
  if "kernel" not in params:
    raise ValueError(
        f"params must hold the head's 'kernel' [D, C], got keys "
        f"{sorted(params)}; pass variables['params']['head'].")
  kernel = params["kernel"]
  features = jnp.asarray(features)
  if features.ndim != 2 or features.shape[-1] != kernel.shape[0]:
    raise ValueError(
        f"features must have shape [B, {kernel.shape[0]}] to match the head's "
        f"kernel {tuple(kernel.shape)}, got shape {features.shape}.")
  if kind == "normalized":
    return cosine_logits(features, kernel)
  if "bias" not in params:
    raise ValueError(
        "kind='linear' needs params['bias'] [C], but params has keys "
        f"{sorted(params)}; were these the parameters of a normalized head?")
  return linear_logits(features, kernel, params["bias"])


def unit_columns_uniform(key: jax.Array, shape: tuple[int, ...],
                         dtype: Any = jnp.float32) -> jax.Array:
  """LDAM's NormedLinear init: U(-1, 1), then each column scaled to norm 1.

  (`weight.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)` for a weight of
  shape [D, C].) The forward pass normalises the columns anyway; their norm
  only sets the size of the gradient, which scales as 1 / ||W_c||.
  """
  w = jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
  return (w / jnp.linalg.norm(w, axis=0, keepdims=True)).astype(dtype)


def torch_linear_bias_init(fan_in: int) -> _layers.Initializer:
  """PyTorch's default `nn.Linear` bias init, U(-1/sqrt(D), 1/sqrt(D))."""
  bound = 1.0 / (fan_in ** 0.5)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


class Head(nn.Module):
  """A classifier head on pooled features, usable inside a model or alone.

  Attributes:
    num_classes: C.
    kind: "linear" (Dense with bias) or "normalized" (cosine logits, no bias).
    kernel_init: initializer of the linear head's kernel [D, C]. The
      normalized head always uses `unit_columns_uniform` (LDAM's init). The
      linear bias always uses PyTorch's default U(-1/sqrt(D), 1/sqrt(D)).
  """
  num_classes: int
  kind: str = "linear"
  kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, features: jax.Array) -> jax.Array:
    """Maps float [B, D] features to float32 [B, C] logits."""
    check_head_kind(self.kind, "kind")
    dim = features.shape[-1]
    shape = (dim, self.num_classes)
    f32 = _layers.PARAM_DTYPE
    if self.kind == "normalized":
      params = {"kernel": self.param("kernel", unit_columns_uniform, shape,
                                     f32)}
    else:
      params = {
          "kernel": self.param("kernel", self.kernel_init, shape, f32),
          "bias": self.param("bias", torch_linear_bias_init(dim),
                             (self.num_classes,), f32),
      }
    return apply_head(params, features, kind=self.kind)


def make_head(model: nn.Module, name: str | None = None) -> Head:
  """The `Head` of `model` (fields num_classes, head, head_kernel_init)."""
  return Head(num_classes=model.num_classes, kind=model.head,
              kernel_init=model.head_kernel_init, name=name)


def head_of(model: nn.Module) -> Head:
  """Returns a standalone `Head` identical to the one `model` applies.

  Its parameters have the layout of `params["head"]`, and its initializers
  are the model's, so `head_of(model).init(rng, features[:1])["params"]`
  re-initialises the classifier as training from scratch would (e.g. for
  classifier re-training, cRT, on a frozen backbone).

  Args:
    model: an unbound ltjax model (from `build_model`).

  Returns:
    An unbound `Head`.
  """
  return make_head(model)
