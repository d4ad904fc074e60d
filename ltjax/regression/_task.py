"""The regression task: deep imbalanced regression on the one engine.

Objective: a per-example regression loss with per-bin LDS weights (L1, MSE,
focal-R, Huber, Balanced MSE with a learnable sigma trained beside the
model: the trained parameters are {"model": ..., "loss": {...}}), plus
`ranksim.weight` x the RankSim regulariser of the raw encoder features
(the official code's `encoding`, before FDS) with `ranksim.enabled`; data:
the training split re-sampled once at start-up by `config.resample`
(SMOGN, `prepare_data`), the LDS weights computed on the re-sampled
targets, the bins and shot groups on the original ones; extra
state: FDS statistics in `TrainState.extra["fds"]`, accumulated from each
step's features and committed / smoothed at epoch ends, all as `jnp.where`
selections of the step; evaluation: mergeable `RegressionSums` per label
bin; outputs: per_bin.csv (the error-vs-label curve) and predictions.npz in
label units; second stage: regressor re-training (RRT) on the frozen
encoder's cached features (`ltjax.train.retrain_head`'s routine).

Files in the workdir besides the engine's: per_bin.csv, and for RRT rrt/
(the re-trained regressor).
"""

import os
import shutil
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from ltjax import _watchdog
from ltjax import data as ltdata
from ltjax import models
from ltjax import sampling
from ltjax import train
from ltjax.data import _augment
from ltjax.regression import _bins
from ltjax.regression import _config
from ltjax.regression import _fds
from ltjax.regression import _lds
from ltjax.regression import _metrics
from ltjax.regression import _ranksim
from ltjax.regression import _rrt
from ltjax.regression import _smogn
from ltjax.regression import _step

# The RankSim subsample's key: fold_in(fold_in(rng, step), this), apart from
# the step's transform keys (fold_in(..., i) for small i).
_RANKSIM_STREAM = 0x52414E4B  # "RANK"


def bin_weights_of(config, train_targets, edges) -> np.ndarray:
  r = config.reweight
  return _lds.lds_bin_weights(
      train_targets, bins=edges, reweight=r.name, lds=r.lds, kernel=r.kernel,
      ks=r.ks, sigma=r.sigma, clip=tuple(r.clip),
      scipy_parity=r.scipy_parity)


def bins_outside(config, dataset, edges) -> dict[str, int]:
  """Counts the targets of each split outside the bins; checks training's.

  Training targets outside [edges[0], edges[K]] are an error unless
  `config.bins.outside == "clip"` or `config.bins.rule == "range"` (whose
  edges leave the outliers out by design); val / test ones are clipped into
  the edge bins for the per-bin metrics (their errors are exact) and
  reported.
  """
  outside = {}
  for name in ("train", "val", "test"):
    split = getattr(dataset, name, None)
    if split is None:
      continue
    targets = np.asarray(split.targets)
    outside[name] = _bins.count_outside(targets, edges)
    if not outside[name]:
      continue
    what = {"train": "training", "val": "validation"}.get(name, name)
    where = (f"{outside[name]} of {targets.size} {what} targets lie outside "
             f"the bins [{edges[0]:g}, {edges[-1]:g}] (targets in "
             f"[{targets.min():g}, {targets.max():g}])")
    # Rule "range" puts the targets beyond its robust range in the end bins.
    if (name == "train" and config.bins.outside == "error" and
        config.bins.get("rule", "width") != "range"):
      raise ValueError(
          f"config.bins: {where}. Widen config.bins.low / high, leave them "
          f"unset (None) to take the range from the training targets, or set "
          f"config.bins.outside='clip' to count them in the edge bins.")
    logging.warning("%s; they are counted in the edge bins.", where)
  return outside


def target_standardization(config, train_targets) -> tuple[float, float]:
  """(shift, scale): the training targets' mean and std, or (0, 1)."""
  if not config.data.get("standardize_targets", False):
    return 0.0, 1.0
  targets = np.asarray(train_targets, np.float64)
  std = float(targets.std())
  return float(targets.mean()), (std if std > 0 else 1.0)


def build_regressor(config):
  """The one-output model of `config.model` (an MLP's `widths` included)."""
  kwargs = {}
  if config.model.name == "mlp":
    kwargs["widths"] = tuple(config.model.widths)
  if models.has_convolutions(config.model.name):
    kwargs["conv"] = models.conv_for(config.model.conv)
  return models.build_model(config.model.name, num_classes=1, head="linear",
                            dtype=train.compute_dtype(config), **kwargs)


class RegressionTask(train.Task):
  """Deep imbalanced regression (`config.task` "regression")."""
  name = "regression"
  input_key = "input"
  target_key = "target"
  target_dtype = np.float32
  select_mode = "min"
  per_item_key = "per_bin"
  csv_name = "per_bin.csv"

  default_config = staticmethod(_config.default_config)
  validate = staticmethod(_config.validate_task_fields)

  @staticmethod
  def load_data(data_config):
    return ltdata.load_dataset(data_config, task="regression")

  # (config, dataset) -> the dataset the run trains on: the training split
  # re-sampled by `config.resample` (the dataset itself for "none").
  prepare_data = staticmethod(_smogn.resample_dataset)

  def __init__(self, config, dataset, *, steps_per_epoch: int):
    super().__init__(config, dataset, steps_per_epoch=steps_per_epoch)
    train_targets = np.asarray(dataset.train.targets)
    original = getattr(dataset, "original_train", None)
    if config.resample.name != "none" and original is None:
      raise ValueError(
          f"config.resample.name={config.resample.name!r}: the dataset's "
          f"training split is not re-sampled; build the run with "
          f"ltjax.train.build_run, which calls "
          f"RegressionTask.prepare_data(config, dataset) first.")
    # The bins and shot groups of the original training targets.
    original_targets = (train_targets if original is None
                        else np.asarray(original.targets))
    self.edges, self.bins_rule = _config.edges_of(config, original_targets,
                                                  warn=True)
    _config.check_bins_for_run(config, self.edges)
    self.outside = bins_outside(config, dataset, self.edges)
    self.train_bin_counts = _bins.bin_counts(original_targets, self.edges)
    self.shot_many, self.shot_few = _metrics.shot_thresholds(
        self.train_bin_counts, rule=config.shot_thresholds,
        many=config.shot_many, few=config.shot_few,
        quantiles=tuple(config.shot_quantiles))
    self.target_shift, self.target_scale = target_standardization(
        config, train_targets)
    self.objective = _step.make_objective(
        config.loss, edges=self.edges, train_targets=train_targets,
        target_shift=self.target_shift, target_scale=self.target_scale)
    self.bin_weights = bin_weights_of(config, train_targets, self.edges)
    # RRT trains its encoder without re-weighting; the weights are stage 2's.
    self.stage1_weights = np.asarray(
        np.ones_like(self.bin_weights) if config.rrt.enabled
        else self.bin_weights, np.float32)
    self.dtype = train.compute_dtype(config)
    self.fds = config.fds if config.fds.enabled else None
    self.ranksim = config.ranksim if config.ranksim.enabled else None
    self.groups = _metrics.bin_groups(self.train_bin_counts,
                                      many=self.shot_many, few=self.shot_few)

  @classmethod
  def restore_model(cls, config, params):
    return build_regressor(config), params["model"]

  # ---- model, parameters, objective ----
  def build_model(self):
    return build_regressor(self.config)

  def preprocess(self, inputs, key):
    if not self.dataset.is_image:
      return jnp.asarray(inputs, jnp.float32).astype(self.dtype)
    aug = self.config.augment
    return _augment.augment(inputs, key, mean=tuple(aug.mean),
                            std=tuple(aug.std), padding=aug.padding,
                            flip=aug.flip, dtype=self.dtype)

  def sample_input(self):
    sample = jnp.zeros((1, *self.dataset.input_shape),
                       self.dataset.train.input_dtype)
    return self.preprocess(sample, None)

  def init_params(self, model_params):
    return {"model": model_params,
            "loss": _step.loss_params_of(self.config.loss)}

  def trainable(self, params):
    return params["model"]

  def optimizer(self, schedule):
    return train.make_optimizer(self.config.optim, schedule,
                                loss_lr=self.config.loss.sigma_lr)

  def scale_updates(self, updates, factor):
    """Only the model's updates follow the schedule; the loss's own
    parameters keep their constant `loss.sigma_lr` (`make_optimizer`)."""
    return {**updates, "model": super().scale_updates(updates["model"],
                                                      factor)}

  def loss(self, params, outputs, batch, state):
    _, features = outputs
    targets = batch["target"].astype(jnp.float32)
    bins = _bins.bin_index(targets, self.edges)
    weights = jnp.asarray(self.stage1_weights)[bins]
    used = features
    if self.fds is not None:
      epoch = state.step // self.steps_per_epoch
      calibrated = _fds.calibrate_features(features, bins, state.extra["fds"],
                                           clip=tuple(self.fds.clip))
      used = jnp.where(epoch >= self.fds.start_smooth, calibrated, features)
    pred = _step.predict(params["model"]["head"], used)
    per_example = self.objective(pred, targets, weights, params["loss"])
    aux = {"pred": pred, "features": features, "bins": bins,
           "noise_sigma": params["loss"].get("noise_sigma")}
    value = jnp.mean(per_example)
    if self.ranksim is not None:
      key = jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                               _RANKSIM_STREAM)
      aux["ranksim"] = _ranksim.ranksim_regularizer(
          features, targets, key,
          interpolation_lambda=self.ranksim.interpolation_lambda)
      value = value + self.ranksim.weight * aux["ranksim"]
    return value, aux

  def train_metrics(self, aux, batch):
    pred = _step.to_original(aux["pred"], self.target_shift,
                             self.target_scale)
    out = {"mae": jnp.mean(jnp.abs(pred - batch["target"].astype(
        jnp.float32)))}
    if aux["noise_sigma"] is not None:
      out["noise_sigma"] = jnp.abs(aux["noise_sigma"])
    if "ranksim" in aux:
      out["ranksim"] = aux["ranksim"]
    return out

  # ---- FDS: extra state advanced in the step ----
  def init_extra(self, model, sample):
    if self.fds is None:
      return {}
    _, features = jax.eval_shape(
        lambda x: model.init_with_output(jax.random.key(0), x,
                                         train=False)[0], sample)
    return {"fds": _fds.init_fds(len(self.edges) - 1, features.shape[-1])}

  @property
  def advance(self):
    if self.fds is None:
      return None
    fds_config, steps_per_epoch = self.fds, self.steps_per_epoch

    def advance(extra, aux, batch, step):
      # Statistics of the raw (uncalibrated) features, each training example
      # once per epoch ("fresh" is False for the examples repeated to fill
      # the last batch).
      epoch = step // steps_per_epoch
      updating = epoch >= fds_config.start_update
      fds = _fds.accumulate_fds(
          extra["fds"], jax.lax.stop_gradient(aux["features"]), aux["bins"],
          mask=batch["fresh"] & updating)
      end_of_epoch = (step + 1) % steps_per_epoch == 0
      committed = _fds.smooth_fds(
          _fds.commit_fds(fds, momentum=fds_config.momentum),
          kernel=fds_config.kernel, ks=fds_config.ks, sigma=fds_config.sigma,
          scipy_parity=fds_config.scipy_parity)
      return {**extra, "fds": _fds.select(end_of_epoch & updating, committed,
                                          fds)}

    return advance

  def train_arrays(self, inputs, targets, fresh):
    return {"input": inputs, "target": np.asarray(targets, np.float32),
            "fresh": fresh}

  # ---- evaluation and outputs ----
  def _predict(self, forward, state, batch):
    _, features = forward(state, batch)  # no FDS at inference
    pred = _step.predict(state.params["model"]["head"], features)
    return _step.to_original(pred, self.target_shift, self.target_scale)

  def make_eval_step(self, forward):
    def eval_step(state, batch):
      return _metrics.RegressionSums.from_predictions(
          self._predict(forward, state, batch), batch["target"],
          edges=self.edges, mask=batch["mask"])
    return eval_step

  def make_predict_step(self, forward):
    def predict_step(state, batch):
      return {"prediction": self._predict(forward, state, batch),
              "mask": batch["mask"]}
    return predict_step

  def summaries(self, metric):
    summary = _metrics.regression_summary(
        metric, self.train_bin_counts, many=self.shot_many, few=self.shot_few)
    curve = _metrics.per_bin_errors(metric)
    summary["per_bin"] = {k: v.tolist() for k, v in curve.items()}
    return {"": summary}

  def record_fields(self):
    return {"stage": "train"}

  def predict_arrays(self, outputs):
    """predictions.npz of the test split.

    Keys: "index" (int64 position in the test split), "target" and
    "prediction" (float32, original label units), and "source_line" (the
    row's 1-based line in its source file) for tabular sources.
    """
    split = self.dataset.test
    arrays = {"index": np.arange(len(split), dtype=np.int64),
              "target": np.asarray(split.targets, np.float32),
              "prediction": np.asarray(
                  outputs.get("prediction", np.zeros((0,))), np.float32)}
    lines = getattr(split, "source_lines", None)
    if lines is not None:
      arrays["source_line"] = np.asarray(lines, np.int64)
    return arrays

  def inference_fields(self):
    meta = self.dataset.metadata
    return {"task": self.name, "dataset": self.dataset.name,
            "input_shape": list(self.dataset.input_shape),
            # Raw feature rows -> the model's inputs: (x - mean) / std.
            "standardization": meta.get("standardization"),
            "image_mean": list(self.config.augment.mean),
            "image_std": list(self.config.augment.std),
            "csv_schema": meta.get("csv_schema"),
            "target_standardization": (
                {"mean": self.target_shift, "std": self.target_scale}
                if self.config.data.get("standardize_targets", False)
                else None)}

  def report_fields(self, stage):
    config = self.config
    return {
        "stage": stage,
        "bins": {"edges": self.edges.tolist(), "rule": self.bins_rule,
                 "outside": self.outside,
                 "train_counts": self.train_bin_counts.tolist(),
                 "groups": self.groups},
        "shots": {"thresholds": config.shot_thresholds,
                  "many": self.shot_many, "few": self.shot_few,
                  **({"quantiles": list(config.shot_quantiles)}
                     if config.shot_thresholds == "quantile" else {})},
        "target_standardization": (
            {"mean": self.target_shift, "std": self.target_scale}
            if config.data.get("standardize_targets", False) else None),
    }

  def csv_rows(self, final, best):
    rows = []
    for k in range(len(self.groups)):
      row = {"bin": k, "low": float(self.edges[k]),
             "high": float(self.edges[k + 1]),
             "train_count": int(self.train_bin_counts[k]),
             "group": self.groups[k],
             "loss_weight": float(self.bin_weights[k])}
      for name, record in (("final", final), ("best_val", best)):
        if record is None or "test" not in record:
          continue
        curve = record["test"]["per_bin"]
        row["test_count"] = int(curve["count"][k])
        for metric in ("mae", "gm", "mean_error"):
          value = curve[metric][k]
          row[f"test_{metric}_{name}"] = (
              "" if value is None or not np.isfinite(value) else value)
      rows.append(row)
    return rows

  def describe(self, run) -> str:
    dataset, groups = self.dataset, self.groups
    return (f"{dataset.name}: {len(dataset.train)} train / "
            f"{len(dataset.val)} val / {len(dataset.test)} test; "
            f"{len(groups)} bins ({groups.count('many')} many, "
            f"{groups.count('medium')} medium, {groups.count('few')} few by "
            f"training count)")

  # ---- stages: a loaded encoder, regressor re-training ----
  def pretrained(self, like):
    rrt = self.config.rrt
    if not (rrt.enabled and rrt.encoder_workdir):
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

  def final_stage(self):
    return "rrt" if self.config.rrt.enabled else "train"

  def writes_predictions(self):
    return not self.config.rrt.enabled

  def second_stage(self, run, state, session):
    if self.config.rrt.enabled:
      run_rrt(run, self, state, session)


def run_rrt(run, task: RegressionTask, state, session) -> None:
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
  head = _rrt.retrain_regressor(
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
