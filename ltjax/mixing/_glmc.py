"""GLMC: global (mixup) and local (CutMix) mixture consistency, cumulative.

Du et al., Global and Local Mixture Consistency Cumulative Learning for
Long-tailed Visual Recognitions, CVPR 2023, arXiv 2305.08661; official code
github.com/ynu-yangpeng/GLMC (`Trainer.train`, `utils.util.GLMC_mixed`,
`model/ResNet_cifar.py`). What the official training step does, per batch:

1. Two loaders: a uniform one (shuffled, each image once per epoch) and a
   "weighted" one (`WeightedRandomSampler`, *with replacement*, example
   weight n_y^-q normalised, q = `--resample_weighting`; so class c is drawn
   with probability proportional to n_c^(1-q); q = 0 in the CIFAR-LT rho=100
   commands, i.e. a second uniform draw). Each image comes as two augmented
   views (`TwoCropTransform`); the weighted batch is cut to the uniform
   batch's size.
2. `glmc_mix`: one lambda ~ Beta(1, 1) for both mixes; global view = mixup of
   view 1 with the weighted batch's view 1; local view = view 2 with a box of
   the weighted batch's view 2 pasted in (box side ceil(S sqrt(1 - lambda)));
   both targets use the same lambda (not recomputed from the box).
3. The model runs on each view separately (so BatchNorm normalises each view
   with its own batch statistics and updates its running statistics twice)
   and returns the ordinary classifier's logits o, the second ("cb")
   classifier's logits c, the projection h = projector(features) and the
   prediction u = predictor(h) (`GLMCHeads`).
4. Loss = a (CE(o_g; t_g) + CE(o_l; t_l))
   + (1 - a) (CE(c_g; s t_g) + CE(c_l; s t_l))
   + contrast_weight (simsiam(u_g, h_l) + simsiam(u_l, h_g)),
   a = `cumulative_weight(epoch, num_epochs)`, t the mixed one-hot targets,
   CE the soft-target CE, s_c = C n_c^-g / sum_k n_k^-g
   (g = `--label_weighting`, 1.2 in the CIFAR-LT commands); `glmc_loss`.
5. Test time uses the second (cb) classifier only. The repository's MaxNorm
   (`utils/regularizers.MaxNorm_via_PGD`, on `fc_cb.weight` only) is never
   called by its training code.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax import _validation as v
from ltjax import models
from ltjax.mixing import _mix


class GLMCViews(NamedTuple):
  """GLMC's two mixed batches and their label weights.

  Attributes:
    mixup_images: float [B, H, W, ...], the global view.
    cutmix_images: float [B, H, W, ...], the local view.
    mixup_weight: float32 scalar, the weight of `labels` in the global view.
    cutmix_weight: float32 scalar, the weight of `labels` in the local view.
    labels: int [B], labels of the (uniformly sampled) batch.
    labels_balanced: int [B], labels of the re-sampled batch mixed in.
  """
  mixup_images: jax.Array
  cutmix_images: jax.Array
  mixup_weight: jax.Array
  cutmix_weight: jax.Array
  labels: jax.Array
  labels_balanced: jax.Array


def _two_views(images: Any, name: str) -> tuple[jax.Array, jax.Array]:
  """(view 1, view 2) from a pair of arrays or one array used twice."""
  if isinstance(images, Sequence) and not hasattr(images, "shape"):
    if len(images) != 2:
      raise ValueError(
          f"{name} must be one batch [B, H, W, C] or a pair (view_1, view_2) "
          f"of two augmentations of it, got a sequence of {len(images)}.")
    return jnp.asarray(images[0]), jnp.asarray(images[1])
  images = jnp.asarray(images)
  return images, images


def glmc_mix(key: jax.Array, images: Any, images_balanced: Any,
             labels: jax.typing.ArrayLike,
             labels_balanced: jax.typing.ArrayLike, *, alpha: float = 1.0,
             exact_box_lambda: bool = False) -> GLMCViews:
  r"""Makes GLMC's global (mixup) and local (CutMix) views, one lambda.

  As the official `GLMC_mixed`, with x = `images`, x' = `images_balanced`
  (superscripts 1, 2 the two augmented views):

  .. math::
    \lambda \sim \mathrm{Beta}(\alpha, \alpha),\quad
    x_g = \lambda x^1 + (1 - \lambda) x'^1,\quad
    x_l = M \odot x^2 + (1 - M) \odot x'^2,

  M zero inside one box for the whole batch, and both views' targets
  lambda e_y + (1 - lambda) e_y'. The box follows CutMix's `rand_bbox` but
  with ceil(S sqrt(1 - lambda)) sides (the GLMC copy rounds up, CutMix down),
  and the local view's label weight is lambda itself, not the clipped box's
  area fraction (`exact_box_lambda=True` uses the area fraction instead, as
  CutMix does). The original's `--beta` flag (0.5 in its commands) draws a
  lambda in `Trainer.train` that is never used: `GLMC_mixed` draws its own
  with its default alpha = 1, the default here.

  Args:
    key: PRNG key (lambda and the box centre).
    images: float [B, H, W, C], or a pair (view_1, view_2) of two augmented
      views of the batch (the original's `TwoCropTransform`); one array is
      used for both views.
    images_balanced: the same for the re-sampled (weighted) batch.
    labels: int [B], labels of `images`.
    labels_balanced: int [B], labels of `images_balanced`.
    alpha: Beta concentration; <= 0 gives lambda = 1 (no mixing).
    exact_box_lambda: weight the local view's labels by the clipped box's
      area fraction instead of lambda.

  Returns:
    `GLMCViews`.

  References:
    Du et al., arXiv 2305.08661 (CVPR 2023); Zhang et al. 1710.09412; Yun et
    al. 1905.04899.
  """
  view_1, view_2 = _two_views(images, "images")
  bal_1, bal_2 = _two_views(images_balanced, "images_balanced")
  _mix.check_pair(view_1, view_2, min_ndim=3)
  _mix.check_pair(bal_1, bal_2, min_ndim=3)
  _mix.check_pair(view_1, bal_1, min_ndim=3)
  labels, labels_balanced = _mix.check_pair_labels(
      labels, labels_balanced)
  if labels.shape[0] != view_1.shape[0]:
    raise ValueError(
        f"labels has {labels.shape[0]} entries but images hold "
        f"{view_1.shape[0]} examples; pass one label per image.")
  key_lam, key_box = jax.random.split(key)
  lam = _mix.sample_lambda(key_lam, alpha=alpha)
  global_view = _mix.mixup(view_1, bal_1, lam)
  height, width = view_2.shape[1], view_2.shape[2]
  bounds = _mix.box_bounds(key_box, lam, height, width, ceil=True)
  local_view = _mix.paste_box(view_2, bal_2, bounds)
  local_weight = (_mix.box_lambda(bounds, height, width) if exact_box_lambda
                  else lam)
  return GLMCViews(global_view, local_view, lam, local_weight, labels,
                   labels_balanced)


def _cosine(x: jax.Array, y: jax.Array, eps: float = 1e-8) -> jax.Array:
  """`F.cosine_similarity(x, y, dim=-1)`: x.y / (max(|x|, e) max(|y|, e))."""
  nx = jnp.maximum(jnp.linalg.norm(x, axis=-1), eps)
  ny = jnp.maximum(jnp.linalg.norm(y, axis=-1), eps)
  return jnp.sum(x * y, axis=-1) / (nx * ny)


def simsiam_loss(p: jax.typing.ArrayLike, z: jax.typing.ArrayLike
                 ) -> jax.Array:
  r"""Negative cosine similarity with a stop-gradient on the target z.

  .. math::
    \ell_i = -\frac{p_i \cdot \mathrm{sg}(z_i)}
    {\max(\lVert p_i\rVert, \epsilon)\max(\lVert z_i\rVert, \epsilon)},
    \quad \epsilon = 10^{-8}

  GLMC's `SimSiamLoss` ("simplified" version, `F.cosine_similarity`),
  per example; the original returns the batch mean. The eps clamps each norm,
  as current PyTorch does (the PyTorch 1.10 the original pins clamps their
  product; the two differ only for near-zero vectors).

  Args:
    p: float [B, K], predictions (predictor outputs).
    z: float [B, K], targets (projector outputs of the other view); no
      gradient flows into them.

  Returns:
    float [B], in [-1, 1].

  References:
    Chen & He, Exploring Simple Siamese Representation Learning, arXiv
    2011.10566; Du et al., arXiv 2305.08661.
  """
  p = jnp.asarray(p)
  z = jnp.asarray(z)
  if p.ndim != 2:
    raise ValueError(f"p must have shape [B, K], got shape {p.shape}.")
  v.check_same_shape(z, p, "z", "p")
  dtype = v.float_dtype(p, z)
  return -_cosine(p.astype(dtype), jax.lax.stop_gradient(z).astype(dtype))


def mixture_consistency_loss(p_global: jax.typing.ArrayLike,
                             z_global: jax.typing.ArrayLike,
                             p_local: jax.typing.ArrayLike,
                             z_local: jax.typing.ArrayLike) -> jax.Array:
  r"""GLMC's symmetric consistency between the mixup and CutMix views.

  .. math::
    \ell_i = \mathrm{simsiam}(p^g_i, z^l_i) + \mathrm{simsiam}(p^l_i, z^g_i)

  (the original's `SimSiamLoss(p1, z2) + SimSiamLoss(p2, z1)`, summed, not
  averaged; range [-2, 2]).

  Args:
    p_global: float [B, K], predictor output on the global (mixup) view.
    z_global: float [B, K], projector output on the global view.
    p_local: float [B, K], predictor output on the local (CutMix) view.
    z_local: float [B, K], projector output on the local view.

  Returns:
    float [B].

  References:
    Du et al., arXiv 2305.08661.
  """
  return simsiam_loss(p_global, z_local) + simsiam_loss(p_local, z_global)


def cumulative_weight(epoch: jax.typing.ArrayLike,
                      num_epochs: jax.typing.ArrayLike) -> jax.Array:
  r"""GLMC's cumulative coefficient a = 1 - (epoch / num_epochs)^2.

  `epoch` counts from 0 as in the original (`for epoch in range(epochs)`), so
  a runs from 1 at the first epoch to 1 - ((E - 1) / E)^2 at the last (about
  0.02 for E = 200), never 0. The loss is a * (ordinary classifier's loss) +
  (1 - a) * (re-balanced classifier's loss). The original holds it constant
  within an epoch (an integer epoch); a fractional epoch (step / steps per
  epoch) gives a smooth version. Jittable: `epoch` may be traced.

  Args:
    epoch: scalar, 0-based epoch (int or float).
    num_epochs: scalar E > 0.

  Returns:
    float32 scalar.

  References:
    Du et al., arXiv 2305.08661 (after BBN's cumulative learning, Zhou et al.
    arXiv 1912.02413, which uses 1 - (T / T_max)^2 too).
  """
  v.check_scalar(epoch, "epoch", minimum=0)
  v.check_scalar(num_epochs, "num_epochs")
  value = v.concrete(num_epochs)
  if value is not None and value <= 0:
    raise ValueError(f"num_epochs must be positive, got {value}.")
  ratio = (jnp.asarray(epoch, jnp.float32)
           / jnp.asarray(num_epochs, jnp.float32))
  return 1.0 - ratio ** 2


def _soft_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """-sum_c t_c log softmax(z)_c, per row, float32 [B]."""
  logits = v.check_logits(logits).astype(jnp.float32)
  if targets.shape != logits.shape:
    raise ValueError(
        f"logits must have shape {targets.shape} (one row of C logits per "
        f"example), got shape {logits.shape}.")
  return -jnp.sum(jax.nn.log_softmax(logits, axis=-1) * targets, axis=-1)


def glmc_loss(outputs_global: Mapping[str, jax.Array],
              outputs_local: Mapping[str, jax.Array], views: GLMCViews, *,
              class_weights: jax.typing.ArrayLike,
              weight: jax.typing.ArrayLike,
              contrast_weight: float) -> jax.Array:
  r"""GLMC's per-example training loss on the two mixed views.

  .. math::
    \ell = a\,[\mathrm{CE}(z_g, t_g) + \mathrm{CE}(z_l, t_l)]
    + (1 - a)\,[\mathrm{CE}(c_g, s \odot t_g) + \mathrm{CE}(c_l, s \odot t_l)]
    + \beta\,[\mathrm{simsiam}(p_g, z^{proj}_l)
    + \mathrm{simsiam}(p_l, z^{proj}_g)]

  t = w e_y + (1 - w) e_y' (`mixed_targets` with the view's weight), CE the
  soft-label cross-entropy -sum_c t_c log softmax(.)_c, s = `class_weights`,
  a = `weight` (`cumulative_weight`), beta = `contrast_weight`. Its batch mean
  is the original's loss (every term there is a batch mean). CE on soft
  targets equals w CE(z, y) + (1 - w) CE(z, y') and the re-balanced term
  w s_y CE(c, y) + (1 - w) s_y' CE(c, y'), so an engine that mixes per-example
  losses gets the same value.

  Args:
    outputs_global: on the global (mixup) view, {"logits": [B, C] the
      model's ordinary classifier, "logits_cb": [B, C], "z": [B, K],
      "p": [B, K]} (the last three from `GLMCHeads`).
    outputs_local: the same on the local (CutMix) view.
    views: the `GLMCViews` the outputs were computed on.
    class_weights: float [C], e.g. `losses.inverse_frequency_weights(counts,
      power=1.2)` (the original's `--label_weighting`, normalised to sum C).
    weight: scalar a in [0, 1].
    contrast_weight: scalar beta >= 0 (`--contrast_weight`: 10 by default in
      the original's parser, 1 / 4 in its CIFAR-10 / CIFAR-100-LT rho=100
      commands).

  Returns:
    float32 [B].

  References:
    Du et al., arXiv 2305.08661.
  """
  v.check_scalar(contrast_weight, "contrast_weight", minimum=0.0)
  v.check_scalar(weight, "weight")
  for name, outputs in (("outputs_global", outputs_global),
                        ("outputs_local", outputs_local)):
    missing = {"logits", "logits_cb", "z", "p"} - set(outputs)
    if missing:
      raise ValueError(
          f"{name} lacks {sorted(missing)}: pass the model's logits as "
          f"'logits' and GLMCHeads' outputs ('logits_cb', 'z', 'p').")
  num_classes = jnp.shape(outputs_global["logits"])[-1]
  s = v.check_class_vector(class_weights, num_classes, "class_weights",
                           nonnegative=True).astype(jnp.float32)
  t_g = _mix.mixed_targets(views.labels, views.labels_balanced,
                           views.mixup_weight, num_classes)
  t_l = _mix.mixed_targets(views.labels, views.labels_balanced,
                           views.cutmix_weight, num_classes)
  a = jnp.asarray(weight, jnp.float32)
  balance = (_soft_cross_entropy(outputs_global["logits"], t_g)
             + _soft_cross_entropy(outputs_local["logits"], t_l))
  rebalance = (_soft_cross_entropy(outputs_global["logits_cb"], t_g * s)
               + _soft_cross_entropy(outputs_local["logits_cb"], t_l * s))
  consistency = mixture_consistency_loss(
      outputs_global["p"], outputs_global["z"], outputs_local["p"],
      outputs_local["z"]).astype(jnp.float32)
  return a * balance + (1 - a) * rebalance + contrast_weight * consistency


def _torch_bias_init(fan_in: int):
  """PyTorch `nn.Linear`'s default bias init, U(-1/sqrt(D), 1/sqrt(D))."""
  bound = 1.0 / (fan_in ** 0.5)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


class _Linear(nn.Module):
  """Dense with a kaiming-normal kernel and PyTorch's default bias init."""
  features: int
  kernel_init: Any = models.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    dim = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init, (dim, self.features),
                        jnp.float32)
    bias = self.param("bias", _torch_bias_init(dim), (self.features,),
                      jnp.float32)
    return x.astype(jnp.float32) @ kernel + bias


class GLMCHeads(nn.Module):
  """GLMC's extra heads on features: cb classifier, projector, predictor.

  As the official `ResNet_modify` (its ResNet-32) / `ResNet` heads:
  `fc_cb = Linear(D, C)` (the re-balanced classifier, the one evaluated at
  test time), `projection_head = Linear(D, K)`, `contrast_head = Linear(K,
  K)` (the predictor), each a single linear layer (no BN, no ReLU);
  K = 128 for ResNet-32, 256 for ResNet-18/34/50 and ResNeXt-50 (ImageNet-LT).
  Note the original's "ResNet-32" (`ResNet_modify`, nf = 64) is four times
  as wide as the usual one (stages of 64/128/256 channels, D = 256, about
  7.4M parameters instead of 0.46M).
  The original's ordinary classifier `fc` is the model's own head. Init as
  the original ResNet-32: kaiming-normal (fan-in, gain sqrt 2) kernels,
  PyTorch's default U(+-1/sqrt(fan-in)) biases. Apply it in the loss to the
  features the model returns; its parameters live beside the model's.

  Attributes:
    num_classes: C.
    proj_dim: K, width of the projector and predictor.
    kernel_init: initializer of the three [in, out] kernels.

  Returns (of `__call__(features)`, features float [B, D]):
    {"logits_cb": float32 [B, C], "z": float32 [B, K] projection,
    "p": float32 [B, K] prediction}.

  References:
    Du et al., arXiv 2305.08661.
  """
  num_classes: int
  proj_dim: int = 128
  kernel_init: Any = models.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, features: jax.Array) -> dict[str, jax.Array]:
    features = jnp.asarray(features)
    if features.ndim != 2:
      raise ValueError(
          f"features must have shape [B, D] (pooled backbone features), got "
          f"shape {features.shape}.")
    logits_cb = _Linear(self.num_classes, self.kernel_init,
                        name="classifier_cb")(features)
    z = _Linear(self.proj_dim, self.kernel_init, name="projector")(features)
    p = _Linear(self.proj_dim, self.kernel_init, name="predictor")(z)
    return {"logits_cb": logits_cb, "z": z, "p": p}
