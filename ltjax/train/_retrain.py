"""Re-training a head on a frozen backbone's cached features.

The second stage of decoupling (cRT, LWS; Kang et al., 1910.09217) and of
regressor re-training (RRT; Yang et al., 2102.09554) is one procedure:
extract the frozen network's features once (`extract_features`: evaluation
mode, no augmentation), then train only a head on the cached arrays
(`retrain_head`) with a sampler and optional per-example weights. The
methods differ only in the head they start from, its loss and its sampler.

Glossary: N examples, D feature dimension, B batch size.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import _watchdog
from ltjax import sampling
from ltjax.train import _driver
from ltjax.train import _parallel

# (head params, features float [B, D]) -> outputs, e.g. logits [B, C].
ApplyFn = Callable[[Any, jax.Array], Any]
# (outputs, targets [B], weights float [B] or None) -> per-example loss [B].
LossFn = Callable[[Any, jax.Array, jax.Array | None], jax.Array]


def extract_features(model, variables, split, *,
                     preprocess: Callable[[Any, Any], jax.Array],
                     mesh: jax.sharding.Mesh | None = None,
                     batch_size: int = 256, with_outputs: bool = False):
  """Evaluation-mode features of a whole split, in its order.

  The model runs with `train=False` (BatchNorm on its running statistics) on
  un-augmented inputs, `batch_size` examples at a time split over the mesh;
  the padding of the last batch is dropped.

  Example:
    run = ltjax.train.build_run(config, dataset)
    features = ltjax.train.extract_features(
        run.model, state.variables(), dataset.train,
        preprocess=run.preprocess, mesh=run.mesh,
        batch_size=run.eval_batch_size)

  Args:
    model: a Flax model whose `apply(variables, x, train=False)` returns
      `(outputs, features [B, D])`, as every ltjax model does.
    variables: its variables, {"params": ..., ["batch_stats": ...]}.
    split: anything with `__len__` and `get_batch(indices) -> (inputs,
      targets)`, e.g. `dataset.train`.
    preprocess: `(inputs, key or None) -> model input`; called with None
      (no augmentation), e.g. `run.preprocess`.
    mesh: the data mesh (default: every device).
    batch_size: examples per forward pass, rounded up to a multiple of the
      device count.
    with_outputs: also return the model's outputs (e.g. logits).

  Returns:
    float32 [N, D] features, or (features, outputs [N, ...]) when
    `with_outputs`.
  """
  mesh = _parallel.data_mesh() if mesh is None else mesh
  batch_size = _parallel.round_up_batch_size(batch_size, mesh)
  variables = _parallel.replicate(variables, mesh)

  def forward(variables, inputs):
    outputs, features = model.apply(variables, preprocess(inputs, None),
                                    train=False)
    return features.astype(jnp.float32), outputs

  forward = jax.jit(forward, out_shardings=_parallel.replicated(mesh))
  features, outputs = [], []
  batches = _driver.eval_batches(split, batch_size=batch_size, mesh=mesh,
                                 keys=("input", "target"),
                                 target_dtype=np.float32)
  for start, batch in zip(range(0, len(split), batch_size), batches):
    valid = min(batch_size, len(split) - start)
    f, z = jax.device_get(forward(variables, batch["input"]))
    features.append(np.asarray(f)[:valid])
    outputs.append(jax.tree.map(lambda x, n=valid: np.asarray(x)[:n], z))
  if not features:
    raise ValueError("extract_features: the split is empty.")
  features = np.concatenate(features)
  if not with_outputs:
    return features
  return features, jax.tree.map(lambda *x: np.concatenate(x), *outputs)


def uniform_plan(num_examples: int, *, seed: int) -> Callable[[int],
                                                              np.ndarray]:
  """`plan(epoch)`: a seeded permutation of all examples per epoch."""
  labels = np.zeros(num_examples, np.int64)
  return lambda epoch: sampling.epoch_plan(labels, seed=seed, epoch=epoch)


def retrain_head(params, features, targets, *, apply_fn: ApplyFn,
                 loss_fn: LossFn, tx: optax.GradientTransformation,
                 epochs: int, batch_size: int,
                 plan: Callable[[int], np.ndarray] | None = None,
                 weights=None, seed: int = 0,
                 on_epoch_end: Callable[[int, Any, float], None] | None = None,
                 max_steps: int = -1):
  """Trains a head on fixed features; returns its parameters.

  Every epoch has `ceil(N / batch_size)` steps; step s of epoch e takes the
  examples `sampling.batch_indices(plan(e), s)` (the last batch of an epoch
  is filled from the start of the plan) and applies `tx` to the gradient of

    mean_b loss_fn(apply_fn(params, features[i_b]), targets[i_b], w[i_b]).

  The features stay on the device; only the batch indices travel.

  Example (cRT):
    head = ltjax.models.Head(num_classes=C, kind="linear")
    params = head.init(key, features[:1])["params"]
    params = ltjax.train.retrain_head(
        params, features, labels,
        apply_fn=lambda p, h: ltjax.models.apply_head(p, h, kind="linear"),
        loss_fn=lambda z, y, w: ltjax.losses.weighted_cross_entropy(z, y),
        tx=optax.sgd(0.1), epochs=10, batch_size=512)

  Args:
    params: the head's initial parameters (re-initialised or kept).
    features: float [N, D] cached features of the training split.
    targets: [N] labels (int) or regression targets (float).
    apply_fn: `(params, features [B, D]) -> outputs`.
    loss_fn: `(outputs, targets [B], weights [B] or None) -> float [B]`,
      the per-example loss.
    tx: the optimizer (its schedule counts these steps).
    epochs: number of epochs.
    batch_size: B.
    plan: `plan(epoch) -> int [N]` example indices of a 0-based epoch, the
      sampler (e.g. class-balanced: `sampling.epoch_plan(labels, ...,
      class_probabilities=...)`); default `uniform_plan(N, seed=seed)`.
    weights: float [N] per-example weights given to `loss_fn`, or None.
    seed: seed of the default plan.
    on_epoch_end: optional `f(epoch, params, mean_loss)` after each epoch
      (1-based), with the epoch's mean batch loss.
    max_steps: > 0 to stop after that many steps (smoke tests).

  Returns:
    The trained head parameters.
  """
  num_examples = len(targets)
  plan = uniform_plan(num_examples, seed=seed) if plan is None else plan
  features = jnp.asarray(features)
  targets = jnp.asarray(targets)
  weights = None if weights is None else jnp.asarray(weights, jnp.float32)

  @jax.jit
  def step(params, opt_state, features, targets, weights, indices):
    batch_weights = None if weights is None else weights[indices]

    def loss(params):
      outputs = apply_fn(params, features[indices])
      return jnp.mean(loss_fn(outputs, targets[indices], batch_weights))

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  opt_state = tx.init(params)
  per_epoch = sampling.steps_per_epoch(num_examples, batch_size)
  done = 0
  for epoch in range(epochs):
    epoch_plan = plan(epoch)
    losses = []
    for s in range(per_epoch):
      if 0 < max_steps <= done:
        break
      _watchdog.beat(f"re-training step {done}")
      indices = sampling.batch_indices(epoch_plan, s,
                                       global_batch_size=batch_size)
      params, opt_state, value = step(params, opt_state, features, targets,
                                      weights, jnp.asarray(indices))
      losses.append(value)
      done += 1
    if on_epoch_end is not None and losses:
      on_epoch_end(epoch + 1, params, float(jnp.mean(jnp.stack(losses))))
    if 0 < max_steps <= done:
      break
  return params
