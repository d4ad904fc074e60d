"""`train_and_evaluate(config, workdir)`: the one engine for every task.

Order of work: validate the config (the task's schema), hold and check the
workdir, load the data (both fail before anything is compiled), build the
task, model, optimizer and the compiled steps (`build_run`), restore the
newest checkpoint if the workdir has one, train with one compiled step
(`_driver.run_schedule`), evaluating on the validation split and the test
set every `eval_every_epochs`, run the task's second stage if it has one,
and write the results: metrics.json (final and best-validation summaries),
the task's per-class / per-bin CSV, predictions.npz, history.jsonl,
config.json, tb/ and checkpoints/.

What differs between classification and regression is a `Task` (`_task`);
nothing here branches on the task.
"""

import dataclasses
import os
import sys
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ltjax import _console
from ltjax import _watchdog
from ltjax import data as ltdata
from ltjax import sampling
from ltjax.train import _average
from ltjax.train import _config
from ltjax.train import _device_data
from ltjax.train import _driver
from ltjax.train import _optim
from ltjax.train import _parallel
from ltjax.train import _replicas
from ltjax.train import _report
from ltjax.train import _state
from ltjax.train import _step
from ltjax.train import _task
from ltjax.train import _tricks
from ltjax.train import _workdir


# What `ltjax.predict` needs beside config.json and the checkpoint.
INFERENCE_FILE = "inference.json"


@dataclasses.dataclass
class Run:
  """Everything built at start-up, shared by training and evaluation.

  Attributes the task sets up (e.g. a regression run's `edges`, a
  classification run's `logit_scale`) are read through the run too.
  """
  config: Any
  dataset: Any
  task: _task.Task
  mesh: jax.sharding.Mesh
  steps_per_epoch: int
  total_steps: int
  schedule: Any
  model: Any
  preprocess: Any  # (host inputs, key or None) -> model input
  train_step: Any
  eval_step: Any
  predict_step: Any
  init_state: Any
  eval_batch_size: int
  # The device path (`_device_data`): the split's arrays on the device and
  # the multi-step call, or None (host-fed steps).
  device_data: Any = None
  train_chunk: Any = None
  chunk_cap: int = 1
  # The functions the jitted steps compile (`_replicas` vmaps them).
  step_fn: Any = None
  eval_fn: Any = None

  def __getattr__(self, name: str):
    task = self.__dict__.get("task")
    if task is None or name.startswith("__"):
      raise AttributeError(name)
    return getattr(task, name)


def accumulate_steps(config) -> int:
  """K of `optim.accumulate_steps` (1: none)."""
  return int(config.optim.get("accumulate_steps", 1))


def accumulated(task, schedule, k: int):
  """The task's optimizer, applying the mean of every `k` steps' gradients.

  `optax.MultiSteps` keeps the running sum in the optimizer state
  (checkpointed: a resume mid-window is exact) and passes zero updates
  until the k-th step; the inner optimizer counts applied updates, so it
  reads `schedule` at the first step of each window (update u: step u k).
  """
  if k == 1:
    return task.optimizer(schedule)
  inner = task.optimizer(lambda update: schedule(update * k))
  return optax.MultiSteps(inner, every_k_schedule=k)


def make_schedule(config, steps_per_epoch: int):
  """The learning-rate schedule of `config.optim` over the whole schedule.

  Its horizon is `num_epochs` epochs whatever `max_steps` says: `max_steps`
  only stops a run early (a smoke run), so it never changes the values.
  """
  optim = config.optim
  horizon = config.num_epochs * steps_per_epoch
  lr = _tricks.scaled_learning_rate(
      optim.lr, batch_size=config.batch_size * accumulate_steps(config),
      base_batch_size=optim.get("base_batch_size", 128),
      rule=optim.get("lr_scaling", "none"))
  warmup = min(int(round(optim.warmup_epochs * steps_per_epoch)),
               horizon - 1)
  if optim.schedule == "warmup_step":
    return _optim.warmup_step_schedule(
        lr, steps_per_epoch=steps_per_epoch,
        warmup_epochs=optim.warmup_epochs, decay_epochs=optim.decay_epochs,
        decay_factors=optim.decay_factors)
  if optim.schedule == "cosine":
    return _optim.cosine_schedule(
        lr, total_steps=horizon,
        warmup_steps=min(optim.warmup_epochs * steps_per_epoch, horizon - 1))
  if optim.schedule == "one_cycle":
    return _tricks.one_cycle_schedule(lr, total_steps=horizon,
                                      warmup_steps=max(warmup, 2))
  if optim.schedule == "linear":
    return _tricks.linear_decay_schedule(lr, total_steps=horizon,
                                         warmup_steps=warmup)
  return lambda step: jnp.asarray(lr, jnp.float32)


def model_variables(task: _task.Task, state) -> dict[str, Any]:
  """The Flax variables of the model in `state` (`model.apply`'s).

  With weight averaging (`config.weight_average`), the averaged weights:
  what every evaluation, prediction and second stage uses.
  """
  params, batch_stats = _average.averaged(state.params, state.batch_stats,
                                          state.extra)
  variables = {"params": task.trainable(params)}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  return variables


def model_forward(model, task: _task.Task):
  """`forward(state, batch)`: the model's evaluation-mode outputs."""

  def forward(state, batch):
    inputs = task.preprocess(batch[task.input_key], None)
    return model.apply(model_variables(task, state), inputs, train=False)

  return forward


def build_run(config, dataset, mesh: jax.sharding.Mesh | None = None) -> Run:
  """Builds the task, model, optimizer and the compiled steps of a run."""
  mesh = _parallel.data_mesh() if mesh is None else mesh
  _parallel.check_batch_size(config.batch_size, mesh)
  # The method's data (e.g. a re-sampled training split), before anything
  # is sized from it; idempotent.
  dataset = _task.get_task(_task.task_name(config)).prepare_data(
      config, dataset)
  # Evaluation pads and masks its batches anyway, so its batch size is
  # rounded up to split evenly rather than refused.
  eval_batch_size = _parallel.round_up_batch_size(config.eval_batch_size,
                                                  mesh)
  steps_per_epoch = sampling.steps_per_epoch(len(dataset.train),
                                             config.batch_size)
  total_steps = config.num_epochs * steps_per_epoch
  if config.max_steps > 0:
    total_steps = min(total_steps, config.max_steps)
  task = _task.get_task(_task.task_name(config))(
      config, dataset, steps_per_epoch=steps_per_epoch)
  schedule = make_schedule(config, steps_per_epoch)
  tx = accumulated(task, schedule, accumulate_steps(config))
  model = task.model = task.build_model()

  replicated = _parallel.replicated(mesh)
  batch = _parallel.batch_sharded(mesh)
  advance = task.advance
  step_fn = _step.make_step(model, tx, loss=task.loss, learning_rate=schedule,
                            transforms=task.transforms(), input_key="input",
                            trainable=task.trainable, advance=advance,
                            gradient=task.gradient(),
                            metrics=task.train_metrics, project=task.project,
                            average=_average.make(config),
                            scale_updates=task.scale_updates)
  train_step = jax.jit(
      step_fn, in_shardings=(replicated, batch),
      out_shardings=(replicated, replicated), donate_argnums=0)
  device_data = train_chunk = None
  cap = _device_data.chunk_cap(config, steps_per_epoch,
                               mesh.devices.flat[0].platform)
  if _device_data.use_device_data(config, dataset, mesh):
    device_data = _device_data.put_training_split(
        task, dataset, mesh, with_index=task.batch_index,
        partner_keys=(task.input_key, task.target_key))
    train_chunk = jax.jit(
        _device_data.make_chunk(step_fn, device_data,
                                steps_per_epoch=steps_per_epoch,
                                batch_size=config.batch_size, max_steps=cap,
                                mesh=mesh),
        out_shardings=(replicated, replicated), donate_argnums=0)
  forward = model_forward(model, task)
  eval_fn = task.make_eval_step(forward)
  eval_step = jax.jit(eval_fn, in_shardings=(replicated, batch),
                      out_shardings=replicated)
  predict_step = jax.jit(task.make_predict_step(forward),
                         in_shardings=(replicated, batch),
                         out_shardings=replicated)
  sample = task.sample_input()

  def init():
    state = _state.create_train_state(
        model, tx, sample, seed=config.seed,
        extra=task.init_extra(model, sample), params_fn=task.init_params)
    if _average.enabled(config):
      state = state.replace(extra={
          **state.extra,
          _average.KEY: _average.init_extra(state.params, state.batch_stats)})
    return state

  init_state = jax.jit(init, out_shardings=replicated)
  return Run(config=config, dataset=dataset, task=task, mesh=mesh,
             steps_per_epoch=steps_per_epoch, total_steps=total_steps,
             schedule=schedule, model=model, preprocess=task.preprocess,
             train_step=train_step, eval_step=eval_step,
             predict_step=predict_step,
             init_state=init_state, eval_batch_size=eval_batch_size,
             device_data=device_data, train_chunk=train_chunk, chunk_cap=cap,
             step_fn=step_fn, eval_fn=eval_fn)


def epoch_plans(task: _task.Task, epoch: int):
  """(the epoch's plan, the partner plan or None) (`Task.partner_plan`)."""
  return task.epoch_plan(epoch), task.partner_plan(epoch)


def train_batch(run: Run, step: int, plans) -> dict[str, jax.Array]:
  """The global batch of `step`, assembled from this process's slice.

  "fresh" is False for the examples that complete the epoch's last batch
  from the start of the plan (seen twice in the epoch), so statistics
  gathered in the step (FDS) count every example once per epoch. With a
  partner plan (`Task.partner_plan`, e.g. a class-balanced second sample
  to mix with), the same positions of it are added as `<input key>_b` and
  `<target key>_b`.

  Args:
    run: the run.
    step: the global step.
    plans: (plan, partner plan or None) of the step's epoch
      (`epoch_plans`); a bare plan is the same as (plan, None).
  """
  plan, partner = plans if isinstance(plans, tuple) else (plans, None)
  config, task = run.config, run.task
  size, count = config.batch_size, jax.process_count()
  in_epoch = step % run.steps_per_epoch
  per_process = size // count
  positions = (in_epoch * size + jax.process_index() * per_process
               + np.arange(per_process))

  def fetch(plan, stream):
    indices = sampling.batch_indices(
        plan, in_epoch, global_batch_size=size,
        process_index=jax.process_index(), process_count=count)
    # Host-side randomness (streamed random-resized crops) is a pure
    # function of (seed, step, process), like everything else a resumed
    # run redraws.
    rng = np.random.default_rng([config.seed, step, jax.process_index()]
                                + stream)
    inputs, targets = run.dataset.train.get_batch(indices, rng=rng)
    arrays = task.train_arrays(inputs, targets, positions < plan.size)
    if task.batch_index:
      arrays["index"] = indices.astype(np.int32)
    return arrays

  arrays = fetch(plan, [])
  if partner is not None:
    second = fetch(partner, [1])
    for key in (task.input_key, task.target_key):
      arrays[key + "_b"] = second[key]
  return _parallel.global_batch(arrays, _parallel.batch_sharded(run.mesh))


def device_hooks(run: Run) -> dict[str, Any]:
  """`_driver.Hooks`' chunk and boundary of the device path ({} if off).

  Plans are laid out and put on the device once per epoch (`plan` hook);
  a chunk runs the steps [step, end) in one call.
  """
  if run.train_chunk is None:
    return {}
  config = run.config
  every = (config.log_every_steps, config.checkpoint_every_steps)

  def chunk(state, step, end, plans):
    # `step` is the state's (counted on the host: no wait for the device).
    return run.train_chunk(state, plans, np.int32(end - step))

  def boundary(step):
    return _device_data.next_boundary(
        step, last_step=run.total_steps, steps_per_epoch=run.steps_per_epoch,
        cap=run.chunk_cap, every=every)

  return {"chunk": chunk, "boundary": boundary}


def device_plans(run: Run, epoch: int):
  """The epoch's plans, on the device for the device path."""
  plans = epoch_plans(run.task, epoch)
  if run.train_chunk is None:
    return plans
  return _device_data.plans_on_device(
      plans, steps_per_epoch=run.steps_per_epoch,
      batch_size=run.config.batch_size, mesh=run.mesh)


def eval_batches(run: Run, split):
  """Padded, masked global batches of a whole split (`_driver`)."""
  task = run.task
  return _driver.eval_batches(split, batch_size=run.eval_batch_size,
                              mesh=run.mesh,
                              keys=(task.input_key, task.target_key),
                              target_dtype=task.target_dtype)


def evaluate(run: Run, state, split):
  """The task's metric merged over a whole split (padding masked out)."""
  total = None
  for i, batch in enumerate(eval_batches(run, split)):
    value = run.eval_step(state, batch)
    total = value if total is None else merge(total, value)
    _driver.keep_up(i, total)  # a bounded queue (the CPU deadlock)
  return jax.device_get(total)


def merge(a, b):
  """Merges two metrics: `a.merge(b)`, entry-wise for a dict, else a sum.

  `merge` is CLU's `Metric` contract (`ClassificationCounts`,
  `RegressionSums`); plain arrays (counts) are added.
  """
  if isinstance(a, dict):
    return {k: merge(a[k], b[k]) for k in a}
  if hasattr(a, "merge"):
    return a.merge(b)
  return jax.tree.map(jnp.add, a, b)


def evaluate_splits(run: Run, state, step: int) -> dict[str, Any]:
  """An evaluation record: the task's summaries of val and test."""
  record = {"epoch": step / run.steps_per_epoch, "step": step,
            **run.task.record_fields()}
  for name in ("val", "test"):
    split = getattr(run.dataset, name, None)
    if split is None or not len(split):
      continue
    for suffix, summary in run.task.summaries(
        evaluate(run, state, split)).items():
      record[name + suffix] = summary
  return record


def predict_split(run: Run, state, split) -> dict[str, np.ndarray]:
  """The predict step's outputs on a whole split, in the split's order."""
  parts = [jax.device_get(run.predict_step(state, batch))
           for batch in eval_batches(run, split)]
  if not parts:
    return {}
  out = _task.stack_outputs(parts)
  got = len(next(iter(out.values())))
  if got != len(split):
    raise RuntimeError(f"predictions cover {got} of {len(split)} examples.")
  return out


def write_predictions(workdir: str, arrays: dict[str, np.ndarray]) -> None:
  """Writes predictions.npz atomically (process 0 only)."""
  if not _report.is_writer():
    return
  path = os.path.join(workdir, "predictions.npz")
  with open(path + ".tmp", "wb") as f:
    np.savez(f, **arrays)
  os.replace(path + ".tmp", path)


@dataclasses.dataclass
class Session:
  """What a task's second stage may use: the run's outputs."""
  workdir: str
  writer: Any
  history: list

  def record(self, record: dict[str, Any]) -> None:
    """Logs an evaluation record and appends it to history.jsonl."""
    _driver.log_evaluation(self.writer, record)
    _report.append_history(self.workdir, record)
    self.history.append(record)

  def write_predictions(self, arrays: dict[str, np.ndarray]) -> None:
    write_predictions(self.workdir, arrays)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       dataset: Any = None,
                       overwrite: bool = False) -> dict[str, Any]:
  """Trains and evaluates a model of `config.task`; resumes from `workdir`.

  `config.task` picks the task ("classification" when absent, "regression");
  everything else is the same engine. A job started on a workdir that holds
  a run resumes it, exactly, if the config is the same in every field that
  changes the training state or the result (`ltjax.train._workdir`);
  otherwise it is refused with a `ConfigMismatchError` listing the fields.
  Only one job runs on a workdir at a time (`WorkdirLockedError`). A
  non-finite loss or gradient norm stops the run with a `DivergenceError`;
  no non-finite state is saved.

  Args:
    config: a config of the task's schema (`ltjax.train.default_config()`,
      `ltjax.regression.default_config()`, `ltjax.recipes`).
    workdir: output directory (checkpoints, metrics, TensorBoard); a job
      started on a workdir with a checkpoint resumes from it.
    dataset: a dataset to train on instead of loading `config.data` (e.g.
      `ltjax.data.from_arrays`); `config.data` is then only recorded, and
      compared on a resume like any other field.
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
  with _watchdog.watching():  # a hang anywhere, not only in the schedule
    return _watched_train_and_evaluate(config, workdir, dataset=dataset,
                                       overwrite=overwrite)


def _watched_train_and_evaluate(config, workdir, *, dataset, overwrite):
  """`train_and_evaluate` under the watchdog, with its phases named."""
  _report.quiet_library_logs()
  _config.validate_config(config, check_data=dataset is None)
  _replicas.check_replicas(config)
  task = _task.get_task(_task.task_name(config))
  created = not os.path.exists(workdir)
  _watchdog.beat(f"the workdir {workdir} (its lock and config)",
                 _watchdog.blocked_read_hint(f"the workdir {workdir}"))
  lock = _workdir.open_workdir(
      workdir, config.to_dict(), overwrite=overwrite,
      defaults=task.default_config().to_dict(),
      neutral=task.resume_neutral(config, _workdir.RESUME_NEUTRAL))
  try:
    if dataset is None:
      where = f"config.data.path={config.data.get('path', '')!r}"
      _watchdog.beat(f"loading the data ({where})",
                     _watchdog.blocked_read_hint(
                         f"{where} and the files it lists"))
      dataset = task.load_data(config.data)
    _watchdog.beat("the data's digests and the model")
    digests = ltdata.dataset_digests(dataset)
    _workdir.check_data(workdir, digests, overwrite=overwrite)
    replicas = int(config.get("num_replicas", 1))
    if replicas > 1:
      runs = [build_run(_replicas.replica_config(config, k), dataset)
              for k in range(replicas)]
      return {"replicas": _replicas.train_replicas(
          runs, workdir, digests, sys.modules[__name__], config=config)}
    run = build_run(config, dataset)
    _workdir.check_history(workdir, evaluation_steps(run, workdir),
                           overwrite=overwrite)
    return _train_and_evaluate(run, workdir, digests)
  except BaseException:
    if created and lock is not None:
      # A start that failed leaves no workdir behind (just its lock).
      _workdir.remove_if_untouched(workdir, lock)
      lock = None
    raise
  finally:
    if lock is not None:
      lock.release()


def evaluation_steps(run: Run, workdir: str | None = None) -> list[int]:
  """The training evaluations a run made up to its newest checkpoint.

  The driver evaluates at the end of every `eval_every_epochs`-th epoch and
  at the last step (`ltjax.train._driver.run_schedule`).
  """
  steps = _workdir.checkpoint_steps(workdir) if workdir else []
  if not steps:
    return []
  newest, every = steps[-1], run.config.eval_every_epochs
  spe = run.steps_per_epoch
  expected = [k * spe for k in range(1, newest // spe + 1) if k % every == 0]
  if newest == run.total_steps and newest not in expected:
    expected.append(newest)
  return expected


def _train_and_evaluate(run: Run, workdir: str,
                        digests: dict[str, Any]) -> dict[str, Any]:
  """`train_and_evaluate` once the workdir is held and checked.

  `digests`: the data's split digests, saved beside config.json.
  """
  config, task = run.config, run.task
  logging.info("%s; %d steps (%d per epoch) on %d devices, %d processes.",
               task.describe(run), run.total_steps, run.steps_per_epoch,
               run.mesh.devices.size, jax.process_count())
  state = run.init_state()
  init_kernel = host_kernel(task, state)
  pretrained = task.pretrained(state)
  checkpointer, writer = None, None
  try:
    if pretrained is not None:
      state, stage = pretrained
      first_step = last_step = int(state.step)
      # Nothing of this workdir is restored: every record is made again.
      history = _report.resume_history(workdir, -1)
    else:
      stage = "train"
      _watchdog.beat("restoring the newest checkpoint",
                     _watchdog.blocked_read_hint(
                         f"{workdir}/checkpoints"))
      checkpointer, state = _driver.resume(workdir, config, state)
      first_step, last_step = int(state.step), run.total_steps
      # Records after the restored step (or of a later stage) are redone.
      history = _report.resume_history(
          workdir, first_step,
          keep=lambda r: r.get("stage", "train") == "train")
    _report.write_config(workdir, config.to_dict())
    _report.write_json(os.path.join(workdir, _workdir.DATA_FILE), digests)
    _report.write_json(os.path.join(workdir, INFERENCE_FILE),
                       task.inference_fields())
    writer = _report.MetricWriter(os.path.join(workdir, "tb"))
    session = Session(workdir=workdir, writer=writer, history=history)
    hooks = _driver.Hooks(
        plan=_driver.prefetched(lambda epoch: device_plans(run, epoch),
                                num_epochs=-(-run.total_steps
                                             // run.steps_per_epoch)),
        batch=lambda step, plans: train_batch(run, step, plans),
        evaluate=lambda state, step: evaluate_splits(run, state, step),
        **device_hooks(run))
    state, compile_seconds, train_seconds = _driver.run_schedule(
        run, state, first_step=first_step, last_step=last_step,
        config=config, workdir=workdir, writer=writer,
        checkpointer=checkpointer, history=history, hooks=hooks)

    _watchdog.beat("the final evaluation and checkpoint")
    if not history or history[-1]["step"] != int(state.step):
      # A finished run whose history was lost (or a loaded model): evaluate
      # its final state.
      record = evaluate_splits(run, state, int(state.step))
      if stage != "train":
        record["stage"] = stage
      session.record(record)
    if checkpointer is not None:
      checkpointer.maybe_save(int(state.step), state, force=True)
      checkpointer.close()  # waits for the save (a finite state)
      checkpointer = None
    _watchdog.beat("the test split's predictions and the second stage")
    if task.writes_predictions():
      outputs = predict_split(run, state, run.dataset.test)
      write_predictions(workdir, task.predict_arrays(outputs))
    cosine = head_cosine(task, state, init_kernel)
    task.second_stage(run, state, session)
  finally:
    # Waits for a save in flight (a finite state) also when the run stops.
    if checkpointer is not None:
      checkpointer.close()
    if writer is not None:
      writer.close()
  return final_report(run, history, workdir, {
      "total_steps": run.total_steps,
      "steps_this_run": int(state.step) - first_step,
      "train_seconds_this_run": train_seconds,
      "first_step_seconds": compile_seconds,
      "devices": int(run.mesh.devices.size),
      "device_kind": run.mesh.devices.flat[0].device_kind,
      "platform": run.mesh.devices.flat[0].platform,
      "processes": jax.process_count(),
      **({} if cosine is None else {"head_cosine_to_init": cosine}),
  })


def host_kernel(task, state):
  """The evaluated classifier's kernel on the host (float64), or None."""
  kernel = task.evaluated_kernel(state.params)
  return (None if kernel is None
          else np.asarray(jax.device_get(kernel), np.float64))


# Above this cosine to its initialisation the evaluated classifier is
# reported as barely trained.
_UNTRAINED_HEAD_COSINE = 0.9


def head_cosine(task, state, init_kernel) -> float | None:
  """Cosine of the evaluated classifier's kernel to its initial value."""
  if init_kernel is None:
    return None
  final = np.asarray(jax.device_get(task.evaluated_kernel(state.params)),
                     np.float64).ravel()
  init = init_kernel.ravel()
  denominator = np.linalg.norm(final) * np.linalg.norm(init)
  if not denominator:
    return None
  cosine = float(final @ init / denominator)
  if cosine > _UNTRAINED_HEAD_COSINE:
    logging.warning(
        "The evaluated classifier barely trained: the cosine of its weights "
        "to their initialisation is %.3f (> %.1f). The schedule may be too "
        "short for this method (e.g. GLMC's re-balanced classifier learns "
        "with weight (epoch / num_epochs)^2).", cosine,
        _UNTRAINED_HEAD_COSINE)
  return cosine


def final_report(run: Run, history, workdir, run_info) -> dict[str, Any]:
  """Writes metrics.json and the task's CSV; returns metrics.json's dict."""
  config, task = run.config, run.task
  stage = task.final_stage()
  final = [r for r in history if r.get("stage", "train") == stage][-1]
  best = _driver.best_record(history, config.select_metric,
                             window=config.get("select_window", 1),
                             mode=task.select_mode, stage=stage)
  result = {
      "final": _driver.without(final, task.per_item_key),
      "best_val": _driver.without(best, task.per_item_key),
      "select_metric": config.select_metric,
      "data": run.dataset.metadata,
      **task.report_fields(stage),
      "run": run_info,
  }
  _report.write_metrics(workdir, result)
  _report.write_csv(os.path.join(workdir, task.csv_name),
                    task.csv_rows(final, best))
  logging.info("final test: %s", _console.summary(result["final"].get("test")))
  if best is not None:
    logging.info("best-validation epoch %.2f test: %s", best["epoch"],
                 _console.summary(result["best_val"].get("test")))
  return result
