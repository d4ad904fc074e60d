"""The compiled train and eval steps.

Both are pure functions of (state, batch). The train step is compiled once for
the whole schedule: everything that depends on the step (learning rate,
deferred re-weighting, augmentation randomness) reads `state.step` as data.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ltjax import metrics as ltmetrics
from ltjax import posthoc
from ltjax.train._state import TrainState

Batch = dict[str, jax.Array]  # {"image": uint8 [B, H, W, K], "label": [B]}


def make_train_step(model, tx: optax.GradientTransformation,
                    objective: Callable[..., jax.Array],
                    preprocess: Callable[[jax.Array, jax.Array | None],
                                         jax.Array],
                    learning_rate: optax.Schedule
                    ) -> Callable[[TrainState, Batch],
                                  tuple[TrainState, dict[str, jax.Array]]]:
  """Returns `train_step(state, batch) -> (state, metrics)` (not yet jitted).

  Args:
    model: Flax module, `apply(variables, x, train=True)` -> (logits, feats).
    tx: optimizer.
    objective: `(logits, labels, step) -> scalar`.
    preprocess: `(uint8 images, key or None) -> model input`; called with the
      step's key for training augmentation.
    learning_rate: the schedule, only for the reported `lr` metric.
  """

  def train_step(state: TrainState, batch: Batch):
    key = jax.random.fold_in(state.rng, state.step)
    images = preprocess(batch["image"], key)
    labels = batch["label"]

    def loss_fn(params):
      variables = {**state.variables(), "params": params}
      (logits, _), updates = model.apply(variables, images, train=True,
                                         mutable=["batch_stats"])
      return objective(logits, labels, state.step), (logits, updates)

    (loss, (logits, updates)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(
        step=state.step + 1,
        params=optax.apply_updates(state.params, param_updates),
        batch_stats=updates.get("batch_stats", state.batch_stats),
        opt_state=opt_state)
    step_metrics = {
        "loss": loss,
        "accuracy": jnp.mean(jnp.argmax(logits, -1) == labels),
        "lr": jnp.asarray(learning_rate(state.step), jnp.float32),
        "grad_norm": optax.tree.norm(grads),
    }
    return new_state, step_metrics

  return train_step


def _eval_logits(model, preprocess, logit_scale, state: TrainState,
                 batch: Batch) -> jax.Array:
  """The model's logits on the scale the training loss sees them."""
  images = preprocess(batch["image"], None)
  logits, _ = model.apply(state.variables(), images, train=False)
  return logits * jnp.asarray(logit_scale, logits.dtype)


def make_eval_step(model, preprocess, *, logit_scale: float = 1.0,
                   class_priors: jax.Array | None = None,
                   posthoc_tau: float = 1.0
                   ) -> Callable[[TrainState, Batch], dict[str, Any]]:
  """Returns `eval_step(state, batch) -> {"plain": counts[, "posthoc": ...]}`.

  The batch carries a bool "mask" (False for padding of the last batch).
  With `class_priors`, also counts the post-hoc logit-adjusted prediction
  argmax(z - tau log pi) (`ltjax.posthoc.adjust_logits`).

  Args:
    model: Flax module, `apply(variables, x, train=False)` -> (logits, feats).
    preprocess: `(uint8 images, None) -> model input`.
    logit_scale: factor applied to the model's logits before they are
      counted, the one the training loss applies (LDAM's s on a cosine head;
      `build_run` passes `Run.logit_scale`). Predictions (argmax) do not depend on it;
      the confidences, hence the ECE, do: softmax over unscaled cosines in
      [-1, 1] is nearly uniform.
    class_priors: optional float [C], for the post-hoc counts.
    posthoc_tau: tau of the post-hoc adjustment.
  """

  def eval_step(state: TrainState, batch: Batch):
    logits = _eval_logits(model, preprocess, logit_scale, state, batch)
    counts = {"plain": ltmetrics.ClassificationCounts.from_logits(
        logits, batch["label"], mask=batch["mask"])}
    if class_priors is not None:
      adjusted = posthoc.adjust_logits(logits, class_priors=class_priors,
                                       tau=posthoc_tau)
      counts["posthoc"] = ltmetrics.ClassificationCounts.from_logits(
          adjusted, batch["label"], mask=batch["mask"])
    return counts

  return eval_step


def make_predict_step(model, preprocess, *, logit_scale: float = 1.0,
                      class_priors: jax.Array | None = None,
                      posthoc_tau: float = 1.0
                      ) -> Callable[[TrainState, Batch], dict[str, jax.Array]]:
  """Returns `predict_step(state, batch) -> per-example outputs`.

  The outputs, for every row of the batch (padding included; "mask" says
  which rows are real): "logits" float32 [B, C] scaled as in
  `make_eval_step`, "prediction" int32 [B] their argmax (-1 for a row with a
  non-finite logit), "label" and "mask" as given, and with `class_priors`
  "prediction_posthoc", the post-hoc logit-adjusted argmax.
  """

  def predict(logits):
    finite = jnp.all(jnp.isfinite(logits), axis=-1)
    return jnp.where(finite, jnp.argmax(logits, axis=-1), -1).astype(
        jnp.int32)

  def predict_step(state: TrainState, batch: Batch):
    logits = _eval_logits(model, preprocess, logit_scale, state, batch)
    out = {"logits": logits.astype(jnp.float32),
           "prediction": predict(logits), "label": batch["label"],
           "mask": batch["mask"]}
    if class_priors is not None:
      out["prediction_posthoc"] = predict(posthoc.adjust_logits(
          logits, class_priors=class_priors, tau=posthoc_tau))
    return out

  return predict_step
