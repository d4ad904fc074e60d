"""Workdir safety: one job per workdir, and no resume under another config.

A workdir holds one run. `open_workdir` (called by both training loops
before any data is read) does three things:

* **Lock.** It takes an exclusive `fcntl.flock` on `<workdir>/lock` and writes
  the holder (pid, host, start time) into it. A second job on the same
  workdir fails at once with `WorkdirLockedError` naming the holder. The
  kernel drops the lock when the process exits, however it exits, so a lock
  file left behind by a killed job does not block the next one. In a
  multi-process run only process 0 takes the lock (the other processes
  write nothing into the workdir). On NFS, `flock` is emulated with POSIX
  byte-range locks (Linux >= 2.6.12) and works across hosts; on file systems
  without locks the job fails with the OS error.
* **Config check.** If the workdir already has a `config.json` that differs
  from this run's config in a field that changes the training state or the
  result, the run is refused with `ConfigMismatchError`, which lists the
  fields (old -> new) and the ways out. `RESUME_NEUTRAL` lists the fields that
  may change on a resume: how often the run logs, checkpoints and keeps
  checkpoints, the evaluation batch size (evaluation is masked, so it only
  changes float summation order), `max_steps` (where the run stops, e.g. to
  extend a run; the classification loop compares it for a cosine schedule,
  whose shape depends on it), the data *paths* (`data.path`, `data.data_dir`,
  `data.image_root`: the same data moved to another disk resumes) and
  `data.num_workers` (decoding threads). A path to *different* data with
  otherwise equal data fields is not detected here; a different class count
  still is, as a checkpoint structure mismatch. Fields the saved config lacks
  (added to the schema after the run was made, e.g. `task` and `optim.name`)
  are compared with their defaults: those of the config's task
  (`ltjax.train.default_config(task)`) unless the caller gives others.
* **Overwrite.** With `overwrite=True` a differing workdir's contents are
  moved (not deleted) to a sibling folder `<workdir>.replaced-<UTC time>`,
  which the log names, and the run starts afresh.

`config.json` itself is written by `write_config` once the data has loaded
and the state is restored, so a job that fails at start-up leaves none.
"""

import datetime
import errno
import fcntl
import json
import os
import socket
from typing import Any

from absl import logging
import jax
import numpy as np

from ltjax.data import _registry
from ltjax.train import _config
from ltjax.train import _report


LOCK_FILE = "lock"

# Fields that may differ between the saved config and a resumed run's
# (dotted paths; see the module docstring for why each is safe).
RESUME_NEUTRAL = (
    "data_on_device",  # the device path's steps are the host path's
    "steps_per_call",
    "log_every_steps",
    "checkpoint_every_steps",
    "checkpoint_every_minutes",
    "select_window",  # only which recorded evaluation metrics.json names
    "keep_checkpoints",
    "eval_batch_size",
    "max_steps",
    "data.path",
    "data.data_dir",
    "data.image_root",
    "data.num_workers",
)


class ConfigMismatchError(ValueError):
  """The workdir holds a run made with a different config."""


class DataMismatchError(ConfigMismatchError):
  """The workdir holds a run trained or selected on other data."""


class RunRecordMissingError(ConfigMismatchError):
  """The workdir holds a run whose config.json or history.jsonl is gone."""


class WorkdirNotSharedError(ValueError):
  """The processes of a multi-process job do not see one workdir."""


class WorkdirLockedError(RuntimeError):
  """Another job holds the workdir."""


class WorkdirLock:
  """An exclusive `flock` on `<workdir>/lock`, released by `release`."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self._fd = None

  def acquire(self) -> "WorkdirLock":
    """Takes the lock or raises `WorkdirLockedError` naming the holder."""
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
      os.close(fd)
      if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
        raise
      raise WorkdirLockedError(
          f"{os.path.dirname(self.path)} is in use by another job "
          f"({_holder(self.path)}). Wait for it to finish, stop it, or use "
          f"another workdir.") from None
    holder = (f"pid {os.getpid()} on host {socket.gethostname()}, started "
              f"{_now().isoformat(timespec='seconds')}")
    os.ftruncate(fd, 0)
    os.pwrite(fd, (holder + "\n").encode(), 0)
    self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()


def _holder(path: str) -> str:
  try:
    with open(path) as f:
      return f.read().strip() or "holder unknown"
  except OSError:
    return "holder unknown"


def _now() -> datetime.datetime:
  return datetime.datetime.now(datetime.timezone.utc)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  """{"a": {"b": 1}} -> {"a.b": 1}; JSON-normalised leaves (tuples: lists)."""
  out = {}
  for key, value in tree.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      out.update(flatten(value, name + "."))
    else:
      out[name] = json.loads(json.dumps(value, default=_json_default))
  return out


def _json_default(value):
  if hasattr(value, "tolist"):
    return value.tolist()
  raise TypeError(f"cannot serialise {type(value).__name__}")


def config_differences(saved: dict[str, Any], current: dict[str, Any], *,
                       defaults: dict[str, Any] | None = None,
                       neutral=RESUME_NEUTRAL) -> list[str]:
  """The fields that differ, as "field: old -> new" lines (sorted).

  Args:
    saved: the workdir's config.json.
    current: this run's config, as a dict.
    defaults: the schema's defaults; a field the saved config lacks is
      compared with its default (a field added after the run was made).
    neutral: dotted fields that are not compared.
  """
  old, new = flatten(saved), flatten(current)
  if defaults is not None:
    defaults = {**flatten(defaults), **_data_defaults(saved)}
    old = {**{k: v for k, v in defaults.items() if k in new}, **old}
  lines = []
  for name in sorted(set(old) | set(new)):
    if name in neutral:
      continue
    before, after = old.get(name, "(absent)"), new.get(name, "(absent)")
    if before != after:
      lines.append(f"{name}: {before!r} -> {after!r}")
  return lines


def _data_defaults(saved: dict[str, Any]) -> dict[str, Any]:
  """Flattened defaults of the saved run's own data source (`data.name`).

  A data field added after the run was made (e.g. `data.encoding` of the
  CSV source) compares with that source's default, not with the task
  default's dataset, which may lack it.
  """
  data = saved.get("data")
  if not isinstance(data, dict) or not isinstance(data.get("name"), str):
    return {}
  try:
    own = _registry.default_data_config(
        data["name"], task=saved.get("task")).to_dict()
  except Exception:  # pylint: disable=broad-except
    return {}  # an unregistered name: compared as saved
  return flatten({"data": own})


def schema_defaults(config_dict: dict[str, Any]) -> dict[str, Any]:
  """The defaults of the schema of `config_dict`'s task, as a dict."""
  task = config_dict.get("task", "classification")
  return _config.default_config(task).to_dict()


def open_workdir(workdir: str, config_dict: dict[str, Any], *,
                 overwrite: bool = False,
                 defaults: dict[str, Any] | None = None,
                 neutral=RESUME_NEUTRAL) -> WorkdirLock | None:
  """Locks `workdir` and checks its saved config (see the module docstring).

  Args:
    workdir: the run's directory (created if absent).
    config_dict: this run's config as a dict.
    overwrite: move a differing run's files aside instead of refusing.
    defaults: the schema's defaults (see `config_differences`); None: those
      of `config_dict["task"]` (`default_config(task)`).
    neutral: fields allowed to change on a resume.

  Returns:
    The held lock (process 0) or None (other processes); release it when the
    run ends.

  Raises:
    WorkdirLockedError: another job holds the workdir.
    ConfigMismatchError: the saved config differs and not `overwrite`.
    WorkdirNotSharedError: the processes do not see one workdir.
  """
  if defaults is None:
    defaults = schema_defaults(config_dict)
  os.makedirs(workdir, exist_ok=True)
  lock, locked_error = None, None
  if jax.process_index() == 0:
    try:
      lock = WorkdirLock(workdir).acquire()
    except WorkdirLockedError as error:
      locked_error = error
  if _share(locked_error is not None):
    # Every process raises, so none waits for the others in a collective.
    raise locked_error or WorkdirLockedError(
        f"{workdir} is in use by another job (see process 0's error).")
  try:
    check_shared(workdir)
    differences = []
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path):
      with open(path) as f:
        saved = json.load(f)
      differences = config_differences(saved, config_dict, defaults=defaults,
                                       neutral=neutral)
    elif holds_run(workdir):
      differences = ["config.json: (missing)"]
      if not overwrite:
        raise RunRecordMissingError(
            f"{workdir} holds a run ({', '.join(holds_run(workdir))}) but no "
            f"config.json, so this run's config cannot be checked against "
            f"the one it was made with, and a resume could mix two runs. "
            f"Put the run's config.json back (e.g. from a copy of the "
            f"workdir), use a new workdir, or replace the old run with "
            f"--overwrite (train_and_evaluate(..., overwrite=True)), which "
            f"moves its files to "
            f"{os.path.basename(os.path.normpath(workdir))}.replaced-<time> "
            f"beside the workdir.")
    if differences and not overwrite:
      shown = "\n  ".join(differences)
      raise ConfigMismatchError(
          f"{workdir} holds a run made with a different config; resuming it "
          f"would mix two runs. Differences (saved -> this run):\n  {shown}\n"
          f"Use a new workdir, or replace the old run with --overwrite "
          f"(train_and_evaluate(..., overwrite=True)), which moves its files "
          f"to {os.path.basename(os.path.normpath(workdir))}.replaced-<time>"
          f" beside the workdir. Fields that may change on a resume: "
          f"{', '.join(neutral)}.")
    # All processes have read the config before process 0 moves it.
    _barrier("ltjax_workdir_read")
    if differences and jax.process_index() == 0:
      move_aside(workdir)
    _barrier("ltjax_workdir_ready")
  except BaseException:
    if lock is not None:
      remove_if_untouched(workdir, lock)  # a workdir this call created
    raise
  return lock


DATA_FILE = "data.json"
SHARED_TOKEN = "shared_check"  # written and removed by `check_shared`


def _read_token(path: str) -> int:
  try:
    with open(path) as f:
      return int(f.readline().split()[0])
  except (OSError, ValueError, IndexError):
    return -1


def check_shared(workdir: str) -> None:
  """Every process of a multi-process job sees process 0's workdir.

  Process 0 writes a random token to `<workdir>/shared_check` (with its host
  and pid); after a barrier every process reads it back and compares it with
  process 0's (broadcast). A process that reads another token, or none,
  sees another folder (a per-host local path, a typo on one host): every
  process raises at once, naming the processes, before anything is read,
  written or compiled. One process: nothing to check.
  """
  if jax.process_count() == 1:
    return
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, SHARED_TOKEN)
  token = 0
  if jax.process_index() == 0:
    token = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    with open(path, "w") as f:
      f.write(f"{token} {socket.gethostname()} {os.getpid()}\n")
  _barrier("ltjax_workdir_token")
  token = int(multihost_utils.broadcast_one_to_all(np.int32(token)))
  seen = np.asarray(multihost_utils.process_allgather(
      np.int32(_read_token(path) == token)))
  _barrier("ltjax_workdir_token_read")
  if jax.process_index() == 0:
    try:
      os.remove(path)
    except OSError:
      pass
  missing = [i for i, ok in enumerate(seen.reshape(-1)) if not ok]
  if missing:
    raise WorkdirNotSharedError(
        f"--workdir {workdir}: process(es) {missing} of "
        f"{jax.process_count()} do not see the folder process 0 writes to "
        f"(they cannot read the token process 0 wrote there), so each "
        f"would keep its own checkpoints and the run could not resume. "
        f"Every process of a multi-process job needs the same workdir on a "
        f"filesystem all hosts share (NFS, a mounted bucket).")


def checkpoint_steps(workdir: str) -> list[int]:
  """The steps of the checkpoints in `<workdir>/checkpoints` (sorted)."""
  try:
    names = os.listdir(os.path.join(workdir, "checkpoints"))
  except OSError:
    return []
  return sorted(int(n) for n in names if n.isdigit())


def holds_run(workdir: str) -> list[str]:
  """What in `workdir` shows a run was made there (empty: nothing)."""
  found = [f"{len(checkpoint_steps(workdir))} checkpoint(s)"
           ] if checkpoint_steps(workdir) else []
  return found + [name for name in ("history.jsonl", "metrics.json")
                  if os.path.exists(os.path.join(workdir, name))]


def check_history(workdir: str, expected_steps, *,
                  overwrite: bool = False) -> None:
  """Refuses a resume whose history.jsonl lacks evaluations it had made.

  The best-validation choice and metrics.json are made from history.jsonl;
  a resume that cannot see the evaluations made before its checkpoint would
  choose among the later ones only, and overwrite a correct metrics.json.

  Args:
    workdir: the run's directory.
    expected_steps: the steps of the training evaluations the run made up to
      its newest checkpoint.
    overwrite: move the run aside (a fresh start) instead of refusing.

  Raises:
    RunRecordMissingError: evaluations are missing and not `overwrite`.
  """
  recorded = {r["step"] for r in _report.read_history(workdir)
              if r.get("stage", "train") == "train"}
  missing = sorted(set(expected_steps) - recorded)
  if missing and not overwrite:
    shown = ", ".join(map(str, missing[:10])) + (
        f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    raise RunRecordMissingError(
        f"{os.path.join(workdir, 'history.jsonl')} lacks the evaluations at "
        f"steps {shown}, made before the newest checkpoint (step "
        f"{checkpoint_steps(workdir)[-1]}); resuming would choose the "
        f"best-validation epoch without them and overwrite metrics.json. "
        f"Put history.jsonl back (e.g. from a copy of the workdir), use a "
        f"new workdir, or start again with --overwrite "
        f"(train_and_evaluate(..., overwrite=True)), which moves the run to "
        f"{os.path.basename(os.path.normpath(workdir))}.replaced-<time>.")
  _barrier("ltjax_history_read")
  if missing and jax.process_index() == 0:
    move_aside(workdir)
  _barrier("ltjax_history_ready")


def check_data(workdir: str, digests: dict[str, dict[str, Any]], *,
               overwrite: bool = False) -> None:
  """Refuses to resume a run on other data (its saved split digests).

  `digests` are `ltjax.data.dataset_digests` of this run's data; the
  workdir's `data.json` holds those of the data the run was made with. A
  split whose content digest differs (another CSV, other arrays, another
  file list; the same data at another path has the same digest) is refused
  like a config change, or with `overwrite` the old run is moved aside. A
  workdir without data.json (new, or made before ltjax saved it) passes.

  Raises:
    DataMismatchError: a split differs and not `overwrite`.
  """
  path = os.path.join(workdir, DATA_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  changed = [name for name in sorted(set(saved) | set(digests))
             if saved.get(name, {}).get("digest")
             != digests.get(name, {}).get("digest")]
  if changed and not overwrite:
    lines = []
    for name in changed:
      old, new = saved.get(name, {}), digests.get(name, {})
      lines.append(f"{name}: {old.get('digest', '(none)')} "
                   f"({old.get('size', 0)} examples) -> "
                   f"{new.get('digest', '(none)')} "
                   f"({new.get('size', 0)} examples)")
    shown = "\n  ".join(lines)
    raise DataMismatchError(
        f"{workdir} holds a run made with other data; resuming it would "
        f"train and select on two datasets. Changed splits (saved -> this "
        f"run's content digest):\n  {shown}\nUse a new workdir, or replace "
        f"the old run with --overwrite (train_and_evaluate(..., "
        f"overwrite=True)), which moves its files to "
        f"{os.path.basename(os.path.normpath(workdir))}.replaced-<time> "
        f"beside the workdir. The same data at another path resumes.")
  _barrier("ltjax_data_read")
  if changed and jax.process_index() == 0:
    move_aside(workdir)
  _barrier("ltjax_data_ready")


def remove_if_untouched(workdir: str, lock: WorkdirLock) -> None:
  """Releases `lock` and removes `workdir` if it holds nothing but it.

  For a run that failed at start-up in a workdir it created: nothing was
  written, so nothing is left behind. A workdir with anything else in it is
  kept as it is.
  """
  lock.release()
  if jax.process_index() != 0:
    return
  try:
    if set(os.listdir(workdir)) <= {LOCK_FILE}:
      if os.path.exists(os.path.join(workdir, LOCK_FILE)):
        os.remove(os.path.join(workdir, LOCK_FILE))
      os.rmdir(workdir)
  except OSError:
    pass


def _share(flag: bool) -> bool:
  """Process 0's `flag`, on every process."""
  if jax.process_count() == 1:
    return flag
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return bool(multihost_utils.broadcast_one_to_all(np.int32(flag)))


def _barrier(name: str) -> None:
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def move_aside(workdir: str) -> str:
  """Moves every entry of `workdir` but the lock to a sibling; returns it."""
  stamp = _now().strftime("%Y%m%dT%H%M%SZ")
  base = f"{os.path.normpath(os.path.abspath(workdir))}.replaced-{stamp}"
  target, n = base, 1
  while os.path.exists(target):
    target, n = f"{base}-{n}", n + 1
  os.makedirs(target)
  for name in sorted(os.listdir(workdir)):
    if name != LOCK_FILE:
      os.rename(os.path.join(workdir, name), os.path.join(target, name))
  logging.warning("--overwrite: moved the previous run in %s to %s.", workdir,
                  target)
  return target
