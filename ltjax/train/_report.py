"""What a run prints and writes: progress lines, TensorBoard, result files.

Files in the workdir (only process 0 writes):
  config.json        the run's config (a resume under a config that differs
                     in a field that matters is refused: ltjax.train._workdir)
  history.jsonl      one line per evaluation (appended; on a resume it is
                     rewritten, atomically, to the records up to the
                     restored step)
  lock               who holds the workdir (ltjax.train._workdir)
  metrics.json       final and best-validation-epoch results
  per_class.csv      per-class accuracy with train counts and shot groups
  tb/                TensorBoard event files (tensorboardX; no TensorFlow)
"""

import csv
import json
import logging as logging_std
import os
import time
from collections.abc import Callable

from absl import logging
import jax
import numpy as np

from ltjax import _console


class _DropLibraryInfo(logging_std.Filter):
  """Drops INFO records of orbax and jax internals (hundreds per save), and
  orbax's warnings about the read-only manager ltjax opens to load a run."""

  _NOISY = (os.sep + "orbax" + os.sep, os.sep + "jax" + os.sep)
  _READ_ONLY = ("CheckpointManagerOptions.read_only=True",
                "Given directory is read only")

  def filter(self, record: logging_std.LogRecord) -> bool:
    library = any(part in record.pathname for part in self._NOISY)
    if not library:
      return True
    if record.levelno < logging_std.WARNING:
      return False
    return not str(record.msg).startswith(self._READ_ONLY)


def quiet_library_logs() -> None:
  """Keeps the run's log readable: library INFO lines are dropped.

  Outside absl.app (notebooks, scripts) ltjax's INFO lines go to stdout
  (`ltjax._console.show_progress`).
  """
  drop_library_noise()
  _console.show_progress()


def drop_library_noise() -> None:
  """Filters library INFO lines and orbax's read-only warnings (idempotent)."""
  absl_logger = logging_std.getLogger("absl")
  if not any(isinstance(f, _DropLibraryInfo) for f in absl_logger.filters):
    absl_logger.addFilter(_DropLibraryInfo())
  # JAX's backend probing ("Unable to initialize backend 'tpu'") is INFO of
  # its own logger, not absl's.
  logging_std.getLogger("jax._src.xla_bridge").setLevel(logging_std.WARNING)


def is_writer() -> bool:
  return jax.process_index() == 0


def _strict(value):
  """NaN/inf (an empty shot group) -> None, so the files are strict JSON."""
  if isinstance(value, float) and not np.isfinite(value):
    return None
  if isinstance(value, dict):
    return {k: _strict(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_strict(v) for v in value]
  return value


def _dump(path: str, payload) -> None:
  tmp = path + ".tmp"
  payload = _strict(json.loads(json.dumps(payload, default=_json_default)))
  with open(tmp, "w") as f:
    json.dump(payload, f, indent=2, sort_keys=True, allow_nan=False)
    f.write("\n")
  os.replace(tmp, path)


def _json_default(value):
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.floating,)):
    return float(value)
  if isinstance(value, np.ndarray):
    return value.tolist()
  if isinstance(value, tuple):
    return list(value)
  raise TypeError(f"cannot serialise {type(value).__name__}")


def write_json(path: str, payload) -> None:
  """Writes strict JSON (NaN -> null) atomically (process 0 only)."""
  if is_writer():
    _dump(path, payload)


def write_config(workdir: str, config_dict: dict) -> None:
  """Writes config.json atomically (process 0 only).

  The loops call it after `_workdir.open_workdir` has checked the saved one,
  so it only ever replaces a config that differs in resume-neutral fields.
  """
  write_json(os.path.join(workdir, "config.json"), config_dict)


class MetricWriter:
  """TensorBoard scalars (process 0 only)."""

  def __init__(self, logdir: str):
    self._writer = None
    if is_writer():
      import tensorboardX  # pylint: disable=g-import-not-at-top
      self._writer = tensorboardX.SummaryWriter(logdir)

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if self._writer is None:
      return
    for name, value in values.items():
      if value is not None and np.isfinite(value):
        self._writer.add_scalar(name, float(value), step)

  def flush(self) -> None:
    if self._writer is not None:
      self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


class Progress:
  """Formats the progress line: step, epoch, loss, lr, steps/s and ETA.

  steps/s is the training rate over the steps since the previous line, not
  counting time the loop reports through `pause` (evaluation, the first
  step's compilation); the ETA divides the remaining steps by the average
  wall-clock rate since the start, pauses included, so it also covers the
  evaluations still to come.
  """

  def __init__(self, total_steps: int, steps_per_epoch: int, first_step: int,
               *, clock: Callable[[], float] = time.perf_counter):
    self._total = total_steps
    self._per_epoch = steps_per_epoch
    self._clock = clock
    self._first_step = self._last_step = first_step
    self._start = self._last_time = clock()
    self._paused = 0.0

  def pause(self, seconds: float) -> None:
    """Excludes `seconds` (spent outside training steps) from steps/s."""
    self._paused += seconds

  def line(self, step: int, values: dict[str, float]) -> str:
    """`step 1200/19400 epoch 12.37 loss 0.8123 accuracy 0.712 lr 0.1 ...`."""
    now = self._clock()
    busy = max(now - self._last_time - self._paused, 1e-9)
    rate = (step - self._last_step) / busy
    self._last_step, self._last_time, self._paused = step, now, 0.0
    average = (step - self._first_step) / max(now - self._start, 1e-9)
    eta = (self._total - step) / average if average > 0 else float("inf")
    shown = [f"loss {values['loss']:.4f}"] if "loss" in values else []
    shown += [f"{k} {v:.4g}" for k, v in values.items()
              if k not in ("loss", "lr", "grad_norm")]
    shown += [f"lr {values['lr']:.4g}"] if "lr" in values else []
    return (f"step {step}/{self._total} epoch {step / self._per_epoch:.2f} "
            f"{' '.join(shown)} {rate:.2f} steps/s ETA {duration(eta)}")


def duration(seconds: float) -> str:
  """4000 -> '1h06m', 75 -> '1m15s'."""
  if not np.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  hours, rest = divmod(seconds, 3600)
  return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def append_history(workdir: str, record: dict) -> None:
  if not is_writer():
    return
  record = _strict(json.loads(json.dumps(record, default=_json_default)))
  with open(os.path.join(workdir, "history.jsonl"), "a") as f:
    f.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")


def read_history(workdir: str) -> list[dict]:
  """The evaluation records of history.jsonl ([] without one).

  A torn last line (a job killed while appending) is skipped with a warning
  naming the file and line; an unreadable line before the last is an error.

  Raises:
    ValueError: a line other than the last is not a JSON record.
  """
  path = os.path.join(workdir, "history.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = f.read().split("\n")
  numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
  records = []
  for position, (n, line) in enumerate(numbered):
    try:
      record = json.loads(line)
      if not isinstance(record, dict) or "step" not in record:
        raise ValueError("not an evaluation record with a 'step'")
    except ValueError as error:
      if position == len(numbered) - 1:
        logging.warning(
            "%s, line %d: torn last record (a job killed while writing it?) "
            "skipped: %r", path, n, line[:200])
        break
      raise ValueError(
          f"{path}, line {n}: not a JSON evaluation record ({error}); the "
          f"file is corrupt. Fix or delete that line (later lines are "
          f"kept).") from None
    records.append(record)
  return records


def resume_history(workdir: str, step: int, keep=None) -> list[dict]:
  """Cuts history.jsonl back to the records of steps <= `step`; returns them.

  A resumed run repeats everything after its restored step, so later records
  (a job killed before its next checkpoint, a re-trained stage) would be
  written twice. The file is replaced atomically (process 0 writes).

  Args:
    workdir: the run's directory.
    step: the restored step (-1: none is kept).
    keep: optional predicate; records it rejects are dropped too.
  """
  path = os.path.join(workdir, "history.jsonl")
  records = read_history(workdir)
  kept = [r for r in records
          if r["step"] <= step and (keep is None or keep(r))]
  if is_writer() and os.path.exists(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      for record in kept:
        f.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  return kept


def write_metrics(workdir: str, payload: dict) -> None:
  if is_writer():
    _dump(os.path.join(workdir, "metrics.json"), payload)


def write_csv(path: str, rows: list[dict]) -> None:
  """Writes rows (dicts with the same keys) as CSV, atomically."""
  if not is_writer() or not rows:
    return
  with open(path + ".tmp", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  os.replace(path + ".tmp", path)


def load_run(workdir: str) -> dict:
  """A finished run's results, for notebooks and scripts.

  Returns:
    {"metrics": metrics.json, "history": [evaluation records], and for
     each of per_class.csv (classification) and per_bin.csv (regression)
     that exists, "per_class" / "per_bin": {column: list} (numbers as
     floats, missing values as NaN)}.
  """
  with open(os.path.join(workdir, "metrics.json")) as f:
    result = {"metrics": json.load(f), "history": read_history(workdir)}
  for table in ("per_class", "per_bin"):
    path = os.path.join(workdir, f"{table}.csv")
    if not os.path.exists(path):
      continue
    columns: dict[str, list] = {}
    with open(path, newline="") as f:
      for row in csv.DictReader(f):
        for key, value in row.items():
          columns.setdefault(key, []).append(_number(value))
    result[table] = columns
  return result


def _number(text: str):
  if text == "":
    return float("nan")
  try:
    return float(text)
  except ValueError:
    return text
