"""`train_and_evaluate(config, workdir)`: the one training loop.

Order of work: validate the config, load the data (both fail before anything
is compiled), build model / optimizer / objective, restore the newest
checkpoint if the workdir has one, then train with one compiled step,
evaluating on the validation split and the test set every
`eval_every_epochs`, and write the results (see `_report`).
"""

import dataclasses
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import _console
from ltjax import data as ltdata
from ltjax import metrics as ltmetrics
from ltjax import models
from ltjax import sampling
from ltjax.data import _augment
from ltjax.train import _config
from ltjax.train import _driver
from ltjax.train import _objectives
from ltjax.train import _optim
from ltjax.train import _parallel
from ltjax.train import _report
from ltjax.train import _state
from ltjax.train import _step
from ltjax.train import _workdir

_STANDARD_NORMALIZATION = {
    "cifar10_lt": (_augment.CIFAR_MEAN, _augment.CIFAR_STD),
    "cifar100_lt": (_augment.CIFAR_MEAN, _augment.CIFAR_STD),
    "mnist_lt": (_augment.MNIST_MEAN, _augment.MNIST_STD),
    "imagenet_lt": (_augment.IMAGENET_MEAN, _augment.IMAGENET_STD),
    "places_lt": (_augment.IMAGENET_MEAN, _augment.IMAGENET_STD),
}


@dataclasses.dataclass
class Run:
  """Everything built at start-up, shared by training and evaluation."""
  config: Any
  dataset: Any
  mesh: jax.sharding.Mesh
  steps_per_epoch: int
  total_steps: int
  schedule: Any
  train_step: Any
  eval_step: Any
  init_state: Any
  eval_batch_size: int
  model: Any
  preprocess: Any  # (uint8 images, key or None) -> model input
  # (state, batch) -> per-example logits / predictions (predictions.npz).
  predict_step: Any = None
  # The factor the loss applies to the model's logits (`eval_logit_scale`).
  logit_scale: float = 1.0


def normalization(config, dataset) -> tuple[tuple[float, ...],
                                            tuple[float, ...]]:
  """The config's mean/std, else the dataset's standard, else computed."""
  if config.augment.mean:
    return tuple(config.augment.mean), tuple(config.augment.std)
  if dataset.name in _STANDARD_NORMALIZATION:
    return _STANDARD_NORMALIZATION[dataset.name]
  images, _ = dataset.train.get_batch(
      np.arange(min(len(dataset.train), 10_000)))
  scaled = images.astype(np.float64) / 255.0
  axes = tuple(range(scaled.ndim - 1))
  std = scaled.std(axis=axes)
  # Pixels: a floor for near-constant channels. Feature vectors [N, D] may
  # have any scale: only a constant column (std 0) is left unscaled.
  std = (np.maximum(std, 1e-3) if scaled.ndim == 4 else
         np.where(std > 0, std, 1.0))
  return tuple(scaled.mean(axis=axes).tolist()), tuple(std.tolist())


def make_schedule(config, steps_per_epoch: int, total_steps: int):
  optim = config.optim
  if optim.schedule == "warmup_step":
    return _optim.warmup_step_schedule(
        optim.lr, steps_per_epoch=steps_per_epoch,
        warmup_epochs=optim.warmup_epochs, decay_epochs=optim.decay_epochs,
        decay_factors=optim.decay_factors)
  if optim.schedule == "cosine":
    return _optim.cosine_schedule(
        optim.lr, total_steps=total_steps,
        warmup_steps=min(optim.warmup_epochs * steps_per_epoch,
                         total_steps - 1))
  return lambda step: jnp.asarray(optim.lr, jnp.float32)


def reports_posthoc(config) -> bool:
  """Post-hoc adjustment is reported for plain cross-entropy (ERM) runs.

  Its premise is a model whose softmax estimates the long-tailed p(y | x);
  re-weighted, re-sampled or margin-adjusted models (LDAM) are already
  corrected.
  """
  return (config.loss.name == "ce"
          and _objectives.resolve_reweight(config.loss) == "none"
          and config.sampler.name == "instance")


def eval_logit_scale(config) -> float:
  """The factor the training loss applies to the model's logits.

  LDAM multiplies the (cosine) logits by `loss.scale` s before its softmax;
  every other loss takes the logits as they are. Evaluation uses the same
  factor, so the confidences (ECE, predictions.npz) are those of the
  softmax the model was trained with, not of softmax(cos), which is nearly
  uniform over [-1, 1]. Argmax predictions do not depend on it.
  """
  if _objectives.LOSSES[config.loss.name].needs_normalized_head:
    return float(config.loss.scale)
  return 1.0


def build_run(config, dataset, mesh: jax.sharding.Mesh | None = None) -> Run:
  """Builds model, optimizer, objective and the compiled steps."""
  mesh = _parallel.data_mesh() if mesh is None else mesh
  _parallel.check_batch_size(config.batch_size, mesh)
  # Evaluation pads and masks its batches anyway, so its batch size is
  # rounded up to split evenly rather than refused.
  eval_batch_size = _parallel.round_up_batch_size(config.eval_batch_size,
                                                  mesh)
  counts = np.asarray(dataset.train_class_counts)
  steps_per_epoch = sampling.steps_per_epoch(len(dataset.train),
                                             config.batch_size)
  total_steps = config.num_epochs * steps_per_epoch
  if config.max_steps > 0:
    total_steps = min(total_steps, config.max_steps)
  schedule = make_schedule(config, steps_per_epoch, total_steps)
  tx = _optim.sgd(schedule, momentum=config.optim.momentum,
                  nesterov=config.optim.nesterov,
                  weight_decay=config.optim.weight_decay)
  dtype = jnp.dtype(config.model.dtype)
  model_kwargs = {}
  if models.has_convolutions(config.model.name):
    model_kwargs["conv"] = models.conv_for(config.model.conv)
  model = models.build_model(config.model.name,
                             num_classes=dataset.num_classes,
                             head=config.model.head, dtype=dtype,
                             **model_kwargs)
  objective = _objectives.make_objective(config.loss, counts,
                                         steps_per_epoch=steps_per_epoch)
  mean, std = normalization(config, dataset)

  def preprocess(images, key):
    return _augment.augment(images, key, mean=mean, std=std,
                            padding=config.augment.padding,
                            flip=config.augment.flip, dtype=dtype)

  replicated = _parallel.replicated(mesh)
  batch = _parallel.batch_sharded(mesh)
  train_step = jax.jit(
      _step.make_train_step(model, tx, objective, preprocess, schedule),
      in_shardings=(replicated, batch), out_shardings=(replicated, replicated),
      donate_argnums=0)
  priors = (counts / counts.sum()
            if reports_posthoc(config) and np.all(counts > 0) else None)
  logit_scale = eval_logit_scale(config)
  eval_kwargs = {"logit_scale": logit_scale, "class_priors": priors,
                 "posthoc_tau": config.posthoc_tau}
  eval_step = jax.jit(
      _step.make_eval_step(model, preprocess, **eval_kwargs),
      in_shardings=(replicated, batch), out_shardings=replicated)
  predict_step = jax.jit(
      _step.make_predict_step(model, preprocess, **eval_kwargs),
      in_shardings=(replicated, batch), out_shardings=replicated)
  sample = jnp.zeros((1, *dataset.image_shape), dtype)
  init_state = jax.jit(
      lambda: _state.create_train_state(model, tx, sample, seed=config.seed),
      out_shardings=replicated)
  return Run(config=config, dataset=dataset, mesh=mesh,
             steps_per_epoch=steps_per_epoch, total_steps=total_steps,
             schedule=schedule, train_step=train_step, eval_step=eval_step,
             init_state=init_state, eval_batch_size=eval_batch_size,
             model=model, preprocess=preprocess, predict_step=predict_step,
             logit_scale=logit_scale)


def _sampler_probabilities(config, counts, epoch: int):
  s = config.sampler
  return sampling.sampling_probabilities(
      s.name, counts, epoch=epoch, num_epochs=config.num_epochs,
      start_epoch=s.start_epoch, balanced=s.balanced, beta=s.beta)


def train_batch(run: Run, step: int, plan: np.ndarray) -> dict[str, jax.Array]:
  """The global batch of `step`, assembled from this process's slice."""
  config = run.config
  indices = sampling.batch_indices(
      plan, step % run.steps_per_epoch, global_batch_size=config.batch_size,
      process_index=jax.process_index(), process_count=jax.process_count())
  # Host-side randomness (streamed random-resized crops) is a pure function
  # of (seed, step, process), like everything else a resumed run redraws.
  rng = np.random.default_rng([config.seed, step, jax.process_index()])
  images, labels = run.dataset.train.get_batch(indices, rng=rng)
  return _parallel.global_batch(
      {"image": images, "label": labels.astype(np.int32)},
      _parallel.batch_sharded(run.mesh))


def epoch_plan(run: Run, epoch: int) -> np.ndarray:
  config, labels = run.config, np.asarray(run.dataset.train.labels)
  probs = _sampler_probabilities(config, run.dataset.train_class_counts,
                                 epoch)
  return sampling.epoch_plan(labels, seed=config.seed, epoch=epoch,
                             class_probabilities=probs,
                             group_size=config.sampler.group_size)


def evaluate(run: Run, state, split) -> dict[str, ltmetrics.ClassificationCounts]:
  """Merged counts over a whole split (padded last batch masked out)."""
  total = None
  for i, batch in enumerate(_driver.eval_batches(
      split, batch_size=run.eval_batch_size, mesh=run.mesh)):
    counts = run.eval_step(state, batch)
    total = counts if total is None else jax.tree.map(jnp.add, total, counts)
    _driver.keep_up(i, total)  # a bounded queue (the CPU deadlock)
  return jax.device_get(total)


def _summaries(run: Run, counts) -> dict[str, Any]:
  config = run.config
  train_counts = run.dataset.train_class_counts
  out = {}
  for kind, value in counts.items():
    if int(ltmetrics.unscored(value)):
      logging.warning(
          "%d evaluated rows had a non-finite logit and %d a label outside "
          "[0, %d): every metric of this evaluation is NaN.",
          int(value.nonfinite), int(value.out_of_range),
          run.dataset.num_classes)
    summary = ltmetrics.classification_summary(
        value, train_counts, many=config.shot_many, few=config.shot_few)
    summary["per_class"] = np.asarray(
        ltmetrics.per_class_accuracy(value)).tolist()
    out[kind] = summary
  return out


def evaluate_splits(run: Run, state, epoch: int, step: int) -> dict[str, Any]:
  record = {"epoch": epoch, "step": step}
  for name in ("val", "test"):
    split = getattr(run.dataset, name)
    if split is None:
      continue
    for kind, summary in _summaries(run, evaluate(run, state, split)).items():
      record[name if kind == "plain" else f"{name}_{kind}"] = summary
  return record


def resume_neutral_fields(config) -> tuple[str, ...]:
  """Config fields a resumed classification run may change.

  `ltjax.train._workdir.RESUME_NEUTRAL`, less `max_steps` for a cosine
  schedule (whose length is the run's, so `max_steps` changes it).
  """
  neutral = _workdir.RESUME_NEUTRAL
  if config.optim.schedule == "cosine":
    neutral = tuple(f for f in neutral if f != "max_steps")
  return neutral


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       dataset: ltdata.LongTailedDataset | None = None,
                       overwrite: bool = False) -> dict[str, Any]:
  """Trains and evaluates a long-tailed classifier; resumes from `workdir`.

  A job started on a workdir that holds a run resumes it, exactly, if the
  config is the same in every field that changes the training state or the
  result (`ltjax.train._workdir`); otherwise it is refused with a
  `ConfigMismatchError` listing the fields. Only one job runs on a workdir
  at a time (`WorkdirLockedError`). A non-finite loss or gradient norm
  stops the run with a `DivergenceError`; no non-finite state is saved.

  Args:
    config: a config following `ltjax.train.default_config()`.
    workdir: output directory (checkpoints, metrics, TensorBoard); a job
      started on a workdir with a checkpoint resumes from it.
    dataset: a `ltjax.data.LongTailedDataset` to train on instead of loading
      `config.data` (e.g. from your own arrays); `config.data` is then only
      recorded, and compared on a resume like any other field.
    overwrite: if the workdir holds a run with a different config, move its
      files to `<workdir>.replaced-<UTC time>` (named in the log) and start
      afresh instead of refusing.

  Returns:
    The content of `metrics.json`.

  Raises:
    ConfigMismatchError: the workdir's run has another config.
    WorkdirLockedError: another job is running on the workdir.
    DivergenceError: the loss or gradient norm became NaN or inf.
  """
  _report.quiet_library_logs()
  _config.validate_config(config)
  lock = _workdir.open_workdir(
      workdir, config.to_dict(), overwrite=overwrite,
      defaults=_config.default_config().to_dict(),
      neutral=resume_neutral_fields(config))
  try:
    return _train_and_evaluate(config, workdir, dataset)
  finally:
    if lock is not None:
      lock.release()


def _train_and_evaluate(config, workdir: str, dataset) -> dict[str, Any]:
  """`train_and_evaluate` once the workdir is held and checked."""
  if dataset is None:
    dataset = ltdata.load_dataset(config.data)
  run = build_run(config, dataset)
  logging.info(
      "%s: %d train / %s val / %d test images, %d classes, counts %s; "
      "%d steps (%d per epoch) on %d devices, %d processes.", dataset.name,
      len(dataset.train), len(dataset.val) if dataset.val else 0,
      len(dataset.test), dataset.num_classes,
      np.asarray(dataset.train_class_counts).tolist()[:20], run.total_steps,
      run.steps_per_epoch, run.mesh.devices.size, jax.process_count())

  checkpointer, state = _driver.resume(workdir, config, run.init_state())
  writer = None
  try:
    first_step = int(state.step)
    history = _report.resume_history(workdir, first_step)
    _report.write_config(workdir, config.to_dict())
    writer = _report.MetricWriter(os.path.join(workdir, "tb"))
    hooks = _driver.Hooks(
        plan=lambda epoch: epoch_plan(run, epoch),
        batch=lambda step, plan: train_batch(run, step, plan),
        evaluate=lambda state, step: evaluate_splits(
            run, state, step / run.steps_per_epoch, step))
    state, compile_seconds, train_seconds = _driver.run_schedule(
        run, state, first_step=first_step, last_step=run.total_steps,
        config=config, workdir=workdir, writer=writer,
        checkpointer=checkpointer, history=history, hooks=hooks)

    if not history or history[-1]["step"] != int(state.step):
      # A finished run whose history was lost: evaluate its final state.
      record = hooks.evaluate(state, int(state.step))
      _report.append_history(workdir, record)
      history.append(record)
    checkpointer.maybe_save(int(state.step), state, force=True)
  finally:
    # Waits for a save in flight (a finite state) also when the run stops.
    checkpointer.close()
    if writer is not None:
      writer.close()
  write_predictions(run, state, workdir)
  return _final_report(run, history, workdir, train_seconds,
                       int(state.step) - first_step, compile_seconds)


def predictions(run: Run, state, split) -> dict[str, np.ndarray]:
  """Per-example outputs of `state` on a whole split, in the split's order.

  Returns:
    {"index": int64 [N] position in the split, "label": int32 [N],
    "prediction": int32 [N] (argmax; -1 for a row with a non-finite logit),
    "logits": float32 [N, C] on the loss's scale (softmax of them is the
    model's probability), "logit_scale": float scalar (LDAM's s, else 1),
    and "prediction_posthoc" int32 [N] for a run that reports post-hoc
    adjustment}.
  """
  parts = []
  for batch in _driver.eval_batches(split, batch_size=run.eval_batch_size,
                                    mesh=run.mesh):
    parts.append(jax.device_get(run.predict_step(state, batch)))
  keep = np.concatenate([p["mask"] for p in parts])
  out = {name: np.concatenate([p[name] for p in parts])[keep]
         for name in parts[0] if name != "mask"}
  if len(out["label"]) != len(split):
    raise RuntimeError(
        f"predictions cover {len(out['label'])} of {len(split)} examples.")
  out["index"] = np.arange(len(split))
  out["logit_scale"] = np.float32(run.logit_scale)
  return out


def write_predictions(run: Run, state, workdir: str) -> None:
  """Writes predictions.npz: the test split's per-example `predictions`.

  Also holds "class_names" [C]. Written atomically, by process 0 only.
  """
  values = predictions(run, state, run.dataset.test)
  if not _report.is_writer():
    return
  values["class_names"] = np.asarray(run.dataset.class_names, dtype=str)
  path = os.path.join(workdir, "predictions.npz")
  with open(path + ".tmp", "wb") as f:
    np.savez(f, **values)
  os.replace(path + ".tmp", path)


def _final_report(run: Run, history, workdir, train_seconds, steps_run,
                  compile_seconds) -> dict[str, Any]:
  config, dataset = run.config, run.dataset
  final = history[-1]
  best = _driver.best_record(history, config.select_metric, mode="max")
  groups = ltmetrics.shot_groups(dataset.train_class_counts,
                                 many=config.shot_many, few=config.shot_few)

  result = {
      "final": _driver.without(final, "per_class"),
      "best_val": _driver.without(best, "per_class"),
      "select_metric": config.select_metric,
      "data": dataset.metadata,
      "train_class_counts": np.asarray(dataset.train_class_counts).tolist(),
      "run": {
          "total_steps": run.total_steps,
          "steps_this_run": steps_run,
          "train_seconds_this_run": train_seconds,
          "first_step_seconds": compile_seconds,
          "devices": int(run.mesh.devices.size),
          "processes": jax.process_count(),
      },
  }
  _report.write_metrics(workdir, result)
  rows = []
  for c in range(dataset.num_classes):
    group = next(g for g in ltmetrics.SHOT_GROUPS if groups[g][c])
    row = {"class": c, "name": dataset.class_names[c],
           "train_count": int(dataset.train_class_counts[c]), "group": group,
           "test_acc_final": final["test"]["per_class"][c]}
    if "test_posthoc" in final:
      row["test_acc_final_posthoc"] = final["test_posthoc"]["per_class"][c]
    if best is not None:
      row["test_acc_best_val"] = best["test"]["per_class"][c]
    rows.append(row)
  _report.write_csv(os.path.join(workdir, "per_class.csv"), rows)
  logging.info("final test: %s", _console.summary(result["final"].get("test")))
  if best is not None:
    logging.info("best-validation epoch %.2f test: %s", best["epoch"],
                 _console.summary(result["best_val"].get("test")))
  return result
