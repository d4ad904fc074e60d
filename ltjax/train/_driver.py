"""The schedule driver shared by the classification and regression loops.

A loop supplies what differs (how an epoch's plan and a step's batch are
made, how a state is evaluated); the driver does what is the same: one
compiled step per iteration, averaged progress lines and TensorBoard scalars
(every step metric, grad_norm included), evaluation at epoch ends, history
records, checkpoints, and the divergence check (`DivergenceError`).
"""

import collections
import concurrent.futures
import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _watchdog
from ltjax.train import _checkpoint
from ltjax.train import _interrupt
from ltjax.train import _parallel
from ltjax.train import _report

# Steps dispatched ahead of the newest finished one. XLA:CPU deadlocks with
# several virtual devices once the host runs about 32 steps ahead (a device's
# launch then blocks a pool thread on its in-flight limit; ltjax.runtime), so
# the host waits here instead; 4 keeps the input pipeline overlapped.
MAX_STEPS_IN_FLIGHT = 4

DivergenceError = _checkpoint.DivergenceError


def keep_up(index: int, value) -> None:
  """Waits for `value` every `MAX_STEPS_IN_FLIGHT`-th call (by `index`).

  For loops that dispatch many computations before reading a result (an
  evaluation summing its batches on the device): the host then stays at
  most that many computations ahead, as in `run_schedule`.
  """
  if index % MAX_STEPS_IN_FLIGHT == MAX_STEPS_IN_FLIGHT - 1:
    jax.block_until_ready(value)


def prefetched(plan: Callable[[int], Any], *, num_epochs: int
               ) -> Callable[[int], Any]:
  """`plan` that computes the next epoch's plan while this epoch trains.

  Asked for epoch e, it returns plan(e) (the one computed in the
  background since e - 1 was asked, or computed now) and starts plan(e + 1)
  in a worker thread, so an epoch's plan (an argsort over every label and a
  draw per example: seconds at millions of examples) is ready when the
  epoch starts instead of holding the device. Plans are pure functions of
  the epoch, so the values are those of `plan`; an error is raised when its
  epoch is asked.
  """
  executor = concurrent.futures.ThreadPoolExecutor(
      max_workers=1, thread_name_prefix="ltjax-epoch-plan")
  ahead: dict[int, concurrent.futures.Future] = {}

  def get(epoch: int):
    future = ahead.pop(epoch, None)
    value = future.result() if future is not None else plan(epoch)
    for stale in list(ahead):
      ahead.pop(stale).cancel()
    if epoch + 1 < num_epochs:
      ahead[epoch + 1] = executor.submit(plan, epoch + 1)
    return value

  return get


@dataclasses.dataclass(frozen=True)
class Hooks:
  """What a loop supplies to `run_schedule`.

  Attributes:
    plan: epoch -> that epoch's plan (example indices).
    batch: (step, plan) -> the step's global batch.
    evaluate: (state, step) -> an evaluation record {"epoch", "step", ...}.
  """
  plan: Callable[[int], np.ndarray]
  batch: Callable[[int, np.ndarray], dict[str, jax.Array]]
  evaluate: Callable[[Any, int], dict[str, Any]]
  # The device path (`_device_data`): (state, step, end, plans) -> (state,
  # metrics with a leading axis whose first end - step rows are the steps'),
  # running steps [step, end) in one call; and step -> the end of the chunk
  # starting there. None: one `run.train_step` per step on `batch`.
  chunk: Callable[..., tuple[Any, dict[str, jax.Array]]] | None = None
  boundary: Callable[[int], int] | None = None


def run_schedule(run, state, **kwargs):
  """`_run_schedule` under `_interrupt.stop_requests` (see there)."""
  with _interrupt.stop_requests() as stops:
    return _run_schedule(run, state, stops=stops, **kwargs)


@_watchdog.watched  # a hang dumps the stacks and exits (ltjax.runtime)
def _run_schedule(run, state, *, first_step: int, last_step: int, config,
                  workdir: str, writer: _report.MetricWriter, checkpointer,
                  history: list[dict], hooks: Hooks,
                  stops: _interrupt.StopRequests):
  """Trains from `first_step` to `last_step` with `run.train_step`.

  Logs every `config.log_every_steps` (averaged metrics), evaluates at the
  end of every `config.eval_every_epochs`-th epoch and at `last_step`
  (appending to `history` and history.jsonl), and checkpoints every
  `config.checkpoint_every_steps` and at `last_step` (`checkpointer` may be
  None for a loop that keeps no checkpoints).

  Every step's loss and gradient norm (already returned by the step) are
  checked for NaN / inf at each log line and before each evaluation and
  checkpoint, so a diverged run stops before it evaluates or saves anything
  non-finite, and the checkpoints already written are kept.

  A SIGINT / SIGTERM (`stops`) ends the schedule at the next step boundary
  with a checkpoint of that step (`_interrupt.Interrupted`).

  Returns:
    (state, seconds of the first step including compilation or None, wall
    seconds of the whole schedule).

  Raises:
    DivergenceError: a non-finite loss, gradient norm or state.
    Interrupted: a stop was requested; the checkpoint of the step reached
      is saved.
  """
  progress = _report.Progress(run.total_steps, run.steps_per_epoch,
                              first_step)
  clock = _SaveClock(60.0 * config.get("checkpoint_every_minutes", 0.0))
  start = time.perf_counter()
  pending, plan, plan_epoch, first_step_seconds = [], None, None, None
  unchecked = []  # (steps, metrics) not yet checked for finiteness
  in_flight = collections.deque()  # metrics of calls maybe still running
  step = first_step
  while step < last_step:
    epoch = step // run.steps_per_epoch
    if plan_epoch != epoch:
      plan, plan_epoch = hooks.plan(epoch), epoch
    if hooks.chunk is None:
      done = step + 1
      state, step_metrics = run.train_step(state, hooks.batch(step, plan))
    else:
      done = hooks.boundary(step)
      state, step_metrics = hooks.chunk(state, step, done, plan)
      # The rows of the steps run (one small slice on the device).
      step_metrics = jax.tree.map(lambda x, n=done - step: x[:n],
                                  step_metrics)
    steps = list(range(step + 1, done + 1))
    pending.append(step_metrics)
    in_flight.append(step_metrics)
    if len(in_flight) > MAX_STEPS_IN_FLIGHT:
      jax.block_until_ready(in_flight.popleft())
    _watchdog.beat(f"step {done}")
    unchecked.append((steps, step_metrics))
    if first_step_seconds is None:
      jax.block_until_ready(step_metrics)
      first_step_seconds = time.perf_counter() - start
      logging.info("First %s (with compilation) took %.1f s.",
                   "step" if len(steps) == 1 else f"{len(steps)} steps",
                   first_step_seconds)
      progress.pause(first_step_seconds)  # steps/s is the compiled rate
    log_due = done % config.log_every_steps == 0 or done == last_step
    end_of_epoch = done % run.steps_per_epoch == 0
    eval_due = (end_of_epoch and (epoch + 1) % config.eval_every_epochs == 0
                ) or done == last_step
    save_due = checkpointer is not None and (
        done % config.checkpoint_every_steps == 0 or done == last_step)
    if log_due or eval_due or save_due:
      check_finite(unchecked, config=config, checkpointer=checkpointer,
                   state=state)
      unchecked = []
    if log_due:
      values = {k: float(v) for k, v in jax.tree.map(
          lambda *xs: jnp.mean(jnp.concatenate(
              [jnp.reshape(x, (-1,)) for x in xs])), *pending).items()}
      pending = []
      logging.info(progress.line(done, values))
      writer.scalars(done, {f"train/{k}": v for k, v in values.items()})
    if eval_due:
      # Steps still queued on the device are training time, not evaluation.
      jax.block_until_ready(state)
      paused = time.perf_counter()
      record = hooks.evaluate(state, done)
      log_evaluation(writer, record)
      _report.append_history(workdir, record)
      history.append(record)
      progress.pause(time.perf_counter() - paused)
      _watchdog.beat(f"step {done + 1} after the evaluation")
    stop, timed = _agreed(stops, clock, done=done, last_step=last_step,
                          config=config)
    if stop or timed:
      check_finite(unchecked, config=config, checkpointer=checkpointer,
                   state=state)
      unchecked = []
    if checkpointer is not None:
      # Refuses (DivergenceError) a state with a non-finite value.
      if checkpointer.maybe_save(done, state,
                                 force=done == last_step or stop or timed):
        clock.saved()
    if stop:
      if checkpointer is not None:
        checkpointer.wait()
      raise _interrupt.Interrupted(
          stops.requested or signal.SIGTERM,  # (another process's)
          done if checkpointer is not None else None, workdir)
    step = done
  return state, first_step_seconds, time.perf_counter() - start


class _SaveClock:
  """When a checkpoint is due by wall time (`checkpoint_every_minutes`)."""

  def __init__(self, seconds: float):
    self.seconds = seconds
    self.last = time.monotonic()

  def due(self) -> bool:
    return self.seconds > 0 and time.monotonic() - self.last >= self.seconds

  def saved(self) -> None:
    self.last = time.monotonic()


def _agreed(stops, clock, *, done: int, last_step: int, config):
  """(stop, save by time) at step `done`, the same on every process.

  One process decides alone. Several must agree (a save or a stop is a
  collective): process 0's clock and any process's stop request are
  shared, at log steps only, so the other steps add no host round trip.
  """
  stop = stops.requested is not None and done < last_step
  timed = clock.due() and done < last_step
  if jax.process_count() == 1:
    return stop, timed
  if done % config.log_every_steps and done != last_step:
    return False, False
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  flags = np.asarray(multihost_utils.process_allgather(
      np.array([stop, timed and jax.process_index() == 0], np.int32)))
  flags = flags.reshape(-1, 2)
  return bool(flags[:, 0].any()) and done < last_step, bool(flags[:, 1].any())


def check_finite(steps: list[tuple[int, dict[str, jax.Array]]], *, config,
                 checkpointer=None, state=None) -> None:
  """Raises `DivergenceError` at the first step with a non-finite loss.

  Args:
    steps: (step, the step's metrics) pairs, or (steps, their metrics with
      a leading axis of len(steps)) for a multi-step call; "loss" and, where
      present, "grad_norm" are checked (one transfer for all the steps).
    config: the run's config (its `optim.lr` is named in the hint).
    checkpointer: the run's checkpointer, to name the checkpoint kept.
    state: the state after the last of `steps`, also checked (one compiled
      reduction): a loss can stay finite while, e.g., BatchNorm statistics
      overflow.
  """
  if not steps:
    return
  keys = [k for k in ("loss", "grad_norm") if k in steps[0][1]]
  numbers = [n for s, _ in steps for n in (s if isinstance(s, list) else [s])]
  values = np.asarray(jax.device_get(jnp.concatenate(
      [jnp.stack([jnp.reshape(jnp.asarray(m[k], jnp.float32), (-1,))
                  for k in keys], axis=1) for _, m in steps])))
  bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
  if bad.size:
    index, state_note = bad[0], ""
  elif state is not None and not _checkpoint.all_finite(state):
    index = len(numbers) - 1
    state_note = (f"; the state has non-finite values "
                  f"({', '.join(_checkpoint.non_finite_leaves(state))})")
  else:
    return
  shown = ", ".join(f"{k} {v:.6g}" for k, v in zip(keys, values[index]))
  kept = checkpointer.latest_step() if checkpointer is not None else None
  where = ("no checkpoint was written" if kept is None else
           f"the last good checkpoint (step {kept}) is kept and nothing "
           f"non-finite was saved")
  raise DivergenceError(
      f"Training diverged at step {numbers[index]}: {shown}{state_note}. "
      f"The run is stopped; {where}. Lower config.optim.lr (now "
      f"{config.optim.lr}) or lengthen the warm-up "
      f"(config.optim.warmup_epochs).")


def resume(workdir: str, config, state):
  """Opens the run's checkpoints; returns (checkpointer, state to start from).

  The state is the newest readable checkpoint's (see
  `Checkpointer.restore_latest`) or, with none, `state` as given. The caller
  holds the workdir (`_workdir.open_workdir`), which checked its config.

  Raises:
    CheckpointMismatchError: the newest readable checkpoint holds another
      tree (a different model or method); nothing is moved aside.
  """
  checkpointer = _checkpoint.Checkpointer(
      os.path.join(workdir, "checkpoints"),
      every_steps=config.checkpoint_every_steps, keep=config.keep_checkpoints)
  restored, restored_step = checkpointer.restore_latest(state)
  if restored is not None:
    logging.info("Resumed from the checkpoint at step %d.", restored_step)
    state = restored
  return checkpointer, state


def without(record: dict | None, key: str) -> dict | None:
  """`record` with `key` (e.g. the per-class list) dropped from each split."""
  if record is None:
    return None
  return {k: ({kk: vv for kk, vv in v.items() if kk != key}
              if isinstance(v, dict) else v) for k, v in record.items()}


def log_evaluation(writer: _report.MetricWriter, record: dict) -> None:
  """Logs an evaluation record's scalars and writes them to TensorBoard.

  Every dict-valued entry of the record (e.g. "val", "test_posthoc") is one
  split; its numeric entries are the scalars (lists such as per-class
  accuracy are skipped). Records of a stage other than "train" (e.g. "rrt")
  get the stage as a prefix.
  """
  stage = record.get("stage", "train")
  scalars, parts = {}, []
  for split, summary in record.items():
    if not isinstance(summary, dict):
      continue
    values = {k: v for k, v in summary.items()
              if isinstance(v, (int, float)) or v is None}
    shown = " ".join(f"{k} {_fmt(v)}" for k, v in values.items()
                     if not k.startswith("count"))
    parts.append(f"{split}: {shown}")
    prefix = split if stage == "train" else f"{stage}_{split}"
    scalars.update({f"{prefix}/{k}": v for k, v in values.items()})
  # One line per evaluation, the splits separated by " | ".
  logging.info("eval %sepoch %.2f %s",
               "" if stage == "train" else f"{stage} ", record["epoch"],
               " | ".join(parts))
  writer.scalars(record["step"], scalars)
  writer.flush()


def _fmt(value) -> str:
  return "nan" if value is None else f"{value:.4f}"


def best_record(history: list[dict], metric: str, *, mode: str = "max",
                stage: str = "train", window: int = 1) -> dict | None:
  """The `stage` evaluation with the best validation `metric`.

  With `window` w > 1 each evaluation is scored by the mean of its metric
  over the w evaluations centred on it (fewer at the ends), so a small
  validation split's noise does not pick a lucky epoch. Ties go to the
  earliest step; records without a finite value are skipped.

  Args:
    history: evaluation records.
    metric: a key of record["val"].
    mode: "max" (accuracies) or "min" (errors).
    stage: only records of this stage count.
    window: evaluations averaged into each score (`config.select_window`).
  """
  def value(record):
    v = record.get("val", {}).get(metric)
    return v if v is not None and np.isfinite(v) else None

  scored = [r for r in history
            if r.get("stage", "train") == stage and value(r) is not None]
  if not scored:
    return None
  sign = 1.0 if mode == "max" else -1.0
  values = [value(r) for r in scored]
  half = window // 2
  smoothed = [float(np.mean(values[max(0, i - half):i + window - half]))
              for i in range(len(values))]
  best = max(range(len(scored)),
             key=lambda i: (sign * smoothed[i], -scored[i]["step"]))
  return scored[best]


def eval_batches(split, *, batch_size: int, mesh,
                 keys: tuple[str, str] = ("image", "label"),
                 target_dtype=np.int32) -> Iterator[dict[str, jax.Array]]:
  """Global batches of a whole split, the last one padded and masked.

  Each process reads its slice of every global batch; "mask" is False on the
  padding, which repeats example 0.

  Args:
    split: anything with `__len__` and `get_batch(indices)`.
    batch_size: the global batch size (a multiple of the device count).
    mesh: the data mesh.
    keys: names of the inputs and targets in the batch.
    target_dtype: dtype the targets are cast to.
  """
  per_process = batch_size // jax.process_count()
  sharding = _parallel.batch_sharded(mesh)
  index = jax.process_index()
  for start in range(0, len(split), batch_size):
    positions = np.arange(start, start + batch_size)
    mine = positions[index * per_process:(index + 1) * per_process]
    mask = mine < len(split)
    inputs, targets = split.get_batch(np.where(mask, mine, 0))
    _watchdog.beat(f"an evaluation batch at example {start}")
    yield _parallel.global_batch(
        {keys[0]: inputs, keys[1]: targets.astype(target_dtype),
         "mask": mask}, sharding)
