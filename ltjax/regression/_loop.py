"""`train_and_evaluate(config, workdir)` for deep imbalanced regression.

Order of work (as `ltjax.train`'s classification loop): validate the config,
load the data (both fail before anything is compiled), build model /
optimizer / objective / LDS weights / FDS state, restore the newest
checkpoint if the workdir has one, train with one compiled step over a 1-D
`data` mesh, evaluate on the validation and test splits every
`eval_every_epochs`, and write the results. With `config.rrt.enabled` the
trained (or `rrt.encoder_workdir`'s) encoder is then frozen and its regressor
re-trained with `config.reweight` (see `_rrt`).

Files in the workdir: checkpoints/ (the whole TrainState with the FDS
statistics), history.jsonl (every evaluation, with per-bin errors),
metrics.json (final and best-*validation* results, strict JSON: an empty
shot group is null), per_bin.csv (the error-vs-label curve with training
counts and groups), config.json, tb/ (TensorBoard), and for RRT rrt/ (the
re-trained regressor).
"""

import dataclasses
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

from ltjax import _console
from ltjax import models
from ltjax import sampling
from ltjax.data import _augment
from ltjax.regression import _bins
from ltjax.regression import _config
from ltjax.regression import _data
from ltjax.regression import _lds
from ltjax.regression import _metrics
from ltjax.regression import _optim
from ltjax.regression import _rrt
from ltjax.regression import _step
from ltjax.train import _driver
from ltjax.train import _loop as train_loop
from ltjax.train import _parallel
from ltjax.train import _report
from ltjax.train import _workdir


@dataclasses.dataclass
class Run:
  """Everything built at start-up, shared by training and evaluation."""
  config: Any
  dataset: Any
  mesh: jax.sharding.Mesh
  edges: np.ndarray
  bins_rule: str  # how the edges were made ("given" or a data rule)
  outside: dict[str, int]  # targets outside the bins, per split
  train_bin_counts: np.ndarray
  shot_many: float  # the shot-group thresholds used (config.shot_*)
  shot_few: float
  target_shift: float  # the model predicts (y - shift) / scale
  target_scale: float
  bin_weights: np.ndarray  # what config.reweight gives (RRT: stage 2)
  steps_per_epoch: int
  total_steps: int
  eval_batch_size: int
  schedule: Any
  model: Any
  objective: Any
  preprocess: Any
  train_step: Any
  eval_step: Any
  feature_step: Any
  predict_step: Any
  init_state: Any


def _preprocess_fn(config, dataset, dtype):
  if not dataset.is_image:
    return lambda inputs, key: jnp.asarray(inputs, jnp.float32).astype(dtype)
  aug = config.augment

  def preprocess(images, key):
    return _augment.augment(images, key, mean=tuple(aug.mean),
                            std=tuple(aug.std), padding=aug.padding,
                            flip=aug.flip, dtype=dtype)

  return preprocess


def bin_weights_of(config, train_targets, edges) -> np.ndarray:
  r = config.reweight
  return _lds.lds_bin_weights(
      train_targets, bins=edges, reweight=r.name, lds=r.lds, kernel=r.kernel,
      ks=r.ks, sigma=r.sigma, clip=tuple(r.clip),
      scipy_parity=r.scipy_parity)


def build_model(config):
  kwargs = {}
  if config.model.name == "mlp":
    kwargs["widths"] = tuple(config.model.widths)
  if models.has_convolutions(config.model.name):
    kwargs["conv"] = models.conv_for(config.model.conv)
  return models.build_model(config.model.name, num_classes=1, head="linear",
                            dtype=jnp.dtype(config.model.dtype), **kwargs)


def bins_outside(config, dataset, edges) -> dict[str, int]:
  """Counts the targets of each split outside the bins; checks training's.

  Training targets outside [edges[0], edges[K]] are an error unless
  `config.bins.outside == "clip"`; val / test ones are clipped into the edge
  bins for the per-bin metrics (their errors are exact) and reported.
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
    if name == "train" and config.bins.outside == "error":
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


def build_run(config, dataset, mesh: jax.sharding.Mesh | None = None) -> Run:
  """Builds model, optimizer, objective, weights and the compiled steps."""
  mesh = _parallel.data_mesh() if mesh is None else mesh
  _parallel.check_batch_size(config.batch_size, mesh)
  # Evaluation pads and masks its batches, so its batch size is rounded up
  # to split evenly (as the classification loop) rather than refused.
  eval_batch_size = _parallel.round_up_batch_size(config.eval_batch_size,
                                                  mesh)
  train_targets = np.asarray(dataset.train.targets)
  edges, bins_rule = _config.edges_of(config, train_targets)
  _config.check_bins_for_run(config, edges)
  outside = bins_outside(config, dataset, edges)
  counts = _bins.bin_counts(train_targets, edges)
  shot_many, shot_few = _metrics.shot_thresholds(
      counts, rule=config.shot_thresholds, many=config.shot_many,
      few=config.shot_few, quantiles=tuple(config.shot_quantiles))
  target_shift, target_scale = target_standardization(config, train_targets)
  steps_per_epoch = sampling.steps_per_epoch(len(dataset.train),
                                             config.batch_size)
  total_steps = config.num_epochs * steps_per_epoch
  if config.max_steps > 0:
    total_steps = min(total_steps, config.max_steps)
  schedule = train_loop.make_schedule(config, steps_per_epoch,
                                      config.num_epochs * steps_per_epoch)
  tx = _optim.make_optimizer(config.optim, schedule,
                             sigma_lr=config.loss.sigma_lr)
  dtype = jnp.dtype(config.model.dtype)
  model = build_model(config)
  objective = _step.make_objective(config.loss, edges=edges,
                                   train_targets=train_targets,
                                   target_shift=target_shift,
                                   target_scale=target_scale)
  bin_weights = bin_weights_of(config, train_targets, edges)
  # RRT trains its encoder without re-weighting; the weights are for stage 2.
  stage1_weights = (np.ones_like(bin_weights) if config.rrt.enabled
                    else bin_weights)
  preprocess = _preprocess_fn(config, dataset, dtype)
  sample_input = jnp.zeros((1, *dataset.input_shape),
                           dataset.train.input_dtype)
  _, sample_features = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), preprocess(x, None),
                                       train=False)[0], sample_input)
  fds_shape = ((len(edges) - 1, sample_features.shape[-1])
               if config.fds.enabled else None)

  replicated = _parallel.replicated(mesh)
  batch = _parallel.batch_sharded(mesh)
  train_step = jax.jit(
      _step.make_train_step(model, tx, objective, preprocess=preprocess,
                            schedule=schedule, edges=edges,
                            bin_weights=stage1_weights,
                            fds_config=config.fds,
                            steps_per_epoch=steps_per_epoch,
                            target_shift=target_shift,
                            target_scale=target_scale),
      in_shardings=(replicated, batch), out_shardings=(replicated, replicated),
      donate_argnums=0)
  eval_step = jax.jit(_step.make_eval_step(model, preprocess, edges=edges,
                                           target_shift=target_shift,
                                           target_scale=target_scale),
                      in_shardings=(replicated, batch),
                      out_shardings=replicated)
  predict_step = jax.jit(
      _step.make_predict_step(model, preprocess, target_shift=target_shift,
                              target_scale=target_scale),
      in_shardings=(replicated, batch), out_shardings=replicated)
  feature_step = jax.jit(_step.make_feature_step(model, preprocess),
                         in_shardings=(replicated, batch),
                         out_shardings=replicated)
  loss_params = _step.loss_params_of(config.loss)
  init_state = jax.jit(
      lambda: _step.create_state(model, tx, preprocess(sample_input, None),
                                 seed=config.seed, loss_params=loss_params,
                                 fds_shape=fds_shape),
      out_shardings=replicated)
  return Run(config=config, dataset=dataset, mesh=mesh, edges=edges,
             bins_rule=bins_rule, outside=outside,
             train_bin_counts=counts, shot_many=shot_many, shot_few=shot_few,
             target_shift=target_shift, target_scale=target_scale,
             bin_weights=bin_weights,
             steps_per_epoch=steps_per_epoch, total_steps=total_steps,
             eval_batch_size=eval_batch_size, schedule=schedule,
             model=model, objective=objective, preprocess=preprocess,
             train_step=train_step,
             eval_step=eval_step, feature_step=feature_step,
             predict_step=predict_step, init_state=init_state)


def epoch_plan(run: Run, epoch: int) -> np.ndarray:
  """A seeded permutation of the training set for `epoch`."""
  return sampling.epoch_plan(np.zeros(len(run.dataset.train), np.int64),
                             seed=run.config.seed, epoch=epoch)


def train_batch(run: Run, step: int, plan: np.ndarray) -> dict[str, jax.Array]:
  """The global batch of `step`, assembled from this process's slice.

  "fresh" is False for the examples that complete the epoch's last batch
  from the start of the permutation (seen twice in the epoch), so FDS
  statistics count every training example once per epoch.
  """
  config = run.config
  size, count = config.batch_size, jax.process_count()
  in_epoch = step % run.steps_per_epoch
  indices = sampling.batch_indices(
      plan, in_epoch, global_batch_size=size,
      process_index=jax.process_index(), process_count=count)
  per_process = size // count
  positions = (in_epoch * size + jax.process_index() * per_process
               + np.arange(per_process))
  inputs, targets = run.dataset.train.get_batch(indices)
  return _parallel.global_batch(
      {"input": inputs, "target": targets.astype(np.float32),
       "fresh": positions < plan.size},
      _parallel.batch_sharded(run.mesh))


def _eval_batches(run: Run, split):
  return _driver.eval_batches(split, batch_size=run.eval_batch_size,
                              mesh=run.mesh, keys=("input", "target"),
                              target_dtype=np.float32)


def evaluate(run: Run, state, split) -> _metrics.RegressionSums:
  """Merged error sums over a whole split."""
  total = _metrics.RegressionSums.empty(len(run.edges) - 1)
  for i, batch in enumerate(_eval_batches(run, split)):
    total = total + run.eval_step(state, batch)
    _driver.keep_up(i, total)  # a bounded queue (the CPU deadlock)
  return jax.device_get(total)


def extract_features(run: Run, state, split) -> np.ndarray:
  """Evaluation-mode features of a whole split, float32 [N, D]."""
  parts = []
  for batch in _eval_batches(run, split):
    parts.append(np.asarray(jax.device_get(run.feature_step(state, batch))))
  features = np.concatenate(parts)[:len(split)]
  return features


def predict_split(run: Run, state, split) -> np.ndarray:
  """Evaluation-mode predictions of a whole split in label units, [N]."""
  parts = []
  for batch in _eval_batches(run, split):
    parts.append(np.asarray(jax.device_get(run.predict_step(state, batch))))
  if not parts:
    return np.zeros((0,), np.float32)
  return np.concatenate(parts)[:len(split)].astype(np.float32)


def write_predictions(run: Run, workdir: str, predictions) -> None:
  """Writes the test split's per-example predictions to predictions.npz.

  Keys: "index" (int64 position in the test split), "target" and
  "prediction" (float32, original label units), and "source_line" (the
  row's 1-based line in its source file) for tabular sources. Written
  atomically by the writer process.
  """
  split = run.dataset.test
  if split is None or not _report.is_writer():
    return
  arrays = {"index": np.arange(len(split), dtype=np.int64),
            "target": np.asarray(split.targets, np.float32),
            "prediction": np.asarray(predictions, np.float32)}
  lines = getattr(split, "source_lines", None)
  if lines is not None:
    arrays["source_line"] = np.asarray(lines, np.int64)
  path = os.path.join(workdir, "predictions.npz")
  partial = path + ".partial.npz"
  np.savez(partial, **arrays)
  os.replace(partial, path)


def _split_record(run: Run, sums) -> dict[str, Any]:
  summary = _metrics.regression_summary(
      sums, run.train_bin_counts, many=run.shot_many, few=run.shot_few)
  curve = _metrics.per_bin_errors(sums)
  summary["per_bin"] = {k: v.tolist() for k, v in curve.items()}
  return summary


def evaluate_splits(run: Run, state, epoch: float, step: int,
                    stage: str = "train") -> dict[str, Any]:
  record = {"epoch": epoch, "step": step, "stage": stage}
  for name in ("val", "test"):
    split = getattr(run.dataset, name)
    if split is not None and len(split):
      record[name] = _split_record(run, evaluate(run, state, split))
  return record


def _restore_encoder(state, workdir: str):
  """The newest checkpoint of another run's workdir, opened read-only."""
  directory = os.path.join(os.path.abspath(workdir), "checkpoints")
  manager = ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(read_only=True))
  step = manager.latest_step()
  if step is None:
    raise ValueError(
        f"config.rrt.encoder_workdir: no checkpoint in {directory}.")
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  manager.close()
  logging.info("RRT: encoder from %s (step %d).", workdir, step)
  return restored


def run_rrt(run: Run, state, workdir: str, writer) -> list[dict[str, Any]]:
  """Stage 2: re-trains the regressor on frozen features; returns records."""
  config = run.config
  rrt = config.rrt
  started = time.perf_counter()
  train_x = extract_features(run, state, run.dataset.train)
  evals = {name: (extract_features(run, state, getattr(run.dataset, name)),
                  np.asarray(getattr(run.dataset, name).targets))
           for name in ("val", "test")}
  logging.info("RRT: features %s extracted in %.1f s.", train_x.shape,
               time.perf_counter() - started)
  head_init = models.head_of(run.model).init(
      jax.random.fold_in(jax.random.PRNGKey(config.seed), 2),
      jnp.asarray(train_x[:1]))["params"]
  edges = run.edges
  def head_predict(head, x):
    return _step.to_original(_step.predict(head, x), run.target_shift,
                             run.target_scale)

  batch_sums = jax.jit(lambda head, x, y: (
      _metrics.RegressionSums.from_predictions(head_predict(head, x), y,
                                               edges=edges)))
  base_step = int(state.step)
  per_epoch = sampling.steps_per_epoch(len(train_x), config.batch_size)
  records = []

  def on_epoch_end(epoch, head, loss):
    if epoch % config.eval_every_epochs and epoch != rrt.epochs:
      return
    record = {"epoch": float(epoch), "step": base_step + epoch * per_epoch,
              "stage": "rrt", "train_loss": loss}
    for name, (x, y) in evals.items():
      if not len(y):
        continue
      sums = _metrics.RegressionSums.empty(len(run.edges) - 1)
      for start in range(0, len(y), config.eval_batch_size):
        xs, ys = x[start:start + config.eval_batch_size], y[
            start:start + config.eval_batch_size]
        sums = sums + batch_sums(head, xs, ys)
      record[name] = _split_record(run, sums)
    _driver.log_evaluation(writer, record)
    _report.append_history(workdir, record)
    records.append(record)

  # The stage-1 schedule's shape over rrt.epochs, from rrt.lr.
  stage2 = ml_collections.ConfigDict(config.to_dict())
  stage2.optim.lr = rrt.lr
  ratio = rrt.epochs / config.num_epochs
  stage2.optim.decay_epochs = tuple(
      max(1, round(e * ratio)) for e in config.optim.decay_epochs)
  stage2.optim.warmup_epochs = (max(1, round(
      config.optim.warmup_epochs * ratio)) if config.optim.warmup_epochs else 0)
  schedule = train_loop.make_schedule(stage2, per_epoch,
                                      rrt.epochs * per_epoch)
  head = _rrt.retrain_regressor(
      train_x, np.asarray(run.dataset.train.targets), head_params=head_init,
      objective=run.objective, edges=run.edges, bin_weights=run.bin_weights,
      epochs=rrt.epochs, batch_size=config.batch_size,
      learning_rate=schedule, weight_decay=0.0, seed=config.seed,
      on_epoch_end=on_epoch_end)
  if _report.is_writer():
    saver = ocp.StandardCheckpointer()
    path = os.path.join(os.path.abspath(workdir), "rrt", "head")
    if os.path.exists(path):
      shutil.rmtree(path)
    saver.save(path, jax.device_get(head))
    saver.wait_until_finished()
    saver.close()
  test_x, _ = evals["test"]
  write_predictions(run, workdir, np.asarray(jax.jit(head_predict)(
      head, jnp.asarray(test_x))) if len(test_x) else np.zeros((0,)))
  return records


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       dataset: _data.RegressionDataset | None = None,
                       overwrite: bool = False) -> dict[str, Any]:
  """Trains and evaluates a deep-imbalanced-regression model; resumes.

  The workdir rules are the classification loop's
  (`ltjax.train.train_and_evaluate`): a resume under a config that differs
  in a field that matters is refused, one job at a time, and a non-finite
  loss or gradient norm stops the run (`ltjax.train.DivergenceError`).

  Args:
    config: a config following `ltjax.regression.default_config()`.
    workdir: output directory (checkpoints, metrics, TensorBoard); a job
      started on a workdir with a checkpoint resumes from it exactly.
    dataset: a `RegressionDataset` to train on instead of loading
      `config.data`; `config.data` is then only recorded (and compared on a
      resume).
    overwrite: move a differing run's files to `<workdir>.replaced-<time>`
      and start afresh instead of refusing.

  Returns:
    The content of `metrics.json`.
  """
  _report.quiet_library_logs()
  _config.validate_config(config, check_data=dataset is None)
  lock = _workdir.open_workdir(
      workdir, config.to_dict(), overwrite=overwrite,
      defaults=_config.default_config().to_dict())
  try:
    return _train_and_evaluate(config, workdir, dataset)
  finally:
    if lock is not None:
      lock.release()


def _train_and_evaluate(config, workdir: str, dataset) -> dict[str, Any]:
  """`train_and_evaluate` once the workdir is held and checked."""
  if dataset is None:
    dataset = _data.load_regression_dataset(config.data)
  run = build_run(config, dataset)
  groups = _metrics.bin_groups(run.train_bin_counts, many=run.shot_many,
                               few=run.shot_few)
  logging.info(
      "%s: %d train / %d val / %d test; %d bins (%d many, %d medium, %d few "
      "by training count); %d steps (%d per epoch) on %d devices.",
      dataset.name, len(dataset.train), len(dataset.val), len(dataset.test),
      len(groups), groups.count("many"), groups.count("medium"),
      groups.count("few"), run.total_steps, run.steps_per_epoch,
      run.mesh.devices.size)

  state = run.init_state()
  encoder_workdir = config.rrt.enabled and config.rrt.encoder_workdir
  checkpointer, writer = None, None
  try:
    if encoder_workdir:
      state = _restore_encoder(state, config.rrt.encoder_workdir)
      first_step = last_step = int(state.step)
      # Nothing of this workdir is restored: every record is made again.
      history = _report.resume_history(workdir, -1)
    else:
      checkpointer, state = _driver.resume(workdir, config, state)
      first_step, last_step = int(state.step), run.total_steps
      # RRT records (after the restored step) are made again.
      history = _report.resume_history(
          workdir, first_step, keep=lambda r: r.get("stage", "train") ==
          "train")
    _report.write_config(workdir, config.to_dict())
    writer = _report.MetricWriter(os.path.join(workdir, "tb"))

    hooks = _driver.Hooks(
        plan=lambda epoch: epoch_plan(run, epoch),
        batch=lambda step, plan: train_batch(run, step, plan),
        evaluate=lambda state, step: evaluate_splits(
            run, state, step / run.steps_per_epoch, step))
    state, compile_seconds, train_seconds = _driver.run_schedule(
        run, state, first_step=first_step, last_step=last_step,
        config=config, workdir=workdir, writer=writer,
        checkpointer=checkpointer, history=history, hooks=hooks)

    if not history or history[-1]["step"] != int(state.step):
      record = evaluate_splits(
          run, state, int(state.step) / run.steps_per_epoch, int(state.step),
          stage="encoder" if encoder_workdir else "train")
      _driver.log_evaluation(writer, record)
      _report.append_history(workdir, record)
      history.append(record)
    if checkpointer is not None:
      checkpointer.maybe_save(int(state.step), state, force=True)
      checkpointer.close()
      checkpointer = None
    if not config.rrt.enabled:
      write_predictions(run, workdir,
                        predict_split(run, state, run.dataset.test))
    stage = "train"
    if config.rrt.enabled:
      history.extend(run_rrt(run, state, workdir, writer))
      stage = "rrt"
  finally:
    # Waits for a save in flight (a finite state) also when the run stops.
    if checkpointer is not None:
      checkpointer.close()
    if writer is not None:
      writer.close()
  return _final_report(run, history, workdir, stage=stage, run_info={
      "total_steps": run.total_steps,
      "steps_this_run": int(state.step) - first_step,
      "train_seconds_this_run": train_seconds,
      "first_step_seconds": compile_seconds,
      "devices": int(run.mesh.devices.size),
      "processes": jax.process_count(),
  })


def _final_report(run: Run, history, workdir, *, stage: str,
                  run_info) -> dict[str, Any]:
  config = run.config
  final = [r for r in history if r.get("stage", "train") == stage][-1]
  best = _driver.best_record(history, config.select_metric, mode="min",
                             stage=stage)
  groups = _metrics.bin_groups(run.train_bin_counts, many=run.shot_many,
                               few=run.shot_few)
  result = {
      "final": _driver.without(final, "per_bin"),
      "best_val": _driver.without(best, "per_bin"),
      "select_metric": config.select_metric,
      "stage": stage,
      "data": run.dataset.metadata,
      "bins": {"edges": run.edges.tolist(), "rule": run.bins_rule,
               "outside": run.outside,
               "train_counts": run.train_bin_counts.tolist(),
               "groups": groups},
      "shots": {"thresholds": config.shot_thresholds,
                "many": run.shot_many, "few": run.shot_few,
                **({"quantiles": list(config.shot_quantiles)}
                   if config.shot_thresholds == "quantile" else {})},
      "target_standardization": (
          {"mean": run.target_shift, "std": run.target_scale}
          if config.data.get("standardize_targets", False) else None),
      "run": run_info,
  }
  _report.write_metrics(workdir, result)
  rows = []
  for k in range(len(groups)):
    row = {"bin": k, "low": float(run.edges[k]),
           "high": float(run.edges[k + 1]),
           "train_count": int(run.train_bin_counts[k]), "group": groups[k],
           "loss_weight": float(run.bin_weights[k])}
    for name, record in (("final", final), ("best_val", best)):
      if record is None or "test" not in record:
        continue
      curve = record["test"]["per_bin"]
      row["test_count"] = int(curve["count"][k])
      for metric in ("mae", "gm", "mean_error"):
        value = curve[metric][k]
        row[f"test_{metric}_{name}"] = "" if value is None or not np.isfinite(
            value) else value
    rows.append(row)
  _report.write_csv(os.path.join(workdir, "per_bin.csv"), rows)
  logging.info("final test: %s", _console.summary(result["final"].get("test")))
  if best is not None:
    logging.info("best-validation epoch %.2f test: %s", best["epoch"],
                 _console.summary(result["best_val"].get("test")))
  return result
