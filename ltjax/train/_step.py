"""The one compiled train step, and its extension points.

`make_step` builds `train_step(state, batch) -> (state, metrics)` for every
task and method. It is a pure function of (state, batch), compiled once for
the whole schedule: everything that depends on the step (learning rate,
deferred re-weighting, FDS's start epochs, augmentation randomness) reads
`state.step` as data. What a method changes is passed in as a function:

- `transforms`: batch transforms `(batch, key) -> batch`, applied in order
  to the host batch with the step's key (`fold_in(state.rng, state.step)`,
  split once per transform after the first). The batch they get carries the
  step as `batch["step"]` (int32 scalar), so a transform can switch itself
  on and off by epoch without a second trace. The task's augmentation is
  the first (it writes the model input); a mixing method (mixup / CutMix,
  `ltjax.mixing`) adds one that returns mixed inputs and targets.
- `loss`: `(params, outputs, batch, state) -> (scalar loss, aux)`. `outputs`
  is whatever the model returns (a pytree: (logits, features) for every
  ltjax model; several expert heads or a projection head are more leaves),
  so a method can use any output. `state` gives the step, the `extra`
  state and any frozen auxiliary parameters kept there (a teacher).
- `trainable`: `params -> model params` when the optimizer trains more than
  the model (regression's {"model", "loss"} with a learnable Balanced-MSE
  sigma); default: the params are the model's.
- `advance`: `(extra, aux, batch, step) -> extra`, the pure update of the
  method state in `TrainState.extra` (FDS statistics; later a feature queue
  or class-wise statistics). Entries it does not touch are carried as they
  are, which is how frozen auxiliary parameters live in the state.
- `gradient`: the gradient procedure `(loss_fn, params) -> ((loss, aux),
  grads)`; `value_and_grad` by default, `sam_gradient(rho)` for
  sharpness-aware minimisation and `imbsam_gradient(rho, part=...)` for
  ImbSAM (both passes in the one step). The `aux` of `loss_fn` is the pair
  (the loss's aux, the model's mutable updates).
- `project`: `(params, extra, previous params) -> (params, extra)`, applied
  after the optimizer update: projected gradient descent (weight
  balancing's MaxNorm, `ltjax.posthoc.max_norm`). `extra` lets it keep a
  value fixed when projection starts (MaxNorm's relative threshold).
- `metrics`: `(aux, batch) -> dict` of extra per-step scalars.
- `scale_updates`: `(updates, factor) -> updates`, the optimizer's updates
  at `factor` times the learning rate (default: every leaf times factor).

Hyperparameters as data: `train_step(state, batch, hyper)` takes an
optional dict of traced scalars, so one compiled step serves several values
(a `config.sweep` of replicas, `ltjax.train._replicas`).
`hyper["lr_scale"]` multiplies the learning rate (the updates, through
`scale_updates`, and the reported "lr"); the loss reads the others as
`batch["hyper"]` (e.g. "tau").
Without `hyper` the step is the one it always was.

Why not `optax.contrib.sam`: it is an optimizer wrapper that takes the
ascent and the descent as two successive optimizer updates, i.e. two calls
of the step (and two host dispatches) per SAM update; here both gradient
passes are one compiled step, so the schedule, DRW and the checkpointed step
count stay those of plain training.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ltjax.train._state import TrainState

Batch = dict[str, jax.Array]
Transform = Callable[[Batch, jax.Array], Batch]
LossFn = Callable[[Any, Any, Batch, TrainState], tuple[jax.Array, Any]]
Gradient = Callable[[Callable[[Any], tuple[jax.Array, Any]], Any],
                    tuple[tuple[jax.Array, Any], Any]]


def value_and_grad(loss_fn, params):
  """The default gradient procedure: one pass of `jax.value_and_grad`."""
  return jax.value_and_grad(loss_fn, has_aux=True)(params)


def sam_gradient(rho: float) -> Gradient:
  """Sharpness-aware minimisation's gradient (Foret et al., 2010.01412).

  g = grad L(w); e = rho g / ||g||; the update uses grad L(w + e). The loss,
  the auxiliary outputs (hence the BatchNorm statistics and any method state
  advanced from them) are those of the first pass at w, as in the
  reference implementations, which freeze the running statistics during the
  second pass.

  Args:
    rho: the neighbourhood radius (>= 0; 0 gives plain gradients, through
      the same two passes).

  Returns:
    A gradient procedure for `make_step(gradient=...)`.
  """
  if not rho >= 0:
    raise ValueError(f"SAM's rho must be >= 0, got {rho}.")

  def gradient(loss_fn, params):
    (loss, aux), grads = value_and_grad(loss_fn, params)
    scale = rho / (optax.tree.norm(grads) + 1e-12)
    perturbed = jax.tree.map(lambda p, g: p + scale * g, params, grads)
    _, sharp_grads = value_and_grad(loss_fn, perturbed)
    return (loss, aux), sharp_grads

  return gradient


def imbsam_gradient(rho: float, *, part: Callable[[Any], jax.Array]
                    ) -> Gradient:
  """ImbSAM's gradient (Zhou et al., ICCV 2023, arXiv 2308.07815).

  The loss splits into the parts of the head and the tail classes, L = L_h +
  L_t (`part(aux)` returns L_t from the loss's aux). Only the tail part is
  made sharpness-aware:

    g_t = grad L_t(w);  e = rho g_t / ||g_t||;
    update direction = grad L_h(w) + grad L_t(w + e).

  With no tail example in the batch, g_t = 0, e = 0 and the direction is the
  plain gradient. Three backward passes (the head and tail gradients at w
  share one forward pass) and two forward passes per step.

  Args:
    rho: the neighbourhood radius (>= 0).
    part: `loss aux -> scalar` the tail classes' share of the loss (the
      aux returned by the task's loss, not the model updates).

  Returns:
    A gradient procedure for `make_step(gradient=...)`.
  """
  if not rho >= 0:
    raise ValueError(f"ImbSAM's rho must be >= 0, got {rho}.")

  def gradient(loss_fn, params):
    def both(p):
      value, aux = loss_fn(p)
      return (value, part(aux[0])), aux

    (loss, tail), pullback, aux = jax.vjp(both, params, has_aux=True)
    one, zero = jnp.ones_like(loss), jnp.zeros_like(tail)
    (head_grads,) = pullback((one, -jnp.ones_like(tail)))
    (tail_grads,) = pullback((zero, jnp.ones_like(tail)))
    scale = rho / (optax.tree.norm(tail_grads) + 1e-12)
    perturbed = jax.tree.map(lambda p, g: p + scale * g, params, tail_grads)
    sharp_tail = jax.grad(lambda p: part(loss_fn(p)[1][0]))(perturbed)
    return (loss, aux), jax.tree.map(jnp.add, head_grads, sharp_tail)

  return gradient


def _apply_transforms(transforms: Sequence[Transform], batch: Batch,
                      key: jax.Array) -> Batch:
  for i, transform in enumerate(transforms):
    batch = transform(batch, key if i == 0 else jax.random.fold_in(key, i))
  return batch


def make_step(model, tx: optax.GradientTransformation, *, loss: LossFn,
              learning_rate: optax.Schedule,
              transforms: Sequence[Transform] = (),
              input_key: str = "input",
              trainable: Callable[[Any], Any] | None = None,
              advance: Callable[..., Any] | None = None,
              gradient: Gradient | None = None,
              metrics: Callable[[Any, Batch], dict[str, jax.Array]]
              | None = None,
              project: Callable[[Any, Any, Any], tuple[Any, Any]]
              | None = None,
              average: Callable[[TrainState], TrainState] | None = None,
              scale_updates: Callable[[Any, jax.Array], Any] | None = None
              ) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
  """Returns `train_step(state, batch, hyper=None) -> (state, metrics)`.

  Not jitted; `hyper` (optional): {name: traced scalar}, see the module
  docstring.

  Args:
    model: Flax module, `apply(variables, x, train=True)` -> outputs.
    tx: the optimizer over `state.params`.
    loss: `(params, outputs, batch, state) -> (scalar, aux)`.
    learning_rate: the schedule, only for the reported `lr` metric.
    transforms: batch transforms `(batch, key) -> batch` (see the module
      docstring); the model input is `batch[input_key]` after them.
    input_key: the batch entry the model reads.
    trainable: `params -> the model's params` (default: identity).
    advance: `(extra, aux, batch, step) -> extra` (default: unchanged).
    gradient: gradient procedure (default: `value_and_grad`).
    metrics: `(aux, batch) -> {name: scalar}` reported with "loss", "lr"
      and "grad_norm" (of the model's parameters).
    project: `(params, extra, previous params) -> (params, extra)` after
      the update (default: none).
    average: `state -> state` on the updated state (weight averaging,
      `ltjax.train._average`; default: none).
    scale_updates: `(updates, factor) -> updates` for `hyper["lr_scale"]`
      (default: every leaf times factor; valid when every update is linear
      in the learning rate, as `make_optimizer`'s are).

  Returns:
    The step; its metrics are "loss", the task's, "lr" and "grad_norm".
  """
  trainable = trainable or (lambda params: params)
  gradient = gradient or value_and_grad

  scale_updates = scale_updates or scale_all_updates

  def train_step(state: TrainState, batch: Batch,
                 hyper: dict[str, jax.Array] | None = None):
    key = jax.random.fold_in(state.rng, state.step)
    batch = _apply_transforms(transforms, {**batch, "step": state.step}, key)
    lr_scale = None
    if hyper:
      batch = {**batch, "hyper": hyper}
      lr_scale = hyper.get("lr_scale")

    def loss_fn(params):
      variables = {"params": trainable(params)}
      if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
      outputs, updates = model.apply(variables, batch[input_key], train=True,
                                     mutable=["batch_stats"])
      value, aux = loss(params, outputs, batch, state)
      return value, (aux, updates)

    (value, (aux, updates)), grads = gradient(loss_fn, state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    if lr_scale is not None:
      param_updates = scale_updates(param_updates, lr_scale)
    extra = (state.extra if advance is None else
             advance(state.extra, aux, batch, state.step))
    params = optax.apply_updates(state.params, param_updates)
    if project is not None:
      params, extra = project(params, extra, state.params)
    new_state = state.replace(
        step=state.step + 1,
        params=params,
        batch_stats=updates.get("batch_stats", state.batch_stats),
        opt_state=opt_state, extra=extra)
    if average is not None:
      new_state = average(new_state)
    step_metrics = {"loss": value}
    if metrics is not None:
      step_metrics.update(metrics(aux, batch))
    lr = learning_rate(state.step)
    if lr_scale is not None:
      lr = lr * lr_scale
    step_metrics["lr"] = jnp.asarray(lr, jnp.float32)
    step_metrics["grad_norm"] = optax.tree.norm(trainable(grads))
    return new_state, step_metrics

  return train_step


def scale_all_updates(updates, factor: jax.Array):
  """`updates` at `factor` times the learning rate: every leaf times it."""
  return jax.tree.map(lambda u: (u * factor).astype(u.dtype), updates)


def make_train_step(model, tx: optax.GradientTransformation,
                    objective: Callable[..., jax.Array],
                    preprocess: Callable[[jax.Array, jax.Array | None],
                                         jax.Array],
                    learning_rate: optax.Schedule
                    ) -> Callable[[TrainState, Batch],
                                  tuple[TrainState, dict[str, jax.Array]]]:
  """The classification step on {"image", "label"} batches (`make_step`).

  Args:
    model: Flax module, `apply(variables, x, train=True)` -> (logits, feats).
    tx: optimizer.
    objective: `(logits, labels, step) -> scalar`.
    preprocess: `(uint8 images, key or None) -> model input`; called with the
      step's key for training augmentation.
    learning_rate: the schedule, only for the reported `lr` metric.
  """
  return make_step(
      model, tx, loss=classification_loss(objective),
      learning_rate=learning_rate, transforms=(augmentation(preprocess),),
      metrics=classification_metrics)


def augmentation(preprocess, *, source: str = "image",
                 target: str = "input") -> Transform:
  """The batch transform writing `preprocess(batch[source], key)`."""

  def transform(batch: Batch, key: jax.Array) -> Batch:
    return {**batch, target: preprocess(batch[source], key)}

  return transform


def classification_loss(objective) -> LossFn:
  """`objective(logits, labels, step)` as a `make_step` loss."""

  def loss(params, outputs, batch, state):
    del params
    logits = outputs[0]
    return objective(logits, batch["label"], state.step), logits

  return loss


def classification_metrics(logits, batch: Batch) -> dict[str, jax.Array]:
  return {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}
