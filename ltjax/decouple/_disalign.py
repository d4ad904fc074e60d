"""DisAlign: adaptive calibration of a frozen classifier (Zhang et al.).

Stage 2 of Distribution Alignment (arXiv 2103.16370): the backbone and the
classifier stay frozen; a per-class affine map of the logits, gated by an
input-dependent confidence, is learned with a cross-entropy re-weighted
towards a balanced reference distribution.

Glossary: N examples, B batch, D feature dimension, C classes.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import _validation as v
from ltjax import losses
from ltjax import train

# The official code's constant init of the confidence layer's weight.
CONFIDENCE_KERNEL_INIT = 0.1


def disalign_init(feature_dim: int, num_classes: int,
                  key: jax.Array) -> dict[str, Any]:
  """The calibration's initial parameters, as the official `DisAlignLinear`.

  {"scale": ones [C] (the code's `logit_scale`), "bias": zeros [C]
  (`logit_bias`), "confidence": {"kernel": 0.1 [D], "bias": U(-1/sqrt(D),
  1/sqrt(D)) scalar} (`confidence_layer`, an nn.Linear(D, 1) whose weight
  is set to the constant 0.1 and whose bias keeps PyTorch's default init)}.

  Args:
    feature_dim: D.
    num_classes: C.
    key: PRNG key of the confidence bias.

  Returns:
    The parameter pytree for `disalign_logits`.
  """
  bound = 1.0 / np.sqrt(feature_dim)
  return {
      "scale": jnp.ones((num_classes,), jnp.float32),
      "bias": jnp.zeros((num_classes,), jnp.float32),
      "confidence": {
          "kernel": jnp.full((feature_dim,), CONFIDENCE_KERNEL_INIT,
                             jnp.float32),
          "bias": jax.random.uniform(key, (), jnp.float32, -bound, bound),
      },
  }


def disalign_confidence(params, features: jax.typing.ArrayLike) -> jax.Array:
  r"""The gate sigma(x) = sigmoid(x . w + b) of every example; float32 [B]."""
  features = jnp.asarray(features, jnp.float32)
  conf = params["confidence"]
  return jax.nn.sigmoid(features @ conf["kernel"] + conf["bias"])


def disalign_logits(params, features: jax.typing.ArrayLike,
                    logits: jax.typing.ArrayLike) -> jax.Array:
  r"""Calibrates a frozen classifier's logits (adaptive calibration).

  The official code's parametrisation (`DisAlignLinear.forward`):

  .. math::
    \sigma(x) = \mathrm{sigmoid}(w^\top x + b), \qquad
    z'_c = (1 + \sigma(x)\, s_c)\, z_c + \sigma(x)\, \beta_c,

  which is the paper's z' = sigma (alpha * z + beta) + (1 - sigma) z with
  alpha = 1 + s. The code initialises s = 1 (alpha = 2, not the identity)
  and beta = 0; s = 0 and beta = 0, or sigma -> 0, give z' = z.

  Args:
    params: `disalign_init`'s pytree.
    features: float [B, D], the backbone's features x.
    logits: float [B, C], the frozen classifier's logits z on x.

  Returns:
    float32 [B, C] calibrated logits.

  References:
    Zhang et al., Distribution Alignment: A Unified Framework for Long-tail
    Visual Recognition, CVPR 2021 (arXiv 2103.16370).
  """
  logits = jnp.asarray(logits, jnp.float32)
  features = jnp.asarray(features)
  if features.ndim != 2 or logits.ndim != 2:
    raise ValueError(
        f"features must be [B, D] and logits [B, C], got {features.shape} "
        f"and {logits.shape}.")
  if features.shape[0] != logits.shape[0]:
    raise ValueError(
        f"features and logits must have the same batch size, got "
        f"{features.shape[0]} and {logits.shape[0]}.")
  if logits.shape[1] != params["scale"].shape[0]:
    raise ValueError(
        f"logits have {logits.shape[1]} classes but params['scale'] has "
        f"{params['scale'].shape[0]}; build the params with disalign_init("
        f"D, C, key) for these logits.")
  gate = disalign_confidence(params, features)[:, None]
  return (1.0 + gate * params["scale"]) * logits + gate * params["bias"]


def generalized_reweight_weights(class_counts: jax.typing.ArrayLike, *,
                                 power: float = 1.2) -> jax.Array:
  r"""The generalised re-weighting's class weights (GRW), summing to C.

  .. math::
    w_c = C \, \frac{(1 / \pi_c)^\rho}{\sum_k (1 / \pi_k)^\rho}, \qquad
    \pi_c = n_c / \textstyle\sum_k n_k

  (the official `GRWCrossEntropyLoss._init_weights`, `exp_scale` = rho).
  rho = 0 gives all ones (plain cross-entropy), rho = 1 inverse frequency,
  which matches a balanced reference distribution; the official ImageNet-LT
  config uses rho = 1.2.

  Args:
    class_counts: [C] training examples per class, positive.
    power: rho >= 0.

  Returns:
    float [C].

  References:
    Zhang et al., Distribution Alignment, CVPR 2021 (arXiv 2103.16370).
  """
  v.check_scalar(power, "power", minimum=0.0)
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  dtype = v.float_dtype(counts)
  counts = counts.astype(dtype)
  # (1 / pi)^rho = exp(-rho log pi), normalised in log space (no overflow
  # for rho ~ 2 and thousands of classes).
  log_w = -jnp.asarray(power, dtype) * jnp.log(counts / jnp.sum(counts))
  return counts.shape[0] * jax.nn.softmax(log_w)


def weighted_mean_cross_entropy(logits: jax.Array, labels: jax.Array, *,
                                class_weights: jax.Array) -> jax.Array:
  r"""Per-example CE whose batch mean is PyTorch's weighted mean, [B].

  `F.cross_entropy(z, y, weight=w)` with reduction "mean" is
  sum_b w_{y_b} l_b / sum_b w_{y_b}; returning w_{y_b} l_b / mean_b
  w_{y_b} makes the caller's plain mean equal to it.

  Args:
    logits: float [B, C].
    labels: int [B].
    class_weights: float [C].

  Returns:
    float [B].
  """
  w = jnp.asarray(class_weights, jnp.float32)[labels]
  return losses.weighted_cross_entropy(logits, labels) * w / jnp.mean(w)


def fit_disalign(params, train_features, train_logits, labels, *,
                 class_counts, power: float = 1.2,
                 tx: optax.GradientTransformation, epochs: int,
                 batch_size: int,
                 plan: Callable[[int], np.ndarray] | None = None,
                 seed: int = 0,
                 on_epoch_end: Callable[[int, Any, float], None] | None = None,
                 max_steps: int = -1):
  """Learns the calibration on cached features and frozen logits.

  Minimises the GRW cross-entropy (`generalized_reweight_weights`, batch
  mean weighted as PyTorch's) of `disalign_logits` through
  `ltjax.train.retrain_head`; only the calibration's parameters move.

  Args:
    params: `disalign_init`'s pytree.
    train_features: float [N, D], the frozen backbone's training features.
    train_logits: float [N, C], the frozen classifier's logits on them.
    labels: int [N].
    class_counts: [C] training counts.
    power: the GRW's rho.
    tx: the optimizer.
    epochs, batch_size, plan, seed, on_epoch_end, max_steps: as
      `ltjax.train.retrain_head`.

  Returns:
    The trained calibration parameters.
  """
  features = np.asarray(train_features, np.float32)
  logits = np.asarray(train_logits, np.float32)
  if features.shape[0] != logits.shape[0]:
    raise ValueError(
        f"train_features and train_logits must have the same N, got "
        f"{features.shape[0]} and {logits.shape[0]}.")
  weights = generalized_reweight_weights(class_counts, power=power)
  # The head's "features" are [x, z] side by side: retrain_head gathers
  # one array per batch.
  dim = features.shape[1]
  joined = np.concatenate([features, logits], axis=1)

  def apply_fn(p, x):
    return disalign_logits(p, x[:, :dim], x[:, dim:])

  def loss_fn(z, y, w):
    del w
    return weighted_mean_cross_entropy(z, y, class_weights=weights)

  return train.retrain_head(
      params, joined, np.asarray(labels).astype(np.int32), apply_fn=apply_fn,
      loss_fn=loss_fn, tx=tx, epochs=epochs, batch_size=batch_size, plan=plan,
      seed=seed, on_epoch_end=on_epoch_end, max_steps=max_steps)
