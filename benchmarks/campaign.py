r"""Runs a plan of training runs, one after another, into a results store.

  python -m benchmarks.campaign --plan=benchmarks/plans/cifar10_lt_30.txt \
      --data_root=../shared/data --stop-before=07:30
  python -m benchmarks.campaign --plan=benchmarks/plans/cifar10_lt_30.txt \
      --status

A plan is a text file, one run a line (`#` starts a comment):

  dataset/method[:epochs] seed [field=value ...]

e.g. `cifar10_lt/ldam_drw:30 1` or `mnist_lt/vs 0 loss.vs_gamma=0.1` (the
fields are config overrides, values in Python syntax, no spaces;
`--host_devices=N` sets that flag of the entry point). Each run is
`python -m ltjax.cli.train` (`ltjax-train`) on
`ltjax/configs/<dataset>/<method>.py`
in a child process under `nice -n 19` (the foreground keeps the CPU), in
its own workdir under `--workdir_root/<store name>/` (outside the work tree;
plans that write one store share their runs),
checkpointing every `--checkpoint_minutes` (converted to steps by the rate
measured on the dataset, or a per-dataset guess), so a run killed in any way
resumes where it was. A finished run appends one line to the store
(`benchmarks.store`, default `benchmarks/results/<plan name>.jsonl`); a run
that fails (divergence, an error) appends a failure line and the runner goes
on to the next. A run whose key already has a line in the store is skipped
(a failure too, unless `--retry_failed`).

Stopping: SIGINT / SIGTERM to the runner, or reaching `--stop-before`
(HH:MM, local time; the child gets SIGTERM `--stop_margin_minutes` before
it), makes the child save a checkpoint at its next step and exit
(`ltjax.train.EXIT_INTERRUPTED`, 3); the runner then exits. Any other
non-zero exit (an error, a divergence, the hang watchdog's 75) is a failure
line. If the runner is
killed outright (SIGKILL), its child gets SIGTERM from the kernel
(PR_SET_PDEATHSIG) and checkpoints the same way. Starting the runner again
resumes the interrupted run exactly.

`--status` prints every run as done / failed / running / left and an ETA for
what is left, from the wall times the store holds for the same dataset and
length (per epoch, else unknown).
"""

import ctypes
import dataclasses
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from absl import app
from absl import flags
from absl import logging

from benchmarks import store
from ltjax import train

# experiments.main flags a plan line may set (`--host_devices=2`): part of
# the run's identity, as results depend on the device count.
RUN_FLAGS = ("host_devices",)
# Where each dataset's files lie under --data_root.
DATA_FILES = {
    "cifar10_lt": "cifar10_jpeg/cifar10_jpeg.tar.gz",
    "mnist_lt": "mnist",
    "abalone_dir": "abalone/abalone.data",
}
# Steps per second to assume before a dataset's first run is measured.
_GUESSED_RATE = {"cifar10_lt": 0.7, "cifar100_lt": 0.7, "mnist_lt": 4.0,
                 "abalone_dir": 50.0}


@dataclasses.dataclass(frozen=True)
class Options:
  """How runs are made (the command line's flags)."""
  data_root: str | None = None
  data: tuple[str, ...] = ()
  checkpoint_minutes: float = 5.0
  stop_margin_minutes: float = 3.0
  nice: int = 19
  python: str = sys.executable
  extra_flags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Entry:
  """One line of a plan."""
  dataset: str
  method: str
  epochs: int | None
  seed: int
  overrides: tuple[tuple[str, Any], ...] = ()

  @property
  def key(self) -> str:
    return store.run_key(self.dataset, self.method, self.epochs, self.seed,
                         dict(self.overrides))

  @property
  def slug(self) -> str:
    name = f"{self.dataset}/{self.method}"
    if self.epochs:
      name += f"_e{self.epochs}"
    name += f"_s{self.seed}"
    for field, value in self.overrides:
      text = store._text(value).replace("/", "%")  # pylint: disable=protected-access
      name += f"_{field}={text}"
    return name.replace(" ", "").replace("/", os.sep, 1).replace('"', "")


def parse_value(text: str):
  """A plan value: Python literal syntax, else the text itself."""
  import ast  # pylint: disable=g-import-not-at-top
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def parse_plan(text: str, *, source: str = "plan") -> list[Entry]:
  """The entries of a plan's text; errors name the line."""
  from ltjax import recipes  # pylint: disable=g-import-not-at-top
  entries, seen = [], set()
  for number, raw in enumerate(text.splitlines(), 1):
    line = raw.split("#", 1)[0].strip()
    if not line:
      continue
    where = f"{source}:{number}"
    parts = line.split()
    if len(parts) < 2 or "/" not in parts[0]:
      raise ValueError(f"{where}: expected 'dataset/method[:epochs] seed "
                       f"[field=value ...]', got {raw.strip()!r}.")
    name, _, epochs = parts[0].partition(":")
    dataset, method = name.split("/", 1)
    try:
      recipes.build(dataset, method)
    except ValueError as error:
      raise ValueError(f"{where}: {error}") from None
    if epochs and not (epochs.isdigit() and int(epochs) > 0):
      raise ValueError(f"{where}: the epochs after ':' must be a positive "
                       f"integer, got {epochs!r}.")
    if not parts[1].isdigit():
      raise ValueError(f"{where}: the seed must be an integer >= 0, got "
                       f"{parts[1]!r}.")
    overrides = []
    for item in parts[2:]:
      field, eq, value = item.partition("=")
      if not eq or not field:
        raise ValueError(f"{where}: expected field=value, got {item!r}.")
      if field.startswith("--") and field[2:] not in RUN_FLAGS:
        raise ValueError(f"{where}: {field} is not one of the entry "
                         f"point's flags a plan may set ({RUN_FLAGS}).")
      overrides.append((field, parse_value(value)))
    entry = Entry(dataset, method, int(epochs) if epochs else None,
                  int(parts[1]), tuple(sorted(overrides)))
    count = replicas(entry)
    if count < 1:
      raise ValueError(f"{where}: num_replicas must be >= 1, got {count}.")
    keys = replica_keys(entry)
    if len(set(keys)) < len(keys):
      raise ValueError(f"{where}: sweep.grid repeats a value "
                       f"({dict(entry.overrides).get('sweep.grid')}).")
    for key in keys:
      if key in seen:
        raise ValueError(f"{where}: {key} is planned twice"
                         + (" (replica seeds overlap)" if count > 1 else "")
                         + ".")
    seen.update(keys)
    entries.append(entry)
  return entries


def read_plan(path: str) -> list[Entry]:
  with open(path) as f:
    return parse_plan(f.read(), source=path)


def plan_name(path: str) -> str:
  return os.path.splitext(os.path.basename(path))[0]


def store_path(plan_path: str, given: str | None = None) -> str:
  return given or os.path.join(store.RESULTS, plan_name(plan_path) + ".jsonl")


def _lines_by_key(lines):
  by_key = {}
  for line in lines:
    by_key.setdefault(line["key"], []).append(line)
  return by_key


def done_kind(entry: Entry, by_key) -> str | None:
  """"run" if the store has the entry's result, "failure" if only a
  failure line, else None."""
  kinds = {line["kind"] for line in by_key.get(entry.key, [])}
  if "run" in kinds:
    return "run"
  return "failure" if kinds else None


def _is_running(workdir: str) -> bool:
  """Whether a job holds the workdir's lock now."""
  import fcntl  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "lock")
  if not os.path.exists(path):
    return False
  fd = os.open(path, os.O_RDONLY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    return True
  else:
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False
  finally:
    os.close(fd)


def _epochs_of(line) -> float | None:
  if line.get("epochs"):
    return float(line["epochs"])
  changed = line.get("changed", {})
  return None if "num_epochs" not in changed else float(changed["num_epochs"])


def estimate_seconds(entry: Entry, lines) -> float | None:
  """Wall seconds `entry` should take: finished runs of the same dataset
  and length (median), else per-epoch from any finished run of the dataset
  (needs the entry's length), else None."""
  import statistics  # pylint: disable=g-import-not-at-top
  runs = [l for l in lines if l["kind"] == "run"
          and l["dataset"] == entry.dataset]
  same = [l["wall_seconds"] for l in runs
          if l["method"] == entry.method and l.get("epochs") == entry.epochs]
  if same:
    return statistics.median(same)
  same_length = [l["wall_seconds"] for l in runs
                 if l.get("epochs") == entry.epochs]
  if same_length:
    return statistics.median(same_length)
  return None


def status_lines(entries: list[Entry], lines, workdir_root: str,
                 name: str) -> list[str]:
  """The --status report."""
  by_key = _lines_by_key(lines)
  out, counts, eta, unknown = [], {}, 0.0, 0
  for entry in entries:
    kind = done_kind(entry, by_key)
    workdir = os.path.join(workdir_root, name, entry.slug)
    if kind == "run":
      state = "done"
    elif kind == "failure":
      state = "failed"
    elif _is_running(workdir):
      state = "running"
    else:
      state = "left"
    counts[state] = counts.get(state, 0) + 1
    if state in ("running", "left"):
      seconds = estimate_seconds(entry, lines)
      if seconds is None:
        unknown += 1
      else:
        eta += seconds * (0.5 if state == "running" else 1.0)
    out.append(f"{state:8s} {entry.key}")
  summary = ", ".join(f"{counts.get(s, 0)} {s}"
                      for s in ("done", "failed", "running", "left"))
  when = (f"ETA {eta / 3600:.1f} h" + (f" + {unknown} runs of unknown "
                                        f"length" if unknown else "")
          if counts.get("left") or counts.get("running") else "nothing left")
  return out + [f"{summary}; {when}."]


def data_path(dataset: str, options: Options) -> str:
  for item in options.data:
    name, _, path = item.partition("=")
    if name == dataset:
      return path
  if options.data_root and dataset in DATA_FILES:
    return os.path.join(options.data_root, DATA_FILES[dataset])
  raise app.UsageError(
      f"no data for {dataset}: pass --data_root (a folder laid out as "
      f"{DATA_FILES}) or --data={dataset}=PATH.")


def checkpoint_every_steps(entry: Entry, lines, minutes: float) -> int:
  """Steps in `minutes` at the dataset's measured rate (at least 10)."""
  rates = [l["steps_per_second"] for l in lines
           if l["kind"] == "run" and l["dataset"] == entry.dataset
           and l.get("steps_per_second")]
  rate = min(rates) if rates else _GUESSED_RATE.get(entry.dataset, 1.0)
  return max(10, int(rate * 60 * minutes))


def teacher_workdir(entry: Entry, root: str) -> str | None:
  """The workdir of the run that `entry`'s recipe distils from, if any.

  A recipe with a teacher (`teacher.recipe`: DiVE, RIDE's distillation)
  learns from the same campaign's run of that recipe on the same dataset,
  length and seed (plan it before its student), unless the plan overrides
  `teacher.workdir`.
  """
  from ltjax import recipes  # pylint: disable=g-import-not-at-top
  if any(k == "teacher.workdir" for k, _ in entry.overrides):
    return None
  config = recipes.build(entry.dataset, entry.method,
                         str(entry.epochs) if entry.epochs else None)
  recipe = config.get("teacher", {}).get("recipe", "")
  if not recipe:
    return None
  teacher = Entry(entry.dataset, recipe, entry.epochs, entry.seed)
  return os.path.join(root, teacher.slug)


def command(entry: Entry, plan_root: str, lines,
            options: Options) -> list[str]:
  """The child's command line (`plan_root`: the plan's workdir folder)."""
  workdir = os.path.join(plan_root, entry.slug)
  config = os.path.join(store.ROOT, "ltjax", "configs", entry.dataset,
                        f"{entry.method}.py")
  if entry.epochs:
    config += f":{entry.epochs}"
  cmd = ["nice", "-n", str(options.nice), options.python, "-m",
         "ltjax.cli.train", f"--config={config}", f"--workdir={workdir}",
         f"--config.seed={entry.seed}",
         f"--config.checkpoint_every_steps="
         f"{checkpoint_every_steps(entry, lines, options.checkpoint_minutes)}"]
  if not any(k == "data.path" for k, _ in entry.overrides):  # the plan's own
    cmd.append(f"--config.data.path={data_path(entry.dataset, options)}")
  cmd += [f"{k}={v}" if k.startswith("--") else f"--config.{k}={v}"
          for k, v in entry.overrides]
  teacher = teacher_workdir(entry, plan_root)
  if teacher is not None:
    cmd.append(f"--config.teacher.workdir={teacher}")
  return cmd + list(options.extra_flags)


def _die_with_parent():
  """In the child: SIGTERM when the runner dies (Linux PR_SET_PDEATHSIG)."""
  try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
  except OSError:
    pass


def _deadline(text: str | None) -> float | None:
  """--stop-before as a time.time() value (today, or tomorrow if past)."""
  if not text:
    return None
  hours, _, minutes = text.partition(":")
  now = datetime.datetime.now()
  target = now.replace(hour=int(hours), minute=int(minutes or 0), second=0,
                       microsecond=0)
  if target <= now:
    target += datetime.timedelta(days=1)
  return target.timestamp()


class _Stop:
  """The runner's own SIGINT / SIGTERM: passed on to the child."""

  def __init__(self):
    self.requested = False
    self.child = None

  def __call__(self, signum, frame):
    del frame
    self.requested = True
    logging.warning("%s: stopping the run in progress at its next step.",
                    signal.Signals(signum).name)
    if self.child is not None and self.child.poll() is None:
      self.child.send_signal(signal.SIGTERM)


def _progress_seconds(workdir: str) -> float:
  path = os.path.join(workdir, "campaign.json")
  if os.path.exists(path):
    with open(path) as f:
      return float(json.load(f).get("wall_seconds", 0.0))
  return 0.0


def _save_progress(workdir: str, seconds: float) -> None:
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "campaign.json")
  with open(path + ".tmp", "w") as f:
    json.dump({"wall_seconds": seconds}, f)
  os.replace(path + ".tmp", path)


def replicas(entry: Entry) -> int:
  """The entry's `num_replicas` override (1 without one)."""
  return int(dict(entry.overrides).get("num_replicas", 1))


def replica_entries(entry: Entry) -> list[Entry]:
  """The entry of each of its runs: itself, or replica k of `num_replicas=K`
  as the entry of seed s + k; in a sweep (`sweep.field=F sweep.grid=...`),
  of seed s with `F=grid[k]` instead of the sweep's overrides. Each keeps
  `num_replicas=K` (a replica drifts from the single run to float
  rounding, so the table keeps the two apart)."""
  count = replicas(entry)
  if count == 1:
    return [entry]
  overrides = dict(entry.overrides)
  field = overrides.get("sweep.field", "")
  if not field:
    return [dataclasses.replace(entry, seed=entry.seed + k)
            for k in range(count)]
  grid = overrides.get("sweep.grid", ())
  grid = tuple(grid) if isinstance(grid, (tuple, list)) else (grid,)
  if len(grid) != count:
    raise ValueError(f"{entry.key}: sweep.grid needs one value per replica "
                     f"(num_replicas={count}), got {grid}.")
  rest = {k: v for k, v in overrides.items()
          if k not in ("sweep.field", "sweep.grid")}
  return [dataclasses.replace(
      entry, overrides=tuple(sorted((rest | {field: value}).items())))
          for value in grid]


def replica_keys(entry: Entry) -> list[str]:
  """The store keys of the entry's runs (`replica_entries`)."""
  return [e.key for e in replica_entries(entry)]


def finished_runs(entry: Entry, workdir: str) -> list[str]:
  """The finished runs' folders of an entry's workdir ([] if unfinished):
  the workdir, or with `num_replicas=K` its K `replica_<k>/` folders."""
  count = replicas(entry)
  folders = ([workdir] if count == 1 else
             [os.path.join(workdir, f"replica_{k}") for k in range(count)])
  if all(os.path.exists(os.path.join(f, "metrics.json")) for f in folders):
    return folders
  return []


def _append_runs(entry: Entry, workdir: str, store_file: str, spec,
                 seconds: float) -> None:
  """One store line per finished run; replica k of a `num_replicas=K`
  entry is the line of its `replica_entries` entry (seed s + k, or in a
  sweep seed s with the swept field's value among the overrides)."""
  for folder, own in zip(finished_runs(entry, workdir),
                         replica_entries(entry)):
    store.append(store_file, store.run_line(
        folder, wall_seconds=seconds, **(spec | {
            "seed": own.seed, "overrides": dict(own.overrides)})))


def run_entry(entry: Entry, plan_root: str, store_file: str, stop: _Stop,
              deadline: float | None, options: Options) -> str:
  """Runs (or resumes) one entry; returns "done", "failed" or "stopped"."""
  lines = store.read(store_file)
  workdir = os.path.join(plan_root, entry.slug)
  spec = dict(dataset=entry.dataset, method=entry.method,
              epochs=entry.epochs, seed=entry.seed,
              overrides=dict(entry.overrides))
  before = _progress_seconds(workdir)
  if finished_runs(entry, workdir):
    # Finished earlier, its lines not yet written (the runner was killed).
    _append_runs(entry, workdir, store_file, spec, before)
    return "done"
  os.makedirs(workdir, exist_ok=True)
  spec["code"] = store.commit()  # the code the child imports now
  log_path = os.path.join(workdir, "campaign.log")
  cmd = command(entry, plan_root, lines, options)
  logging.info("%s: %s", entry.key, " ".join(cmd))
  start = time.time()
  with open(log_path, "a") as log:
    log.write(f"\n# {datetime.datetime.now().isoformat()} {' '.join(cmd)}\n")
    log.flush()
    child = subprocess.Popen(cmd, cwd=store.ROOT, stdout=log,
                             stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)
    stop.child = child
    told = False
    while child.poll() is None:
      if (not told and deadline is not None
          and time.time() >= deadline - 60 * options.stop_margin_minutes):
        logging.info("--stop-before reached: stopping %s.", entry.key)
        child.send_signal(signal.SIGTERM)
        stop.requested = told = True
      _save_progress(workdir, before + time.time() - start)
      time.sleep(1.0)
    stop.child = None
  seconds = before + time.time() - start
  _save_progress(workdir, seconds)
  code = child.returncode
  if code == 0 and finished_runs(entry, workdir):
    _append_runs(entry, workdir, store_file, spec, seconds)
    return "done"
  if code == train.EXIT_INTERRUPTED or stop.requested:
    return "stopped"
  with open(log_path) as f:
    tail = "".join(f.readlines()[-40:])
  store.append(store_file, store.failure_line(
      error=f"exit code {code}\n{tail}", wall_seconds=seconds, **spec))
  return "failed"


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  options = Options(data_root=f.data_root, data=tuple(f.data),
                    checkpoint_minutes=f.checkpoint_minutes,
                    stop_margin_minutes=f.stop_margin_minutes, nice=f.nice,
                    python=f.python, extra_flags=tuple(f.extra_flag))
  entries = read_plan(f.plan)
  store_file = store_path(f.plan, f.store)
  # Workdirs by store: plans that share a store share their runs.
  name = plan_name(store_file)
  root = os.path.join(f.workdir_root, name)
  if f.status:
    print("\n".join(status_lines(entries, store.read(store_file),
                                 f.workdir_root, name)))
    return
  deadline = _deadline(f["stop-before"].value)
  stop = _Stop()
  signal.signal(signal.SIGINT, stop)
  signal.signal(signal.SIGTERM, stop)
  for entry in entries:
    if stop.requested:
      break
    if deadline is not None and (
        time.time() >= deadline - 60 * options.stop_margin_minutes):
      logging.info("--stop-before: no time left to start %s.", entry.key)
      break
    kind = done_kind(entry, _lines_by_key(store.read(store_file)))
    if kind == "run" or (kind == "failure" and not f.retry_failed):
      continue
    outcome = run_entry(entry, root, store_file, stop, deadline, options)
    logging.info("%s: %s.", entry.key, outcome)
    if outcome == "stopped":
      break
  print("\n".join(status_lines(entries, store.read(store_file),
                               f.workdir_root, name)[-1:]))


def define_flags() -> None:
  """The command line's flags (defined only when run as a program)."""
  flags.DEFINE_string("plan", None, "The plan file.")
  flags.DEFINE_string(
      "store", None,
      "Results store file (default benchmarks/results/<plan name>.jsonl).")
  flags.DEFINE_string(
      "data_root", None,
      "Folder with the datasets, laid out as DATA_FILES (the shared data "
      "folder's layout); --data overrides one dataset.")
  flags.DEFINE_multi_string(
      "data", [], "dataset=PATH: the data.path of one dataset's runs.")
  flags.DEFINE_string(
      "workdir_root", os.path.join(os.path.expanduser("~"), ".cache",
                                   "ltjax-campaign"),
      "Where the runs' workdirs go (<root>/<store name>/...).")
  flags.DEFINE_string(
      "stop-before", None,
      "HH:MM (local time): checkpoint and stop the run in progress before it; "
      "start nothing that is not under way.")
  flags.DEFINE_float(
      "stop_margin_minutes", 3.0,
      "How long before --stop-before the run in progress is told to stop.")
  flags.DEFINE_float(
      "checkpoint_minutes", 5.0, "At most this much work is lost to a kill.")
  flags.DEFINE_bool("status", False,
                              "Print the plan's progress and exit.")
  flags.DEFINE_bool(
      "retry_failed", False, "Run again the runs with a failure line.")
  flags.DEFINE_integer("nice", 19, "Niceness of the runs.")
  flags.DEFINE_string("python", sys.executable,
                                "The Python that runs experiments.main.")
  flags.DEFINE_multi_string(
      "extra_flag", [], "More flags for every run (e.g. --host_devices=2).")


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("plan")
  app.run(main)
