"""The regression objective and the pure pieces of its step.

The step itself is the engine's (`ltjax.train.make_step`, set up by
`_task.RegressionTask`). The trained parameters are {"model": the model's
Flax params, "loss": {} or {"noise_sigma": scalar}}, so a learnable
Balanced-MSE sigma is trained with the model.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import models
from ltjax.data import _bins
from ltjax.regression import _losses


def make_objective(loss_config, *, edges, train_targets,
                   target_shift: float = 0.0, target_scale: float = 1.0
                   ) -> Callable[..., jax.Array]:
  """Returns `objective(pred [B], y [B], w [B], loss_params) -> [B]`.

  `y` is in the original label units; `pred` is the model's output, in the
  units of the standardised targets (y - target_shift) / target_scale, in
  which the loss is computed (shift 0, scale 1: no standardisation). The
  Balanced-MSE label priors come from `train_targets`: the bin frequencies
  for "bni" (bin centres standardised likewise), a Gaussian mixture fitted
  by EM to the standardised targets for "gai".
  """
  c = loss_config
  name = c.name
  shift, scale = float(target_shift), float(target_scale)
  if not np.isfinite(shift) or not (np.isfinite(scale) and scale > 0):
    raise ValueError(
        f"target standardisation needs a finite shift and a scale > 0, got "
        f"{shift} and {scale}.")
  centers = ((np.asarray(_bins.bin_centers(edges)) - shift) / scale).astype(
      np.float32)
  counts = _bins.bin_counts(train_targets, edges).astype(np.float64)
  prior = (counts / counts.sum()).astype(np.float32)
  gmm = (_losses.fit_label_gmm(
      (np.asarray(train_targets, np.float64) - shift) / scale,
      num_components=c.gmm_components) if name == "gai" else None)
  mse_weight = float(c.get("mse_weight", 0.0))

  def sigma(loss_params):
    if c.learn_sigma:
      return loss_params["noise_sigma"]
    return jnp.asarray(c.noise_sigma, jnp.float32)

  def objective(pred, y, w, loss_params):
    if shift != 0.0 or scale != 1.0:
      y = (y - shift) / scale
    if name == "l1":
      return _losses.weighted_l1_loss(pred, y, weights=w)
    if name == "mse":
      return _losses.weighted_mse_loss(pred, y, weights=w)
    if name == "focal_l1":
      return _losses.focal_l1_loss(pred, y, weights=w,
                                   activation=c.activation, beta=c.beta,
                                   gamma=c.gamma)
    if name == "focal_mse":
      return _losses.focal_mse_loss(pred, y, weights=w,
                                    activation=c.activation, beta=c.beta,
                                    gamma=c.gamma)
    if name == "huber":
      return _losses.huber_loss(pred, y, weights=w, beta=c.huber_beta)
    if name == "bmc":
      return _losses.bmc_loss(pred, y, noise_sigma=sigma(loss_params),
                              mse_weight=mse_weight)
    if name == "bni":
      return _losses.bni_loss(pred, y, noise_sigma=sigma(loss_params),
                              bin_centers=centers, bin_weights=prior,
                              mse_weight=mse_weight)
    if name == "gai":
      return _losses.gai_loss(pred, y, noise_sigma=sigma(loss_params),
                              gmm_means=gmm["means"],
                              gmm_variances=gmm["variances"],
                              gmm_weights=gmm["weights"],
                              mse_weight=mse_weight)
    raise ValueError(f"config.loss.name: unknown loss {name!r}.")

  return objective


def loss_params_of(loss_config) -> dict[str, jax.Array]:
  """The loss's trainable parameters ({} for most losses)."""
  if loss_config.name in ("bmc", "bni", "gai") and loss_config.learn_sigma:
    return {"noise_sigma": jnp.asarray(loss_config.noise_sigma, jnp.float32)}
  return {}


def predict(head_params, features: jax.Array) -> jax.Array:
  """The 1-output linear regressor on features: float32 [B]."""
  return models.apply_head(head_params, features, kind="linear")[:, 0]


def to_original(pred: jax.Array, target_shift: float = 0.0,
                target_scale: float = 1.0) -> jax.Array:
  """Model outputs in the original label units: shift + scale * pred."""
  if target_shift == 0.0 and target_scale == 1.0:
    return pred
  return (pred * jnp.float32(target_scale) + jnp.float32(target_shift))
