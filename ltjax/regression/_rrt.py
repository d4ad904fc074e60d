"""Regressor re-training (RRT) on a frozen encoder.

Yang et al. (2021) train an encoder without re-weighting, then freeze it and
re-train only the final linear regressor with LDS (or inverse) weights; the
reference re-initialises the regressor (it loads every pretrained weight but
the `linear` / `fc` ones) and trains it with Adam (no weight decay) on the
full schedule. Here the frozen encoder's features are extracted once
(evaluation mode, no augmentation) into arrays, and the regressor,
re-initialised like the model's own head, is trained on them by
`ltjax.train.retrain_head` (the routine behind cRT and LWS too).

Difference from the reference: it re-runs the whole (frozen) network with
data augmentation on every step, with BatchNorm in training mode, so the
"frozen" encoder's running statistics still drift; ltjax keeps the encoder
exactly fixed and trains on its evaluation-mode features.
"""

from collections.abc import Callable
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import shutil

from ltjax import _watchdog
from ltjax import models
from ltjax import sampling
from ltjax import train
from ltjax.data import _bins
from ltjax.regression import _components
from ltjax.regression import _config
from ltjax.regression import _metrics
from ltjax.regression import _optim
from ltjax.regression import _step


def retrain_regressor(features: np.ndarray, targets: np.ndarray, *,
                      head_params, objective, edges, bin_weights,
                      epochs: int, batch_size: int,
                      learning_rate: float | optax.Schedule,
                      weight_decay: float = 0.0, seed: int = 0,
                      on_epoch_end: Callable | None = None,
                      max_steps: int = -1):
  """Trains a linear regressor on fixed features with per-bin weights.

  Adam on `mean(objective(pred, y, w))` with w the weight of y's bin, over
  seeded permutations of the examples; the loop is
  `ltjax.train.retrain_head`.

  Args:
    features: float32 [N, D] frozen-encoder features of the training set.
    targets: float32 [N].
    head_params: the initial {"kernel": [D, 1], "bias": [1]}.
    objective: `objective(pred, y, w, {}) -> [B]` (`make_objective`).
    edges: float [K + 1] bin edges.
    bin_weights: float32 [K] per-bin weights (e.g. `lds_bin_weights`).
    epochs: passes over the features.
    batch_size: batch size (the last batch of an epoch is filled from the
      start of the epoch's permutation).
    learning_rate: Adam learning rate, a number or a schedule of the step.
    weight_decay: coupled L2 decay (the reference's re-training Adam has
      none).
    seed: seed of the epoch permutations.
    on_epoch_end: optional `f(epoch, head_params, mean_loss)` after each
      epoch (1-based).
    max_steps: > 0 to stop early (smoke tests).

  Returns:
    The trained head parameters.
  """
  features = np.asarray(features, np.float32)
  targets = np.asarray(targets, np.float32)
  schedule = (learning_rate if callable(learning_rate) else
              optax.constant_schedule(learning_rate))
  bin_weights = np.asarray(bin_weights, np.float32)
  weights = bin_weights[np.asarray(_bins.bin_index(targets, edges))]
  return train.retrain_head(
      head_params, features, targets, apply_fn=_step.predict,
      loss_fn=lambda pred, y, w: objective(pred, y, w, {}),
      tx=_optim.adam(schedule, weight_decay=weight_decay), epochs=epochs,
      batch_size=batch_size, weights=weights, seed=seed,
      on_epoch_end=on_epoch_end, max_steps=max_steps)


def run_rrt(run, task, state, session) -> None:
  """Stage 2: re-trains the regressor on frozen features."""
  config = run.config
  rrt = config.rrt
  started = time.perf_counter()
  variables = train.model_variables(task, state)

  def features(split):
    return train.extract_features(run.model, variables, split,
                                  preprocess=run.preprocess, mesh=run.mesh,
                                  batch_size=run.eval_batch_size)

  train_x = features(run.dataset.train)
  evals = {name: (features(getattr(run.dataset, name)),
                  np.asarray(getattr(run.dataset, name).targets))
           for name in ("val", "test")}
  logging.info("RRT: features %s extracted in %.1f s.", train_x.shape,
               time.perf_counter() - started)
  head_init = models.head_of(run.model).init(
      jax.random.fold_in(jax.random.PRNGKey(config.seed), 2),
      jnp.asarray(train_x[:1]))["params"]
  edges = task.edges

  def head_predict(head, x):
    return _step.to_original(_step.predict(head, x), task.target_shift,
                             task.target_scale)

  batch_sums = jax.jit(lambda head, x, y: (
      _metrics.RegressionSums.from_predictions(head_predict(head, x), y,
                                               edges=edges)))
  base_step = int(state.step)
  per_epoch = sampling.steps_per_epoch(len(train_x), config.batch_size)

  def on_epoch_end(epoch, head, loss):
    if epoch % config.eval_every_epochs and epoch != rrt.epochs:
      return
    record = {"epoch": float(epoch), "step": base_step + epoch * per_epoch,
              "stage": "rrt", "train_loss": loss}
    for name, (x, y) in evals.items():
      if not len(y):
        continue
      sums = _metrics.RegressionSums.empty(len(edges) - 1)
      for start in range(0, len(y), config.eval_batch_size):
        _watchdog.beat(f"the RRT evaluation at example {start}")
        stop = start + config.eval_batch_size
        sums = sums + batch_sums(head, x[start:stop], y[start:stop])
      record[name] = task.summaries(sums)[""]
    session.record(record)

  # The stage-1 schedule's shape over rrt.epochs, from rrt.lr.
  stage2 = ml_collections.ConfigDict(config.to_dict())
  stage2.optim.lr = rrt.lr
  ratio = rrt.epochs / config.num_epochs
  stage2.optim.decay_epochs = tuple(
      max(1, round(e * ratio)) for e in config.optim.decay_epochs)
  stage2.optim.warmup_epochs = (max(1, round(
      config.optim.warmup_epochs * ratio)) if config.optim.warmup_epochs else 0)
  stage2.num_epochs = rrt.epochs
  schedule = train.make_schedule(stage2, per_epoch)
  head = retrain_regressor(
      train_x, np.asarray(run.dataset.train.targets), head_params=head_init,
      objective=task.objective, edges=edges, bin_weights=task.bin_weights,
      epochs=rrt.epochs, batch_size=config.batch_size,
      learning_rate=schedule, weight_decay=0.0, seed=config.seed,
      on_epoch_end=on_epoch_end)
  if train.is_writer():
    saver = ocp.StandardCheckpointer()
    path = os.path.join(os.path.abspath(session.workdir), "rrt", "head")
    if os.path.exists(path):
      shutil.rmtree(path)
    saver.save(path, jax.device_get(head))
    saver.wait_until_finished()
    saver.close()
  test_x, _ = evals["test"]
  prediction = (np.asarray(jax.jit(head_predict)(head, jnp.asarray(test_x)))
                if len(test_x) else np.zeros((0,)))
  session.write_predictions(task.predict_arrays({"prediction": prediction}))


class RegressorRetraining(_components.RegressionComponent):
  """Regressor re-training, RRT (`config.rrt.enabled`): a second stage.

  The encoder trains without re-weighting (or is loaded from
  `rrt.encoder_workdir`, skipping the main schedule); then only the final
  regressor is re-initialised and trained on its frozen features with the
  per-bin weights (`run_rrt`). Its last record is the run's final one; it
  writes the predictions and rrt/ (the re-trained regressor).
  """
  name = "rrt"
  fields = ("rrt.enabled",)
  roles = frozenset({"second_stage"})
  final_stage = "rrt"
  writes_predictions = False

  @staticmethod
  def add_defaults(config) -> None:
    # Regressor re-training: the encoder is trained without re-weighting (or
    # loaded from encoder_workdir), then only the final regressor is
    # re-initialised and trained on its frozen features with config.reweight.
    config.rrt = ml_collections.ConfigDict(dict(
        enabled=False,
        epochs=90,  # the reference re-trains on the full schedule
        lr=1e-3,  # Adam, no weight decay, stage 1's schedule shape
        encoder_workdir=""))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    rrt, loss = config.rrt, config.loss
    _config.require(rrt.epochs >= 1, "rrt.epochs",
                    f"must be >= 1, got {rrt.epochs}.")
    _config.require(rrt.lr > 0, "rrt.lr", f"must be > 0, got {rrt.lr}.")
    if rrt.enabled:
      _config.require(
          config.reweight.name != "none", "reweight.name",
          "rrt re-trains the regressor with re-weighting: set "
          "reweight.name to 'sqrt_inv' or 'inverse' (and reweight.lds).")
      _config.require(
          not config.fds.enabled, "fds.enabled",
          "rrt trains its encoder without FDS here; disable one of them.")
      _config.require(
          loss.name not in _config.BALANCED_MSE_LOSSES, "loss.name",
          "rrt re-trains with a weighted loss; use l1, mse, focal or huber.")
    if rrt.encoder_workdir:
      _config.require(
          os.path.isdir(os.path.join(rrt.encoder_workdir, "checkpoints")),
          "rrt.encoder_workdir",
          f"{rrt.encoder_workdir!r} has no checkpoints/ folder (a finished "
          f"run's workdir).")

  def encoder_weights(self, weights):
    """The encoder trains without re-weighting; the weights are stage 2's."""
    return np.ones_like(weights)

  def pretrained(self, like):  # pylint: disable=method-hidden
    rrt = self.config.rrt
    if not rrt.encoder_workdir:
      return None
    try:
      state, step = train.read_checkpoint(rrt.encoder_workdir, like)
    except FileNotFoundError as error:
      raise ValueError(f"config.rrt.encoder_workdir: {error}") from None
    train.require_finished(
        rrt.encoder_workdir, "config.rrt.encoder_workdir",
        allow_unfinished=self.config.get("allow_unfinished", False))
    logging.info("RRT: encoder from %s (step %d).", rrt.encoder_workdir, step)
    return state, "encoder"

  def second_stage(self, run, state, session):  # pylint: disable=method-hidden
    run_rrt(run, self.task, state, session)
