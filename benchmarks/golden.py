r"""Golden runs: short runs whose final metrics must not move under a refactor.

  python -m benchmarks.golden --data_root=../shared/data --record
  python -m benchmarks.golden --data_root=../shared/data --check [--only=ce,fds]

`--record` trains every run of `RUNS` (seed 0, one CPU device, each in a
child process as `python -m ltjax.cli.train`) and writes their final
metrics to `tests/data/golden_runs.json` with the host that made them;
`--check` trains them again and compares every final number exactly
(`tests/golden_runs_test.py` does the same). A refactor that only moves
code leaves every number bit-identical on the host that recorded them. On
another CPU, XLA may vectorise reductions differently; the file names the
recording host so that a difference there is read as such.

The runs are the components issue's list: 2-epoch MNIST-LT runs of the
listed recipes (and of GLMC, weight balancing, ImbSAM and ACE as they stand
after their fixes), 10-epoch abalone runs of LDS+FDS, RankSim and SMOGN, and
one recipe on a generated CSV table (`write_table`: fixed blobs, written
with fixed precision, so the file's bytes are the same on every host).
A student run (DiVE) learns from the same list's run of its teacher's
recipe, which runs first.
"""

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_FILE = os.path.join(ROOT, "tests", "data", "golden_runs.json")

# (dataset, method, epochs). DiVE's teacher (balanced_softmax) comes first.
RUNS = tuple(("mnist_lt", m, 2) for m in (
    "ce", "ldam_drw", "logit_adjusted", "remix_drw", "mislas", "ride",
    "sade", "balanced_softmax", "dive", "supcon", "bcl", "paco", "disalign",
    "fast", "glmc", "weight_balancing", "imbsam_ce", "ace")) + (
        ("abalone_dir", "lds_fds", 10), ("abalone_dir", "ranksim", 10),
        ("abalone_dir", "smogn", 10), ("csv_lt", "logit_adjusted", 2))
DATA_FILES = {"mnist_lt": "mnist", "abalone_dir": "abalone/abalone.data"}
TABLE_COUNTS = (400, 160, 64, 26, 10)


@dataclasses.dataclass(frozen=True)
class Run:
  dataset: str
  method: str
  epochs: int

  @property
  def name(self) -> str:
    return f"{self.dataset}/{self.method}:{self.epochs}"


def runs(only: str | None = None) -> list[Run]:
  """`RUNS`, or those whose method is in the comma list `only` (with the
  teachers they need)."""
  every = [Run(*r) for r in RUNS]
  if not only:
    return every
  wanted = set(only.split(","))
  unknown = wanted - {r.method for r in every} - {r.name for r in every}
  if unknown:
    raise app.UsageError(f"--only: no golden run {sorted(unknown)}; the runs "
                         f"are {[r.name for r in every]}.")
  chosen = [r for r in every if r.method in wanted or r.name in wanted]
  for run in list(chosen):
    teacher = _teacher(run)
    if teacher and teacher not in chosen:
      chosen.insert(0, teacher)
  return chosen


def _teacher(run: Run) -> Run | None:
  from ltjax import recipes  # pylint: disable=g-import-not-at-top
  config = recipes.build(run.dataset, run.method, str(run.epochs))
  recipe = config.get("teacher", {}).get("recipe", "")
  return Run(run.dataset, recipe, run.epochs) if recipe else None


def write_table(path: str) -> str:
  """A long-tailed CSV table: overlapping Gaussian blobs (8 features, 5
  classes of `TABLE_COUNTS`), written with 6 decimals."""
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(len(TABLE_COUNTS)), TABLE_COUNTS)
  rng.shuffle(labels)
  centres = rng.normal(size=(len(TABLE_COUNTS), 8)) * 1.5
  features = centres[labels] + rng.normal(size=(labels.size, 8))
  with open(path, "w") as f:
    f.write(",".join(f"x{i}" for i in range(8)) + ",label\n")
    for row, label in zip(features, labels):
      f.write(",".join(f"{v:.6f}" for v in row) + f",class{label}\n")
  return path


def child_env() -> dict[str, str]:
  """The environment of a golden child: JAX on one CPU device, XLA's
  default flags (a parent's, e.g. a test's, would change the numbers)."""
  env = dict(os.environ)
  env["JAX_PLATFORMS"] = "cpu"
  env["XLA_FLAGS"] = ""
  env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
  return env


def train_run(run: Run, root: str, data_root: str, table: str) -> dict:
  """Trains `run` in `root/<dataset>/<method>`; returns its final metrics."""
  workdir = os.path.join(root, run.dataset, run.method)
  config = os.path.join(ROOT, "ltjax", "configs", run.dataset,
                        f"{run.method}.py")
  cmd = [sys.executable, "-m", "ltjax.cli.train",
         f"--config={config}:{run.epochs}", f"--workdir={workdir}",
         "--config.seed=0"]
  if run.dataset == "csv_lt":
    cmd += [f"--config.data.path={table}", "--config.data.target=label"]
  else:
    cmd.append(
        f"--config.data.path={os.path.join(data_root, DATA_FILES[run.dataset])}")
  teacher = _teacher(run)
  if teacher is not None:
    cmd.append("--config.teacher.workdir="
               + os.path.join(root, teacher.dataset, teacher.method))
  proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), text=True,
                        capture_output=True, check=False)
  if proc.returncode != 0:
    raise RuntimeError(f"golden run {run.name} failed (exit "
                       f"{proc.returncode}):\n{proc.stderr[-4000:]}")
  with open(os.path.join(workdir, "metrics.json")) as f:
    metrics = json.load(f)
  from benchmarks import store  # pylint: disable=g-import-not-at-top
  return store.scalars(metrics["final"])


def host() -> dict[str, str]:
  """What the numbers depend on beyond the code: CPU and library versions."""
  import jax  # pylint: disable=g-import-not-at-top
  model = platform.processor()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          model = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  return {"cpu": model, "machine": platform.machine(), "jax": jax.__version__,
          "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__")
          else jax.__version__}


def train_all(selected: list[Run], data_root: str, root: str) -> dict:
  table = write_table(os.path.join(root, "table.csv"))
  out = {}
  for run in selected:
    start = time.time()
    out[run.name] = train_run(run, root, data_root, table)
    print(f"{run.name}: {time.time() - start:.0f} s", flush=True)
  return out


def differences(expected: dict, got: dict) -> list[str]:
  """Every number of `expected` that `got` does not reproduce exactly."""
  out = []
  for name, final in got.items():
    want = expected["runs"].get(name)
    if want is None:
      out.append(f"{name}: not in the golden file")
      continue
    for split, values in want.items():
      if not isinstance(values, dict):
        continue
      for metric, value in values.items():
        have = final.get(split, {}).get(metric)
        if have != value:
          out.append(f"{name} {split}.{metric}: golden {value!r}, now {have!r}")
  return out


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  if f.record == f.check:
    raise app.UsageError("pass exactly one of --record and --check.")
  if not f.data_root:
    raise app.UsageError("--data_root: the folder with mnist/ and abalone/.")
  selected = runs(f.only)
  with tempfile.TemporaryDirectory(prefix="ltjax-golden-") as root:
    got = train_all(selected, f.data_root, root)
  if f.record:
    old = {"runs": {}}
    if f.only and os.path.exists(GOLDEN_FILE):
      with open(GOLDEN_FILE) as fh:
        old = json.load(fh)
    old["runs"].update(got)
    old["host"] = host()
    old["device_count"] = 1
    os.makedirs(os.path.dirname(GOLDEN_FILE), exist_ok=True)
    with open(GOLDEN_FILE, "w") as fh:
      json.dump(old, fh, indent=1, sort_keys=True)
      fh.write("\n")
    print(f"wrote {len(got)} runs to {GOLDEN_FILE}")
    return
  with open(GOLDEN_FILE) as fh:
    expected = json.load(fh)
  bad = differences(expected, got)
  print("\n".join(bad) if bad else f"all {len(got)} runs bit-identical")
  sys.exit(1 if bad else 0)


def define_flags():
  flags.DEFINE_string("data_root", None, "Folder with mnist/ and abalone/.")
  flags.DEFINE_bool("record", False, "Write tests/data/golden_runs.json.")
  flags.DEFINE_bool("check", False, "Compare with tests/data/golden_runs.json.")
  flags.DEFINE_string("only", None, "Comma list of methods (or names).")


if __name__ == "__main__":
  define_flags()
  app.run(main)
