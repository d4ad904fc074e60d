"""Objectives and the compiled train / eval steps of a regression run.

The train step is compiled once for the whole schedule: the step (hence the
epoch) is read from the state as data, so the FDS update start, the start of
calibration and the end-of-epoch commit are `jnp.where` selections, and the
LDS weights are a per-bin constant indexed by the batch's bins.

The state's parameters are {"model": the model's Flax params, "loss": {} or
{"noise_sigma": scalar}} so a learnable Balanced-MSE sigma is trained with
the model; FDS statistics live in `state.extra["fds"]`.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import models
from ltjax.regression import _bins
from ltjax.regression import _fds
from ltjax.regression import _losses
from ltjax.regression import _metrics
from ltjax.train import _state

Batch = dict[str, jax.Array]


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


def model_variables(state) -> dict[str, Any]:
  variables = {"params": state.params["model"]}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  return variables


def predict(head_params, features: jax.Array) -> jax.Array:
  """The 1-output linear regressor on features: float32 [B]."""
  return models.apply_head(head_params, features, kind="linear")[:, 0]


def create_state(model, tx, sample_input, *, seed: int, loss_params,
                 fds_shape: tuple[int, int] | None) -> _state.TrainState:
  """The step-0 state (parameters, optimizer, FDS statistics)."""
  key = jax.random.PRNGKey(seed)
  variables = model.init(jax.random.fold_in(key, 0), sample_input,
                         train=False)
  params = {"model": variables["params"], "loss": loss_params}
  extra = {}
  if fds_shape is not None:
    extra["fds"] = _fds.init_fds(*fds_shape)
  return _state.TrainState(
      step=jnp.zeros((), jnp.int32), params=params,
      batch_stats=variables.get("batch_stats", {}),
      opt_state=tx.init(params), rng=jax.random.fold_in(key, 1), extra=extra)


def make_train_step(model, tx: optax.GradientTransformation, objective, *,
                    preprocess, schedule, edges, bin_weights, fds_config,
                    steps_per_epoch: int, target_shift: float = 0.0,
                    target_scale: float = 1.0):
  """Returns `train_step(state, batch) -> (state, metrics)` (not jitted).

  Args:
    model: Flax module, `apply(variables, x, train=True)` -> (out, features).
    tx: optimizer over {"model", "loss"} parameters.
    objective: from `make_objective`.
    preprocess: `(inputs, key or None) -> model input`.
    schedule: the learning-rate schedule (reported as `lr`).
    edges: float [K + 1] bin edges.
    bin_weights: float32 [K] per-bin loss weights (ones for none).
    fds_config: `config.fds` (used when `enabled`).
    steps_per_epoch: optimizer steps per epoch.
    target_shift: the model predicts (y - target_shift) / target_scale; the
      reported "mae" is in the original units.
    target_scale: see target_shift.
  """
  bin_weights = np.asarray(bin_weights, np.float32)
  use_fds = bool(fds_config.enabled)

  def train_step(state, batch: Batch):
    step = state.step
    epoch = step // steps_per_epoch
    key = jax.random.fold_in(state.rng, step)
    inputs = preprocess(batch["input"], key)
    targets = batch["target"].astype(jnp.float32)
    bins = _bins.bin_index(targets, edges)
    weights = jnp.asarray(bin_weights)[bins]
    fds = state.extra.get("fds") if use_fds else None

    def loss_fn(params):
      variables = {**model_variables(state), "params": params["model"]}
      (_, features), updates = model.apply(variables, inputs, train=True,
                                           mutable=["batch_stats"])
      used = features
      if use_fds:
        calibrated = _fds.calibrate_features(features, bins, fds,
                                             clip=tuple(fds_config.clip))
        used = jnp.where(epoch >= fds_config.start_smooth, calibrated,
                         features)
      pred = predict(params["model"]["head"], used)
      per_example = objective(pred, targets, weights, params["loss"])
      return jnp.mean(per_example), (pred, features, updates)

    (loss, (pred, features, updates)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    extra = dict(state.extra)
    if use_fds:
      # Statistics of the raw (uncalibrated) features, each training example
      # once per epoch ("fresh" is False for the examples repeated to fill
      # the last batch).
      updating = epoch >= fds_config.start_update
      fds = _fds.accumulate_fds(
          fds, jax.lax.stop_gradient(features), bins,
          mask=batch["fresh"] & updating)
      end_of_epoch = (step + 1) % steps_per_epoch == 0
      committed = _fds.smooth_fds(
          _fds.commit_fds(fds, momentum=fds_config.momentum),
          kernel=fds_config.kernel, ks=fds_config.ks, sigma=fds_config.sigma,
          scipy_parity=fds_config.scipy_parity)
      extra["fds"] = _fds.select(end_of_epoch & updating, committed, fds)
    new_state = state.replace(
        step=step + 1,
        params=optax.apply_updates(state.params, param_updates),
        batch_stats=updates.get("batch_stats", state.batch_stats),
        opt_state=opt_state, extra=extra)
    metrics = {
        "loss": loss,
        "mae": jnp.mean(jnp.abs(
            to_original(pred, target_shift, target_scale) - targets)),
        "lr": jnp.asarray(schedule(step), jnp.float32),
        "grad_norm": optax.tree.norm(grads["model"]),
    }
    if "noise_sigma" in state.params["loss"]:
      metrics["noise_sigma"] = jnp.abs(state.params["loss"]["noise_sigma"])
    return new_state, metrics

  return train_step


def to_original(pred: jax.Array, target_shift: float = 0.0,
                target_scale: float = 1.0) -> jax.Array:
  """Model outputs in the original label units: shift + scale * pred."""
  if target_shift == 0.0 and target_scale == 1.0:
    return pred
  return (pred * jnp.float32(target_scale) + jnp.float32(target_shift))


def make_predict_step(model, preprocess, *, target_shift: float = 0.0,
                      target_scale: float = 1.0):
  """Returns `predict_step(state, batch) -> float32 [B]` in label units.

  No FDS at inference: the head sees the raw features.
  """

  def predict_step(state, batch: Batch):
    inputs = preprocess(batch["input"], None)
    _, features = model.apply(model_variables(state), inputs, train=False)
    pred = predict(state.params["model"]["head"], features)
    return to_original(pred, target_shift, target_scale)

  return predict_step


def make_eval_step(model, preprocess, *, edges, target_shift: float = 0.0,
                   target_scale: float = 1.0):
  """Returns `eval_step(state, batch) -> RegressionSums` (not jitted).

  No FDS at inference: the head sees the raw features. The batch carries a
  bool "mask" (False for padding of the last batch). Errors are in the
  original label units.
  """
  predict_step = make_predict_step(model, preprocess,
                                   target_shift=target_shift,
                                   target_scale=target_scale)

  def eval_step(state, batch: Batch):
    return _metrics.RegressionSums.from_predictions(
        predict_step(state, batch), batch["target"], edges=edges,
        mask=batch["mask"])

  return eval_step


def make_feature_step(model, preprocess):
  """Returns `features(state, batch) -> float32 [B, D]` (eval mode)."""

  def feature_step(state, batch: Batch):
    inputs = preprocess(batch["input"], None)
    _, features = model.apply(model_variables(state), inputs, train=False)
    return features

  return feature_step
