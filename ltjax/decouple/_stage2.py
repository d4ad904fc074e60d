"""Stage 2 of decoupling: re-training only the classifier on a frozen backbone.

cRT re-initialises the linear head and trains it with class-balanced
sampling; LWS keeps the head and learns one scale per class. By default the
backbone's features are extracted once (BatchNorm in inference mode, no
augmentation) and the classifier trains on the cached arrays
(`ltjax.train.retrain_head`, also behind RRT), which takes seconds on a CPU
at CIFAR scale. `fit_with_backbone` is the original's path:
the frozen backbone runs on every augmented batch, with its BatchNorm either
frozen or, as in the original code, in train mode (its running statistics then
drift during stage 2 and the drifted statistics are used at evaluation).

Glossary: N examples, D feature dimension, C classes.
"""

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import _watchdog
from ltjax import losses
from ltjax import models
from ltjax import sampling
from ltjax import train

LogitsFn = Callable[[Any, jax.Array], jax.Array]  # (params, features) -> [B, C]


@dataclasses.dataclass(frozen=True)
class Stage2Options:
  """How the classifier is re-trained.

  Attributes:
    epochs: passes of `N` sampled examples.
    batch_size: examples per step.
    lr: peak learning rate (cosine decay to 0 over all steps).
    momentum: SGD momentum.
    weight_decay: L2 weight decay (coupled, as torch.optim.SGD).
    sampler: a `ltjax.sampling.SAMPLERS` name; the paper: "class_balanced".
    seed: seed of the sampling plan (and of the augmentation key).
  """
  epochs: int = 10
  batch_size: int = 512
  lr: float = 0.2
  momentum: float = 0.9
  weight_decay: float = 5e-4
  sampler: str = "class_balanced"
  seed: int = 0

  def __post_init__(self):
    if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
      raise ValueError(
          f"stage-2 epochs and batch_size must be >= 1 and lr > 0, got "
          f"{self.epochs}, {self.batch_size}, {self.lr}.")
    if self.sampler not in sampling.SAMPLERS:
      raise ValueError(f"unknown sampler {self.sampler!r}; known: "
                       f"{list(sampling.SAMPLERS)}.")


def crt_init(num_classes: int, feature_dim: int,
             key: jax.Array) -> tuple[Any, LogitsFn]:
  """A freshly initialised linear head (cRT) and its logits function.

  cRT always trains a linear head (with bias), as in the paper, whatever
  head the stage-1 model had.

  Args:
    num_classes: C.
    feature_dim: D.
    key: PRNG key of the new head.

  Returns:
    (head parameters {"kernel": [D, C], "bias": [C]}, (params, features) ->
    logits).
  """
  head = models.Head(num_classes=num_classes, kind="linear")
  params = head.init(key, jnp.zeros((1, feature_dim)))["params"]
  return params, lambda p, h: models.apply_head(p, h, kind="linear")


def lws_init(head_params, head_kind: str,
             num_classes: int) -> tuple[Any, LogitsFn]:
  """Learnable per-class scales on a frozen head (LWS), initialised to 1.

  logits_c = s_c * (W_c . h + b_c); with s = 1 these are the joint logits.
  """
  frozen = jax.tree.map(jnp.asarray, head_params)

  def logits_fn(params, features):
    return params["scales"] * models.apply_head(frozen, features,
                                                kind=head_kind)

  return {"scales": jnp.ones((num_classes,), jnp.float32)}, logits_fn


def _epoch_plan(labels: np.ndarray, class_counts: np.ndarray,
                options: Stage2Options) -> Callable[[int], np.ndarray]:
  """`plan(epoch)`: the options' sampler's example indices of an epoch."""

  def plan(epoch):
    probs = sampling.sampling_probabilities(
        options.sampler, class_counts, epoch=epoch, num_epochs=options.epochs)
    return sampling.epoch_plan(labels, seed=options.seed, epoch=epoch,
                               class_probabilities=probs)

  return plan


def _plan(labels: np.ndarray, class_counts: np.ndarray,
          options: Stage2Options) -> Iterator[np.ndarray]:
  """Batch indices of every step, one epoch plan per epoch."""
  per_epoch = sampling.steps_per_epoch(len(labels), options.batch_size)
  plan = _epoch_plan(labels, class_counts, options)
  for epoch in range(options.epochs):
    indices = plan(epoch)
    for step in range(per_epoch):
      _watchdog.beat(f"stage-2 epoch {epoch} step {step}")
      yield sampling.batch_indices(indices, step,
                                   global_batch_size=options.batch_size)


def _optimizer(num_examples: int, options: Stage2Options):
  total = options.epochs * sampling.steps_per_epoch(num_examples,
                                                    options.batch_size)
  schedule = train.cosine_schedule(options.lr, total_steps=total)
  return train.sgd(schedule, momentum=options.momentum,
                   weight_decay=options.weight_decay)


def _example_loss(logits, labels, weights=None):
  """Per-example cross-entropy [B] (stage 2 has no example weights)."""
  del weights
  return losses.weighted_cross_entropy(logits, labels)


def fit_on_features(params, logits_fn: LogitsFn, features: jax.Array,
                    labels: np.ndarray, class_counts: np.ndarray,
                    options: Stage2Options = Stage2Options()):
  """Trains `params` on cached features with the options' sampler.

  Cross-entropy, SGD with momentum and coupled weight decay, cosine decay
  over all steps; the loop is `ltjax.train.retrain_head`.

  Args:
    params: initial classifier parameters (`crt_init` or `lws_init`).
    logits_fn: (params, features [B, D]) -> logits [B, C].
    features: float [N, D], the frozen backbone's training features.
    labels: int [N].
    class_counts: [C] training counts (for the sampler).
    options: the schedule.

  Returns:
    The trained parameters.
  """
  labels = np.asarray(labels)
  return train.retrain_head(
      params, features, labels.astype(np.int32), apply_fn=logits_fn,
      loss_fn=_example_loss, tx=_optimizer(len(labels), options),
      epochs=options.epochs, batch_size=options.batch_size,
      plan=_epoch_plan(labels, np.asarray(class_counts), options))


def fit_with_backbone(params, logits_fn: LogitsFn, model, variables, split,
                      preprocess, class_counts: np.ndarray,
                      options: Stage2Options = Stage2Options(), *,
                      bn_train: bool = False):
  """Trains `params` on features of the frozen backbone, batch by batch.

  Every step runs the backbone (its parameters frozen) on an augmented batch
  of `split`. With `bn_train` its BatchNorm uses batch statistics and updates
  its running statistics, as the original code does; otherwise it uses the
  stage-1 running statistics.

  Args:
    params, logits_fn: the classifier, as for `fit_on_features`.
    model: the stage-1 Flax model.
    variables: its variables {"params", "batch_stats"}.
    split: the training split (`get_batch(indices, rng=...)`).
    preprocess: (uint8 images, key or None) -> model input.
    class_counts: [C] training counts.
    options: the schedule.
    bn_train: keep BatchNorm in train mode (the original's behaviour).

  Returns:
    (trained params, the backbone variables — with drifted batch statistics
    when `bn_train`).
  """
  labels = np.asarray(split.labels)
  tx = _optimizer(len(labels), options)
  key = jax.random.PRNGKey(options.seed)

  @jax.jit
  def step(params, opt_state, variables, images, batch_labels, step_index):
    inputs = preprocess(images, jax.random.fold_in(key, step_index))
    if bn_train:
      (_, features), updates = model.apply(variables, inputs, train=True,
                                           mutable=["batch_stats"])
      variables = {**variables, **updates}
    else:
      _, features = model.apply(variables, inputs, train=False)
    features = jax.lax.stop_gradient(features)
    grads = jax.grad(lambda p: jnp.mean(_example_loss(
        logits_fn(p, features), batch_labels)))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, variables

  opt_state = tx.init(params)
  for i, indices in enumerate(_plan(labels, np.asarray(class_counts),
                                    options)):
    rng = np.random.default_rng([options.seed, i])
    images, batch_labels = split.get_batch(indices, rng=rng)
    params, opt_state, variables = step(params, opt_state, variables, images,
                                        batch_labels.astype(np.int32), i)
  return params, variables
