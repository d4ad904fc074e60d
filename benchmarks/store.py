r"""The results store: one JSON line per finished (or failed) run.

Files `benchmarks/results/<name>.jsonl`, written only by this module (the
campaign runner, `benchmarks.campaign`, calls `record` when a run ends);
never edited by hand. A line says what ran and what it gave:

  kind          "run" (finished: metrics.json was written) or "failure"
  key           "dataset/method[:epochs] seed=S [field=value ...]", the
                run's identity (what `benchmarks.campaign` plans)
  dataset, method, epochs (the config argument, null: the recipe's
                length), seed, overrides {field: value} (the plan's), and
                changed {field: value}: every field of the run's config.json
                that differs from `ltjax.recipes.build(dataset, method,
                epochs)` (data paths and resume-neutral fields included)
  commit        HEAD of the checkout when the run (its last attempt)
                started (+ "-dirty" when ltjax/ or experiments/ had
                uncommitted changes)
  versions      {"ltjax", "jax"}
  device        {"kind", "platform", "count", "processes"} (from
                metrics.json; a run's results depend on the device count)
  wall_seconds  the runner's wall time over every attempt; train_seconds
                and steps_per_second of the last attempt (metrics.json)
  final, best_val  {split: {metric: value}}: every scalar of metrics.json's
                final and best-validation records (top-1, balanced, many /
                medium / few, ECE, post-hoc; MAE / MSE / GM for regression),
                best_val with its "epoch"
  replica, replicas  (a `num_replicas=K` run) replica k of K: the plan's
                entry with seed s gives K lines, replica k's with seed
                s + k (in a sweep: seed s, with the swept field's
                value among the overrides, e.g. optim.lr=0.2, for
                sweep.field / sweep.grid), all keeping the override
                num_replicas=K;
                steps_per_second is then the K-replica program's
  error         (failures) the error's last lines
  date          UTC time the line was written

`append` writes a line once per (key, commit): re-recording the same run at
the same commit is a no-op, and lines of other commits are kept (tables mark
them).
"""

import datetime
import json
import math
import os
import subprocess
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def run_key(dataset: str, method: str, epochs: int | None, seed: int,
            overrides: dict[str, Any] | None = None) -> str:
  """The run's identity: "dataset/method[:epochs] seed=S [f=v ...]"."""
  name = f"{dataset}/{method}" + (f":{epochs}" if epochs else "")
  parts = [name, f"seed={seed}"]
  parts += [f"{k}={_text(v)}" for k, v in sorted((overrides or {}).items())]
  return " ".join(parts)


def _text(value) -> str:
  return json.dumps(value, separators=(",", ":"))


def commit() -> str:
  """HEAD's short hash, "-dirty" if the code directories have changes."""
  def git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True,
                          text=True, check=False).stdout.strip()
  head = git("rev-parse", "--short=10", "HEAD") or "unknown"
  dirty = git("status", "--porcelain", "--", "ltjax", "experiments")
  return head + ("-dirty" if dirty else "")


def _versions() -> dict[str, str]:
  import jax  # pylint: disable=g-import-not-at-top
  import ltjax  # pylint: disable=g-import-not-at-top
  return {"ltjax": ltjax.__version__, "jax": jax.__version__}


def scalars(record: dict | None) -> dict[str, Any] | None:
  """{split: {metric: number}} of an evaluation record (lists dropped)."""
  if record is None:
    return None
  out = {}
  for name, value in record.items():
    if isinstance(value, dict):
      kept = {k: v for k, v in value.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)
              or v is None}
      if kept:
        out[name] = kept
    elif name in ("epoch", "step", "stage"):
      out[name] = value
  return out


def changed_fields(config: dict, dataset: str, method: str,
                   epochs: int | None) -> dict[str, Any]:
  """The fields of `config` (config.json) that differ from the recipe's."""
  from ltjax import recipes  # pylint: disable=g-import-not-at-top
  base = _flatten(recipes.build(
      dataset, method, None if epochs is None else str(epochs)).to_dict())
  ran = _flatten(config)
  return {k: ran.get(k) for k in sorted(set(base) | set(ran))
          if ran.get(k) != base.get(k)}


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
  """{"a": {"b": (1, 2)}} -> {"a.b": [1, 2]} (JSON-normalised leaves)."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = json.loads(json.dumps(value))
  return out


def run_line(workdir: str, *, dataset: str, method: str,
             epochs: int | None, seed: int, overrides: dict[str, Any],
             wall_seconds: float, code: str | None = None) -> dict[str, Any]:
  """The store line of a finished run in `workdir` (needs metrics.json).

  `code`: the commit the run's code came from (`commit()` when it started;
  default: now).
  """
  with open(os.path.join(workdir, "metrics.json")) as f:
    metrics = json.load(f)
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  info = metrics.get("run", {})
  train_seconds = info.get("train_seconds_this_run")
  steps = info.get("steps_this_run")
  rate = (steps / train_seconds if steps and train_seconds else None)
  line = _head("run", dataset, method, epochs, seed, overrides, code)
  line.update({
      "changed": changed_fields(config, dataset, method, epochs),
      "device": {"kind": info.get("device_kind"),
                 "platform": info.get("platform"),
                 "count": info.get("devices"),
                 "processes": info.get("processes")},
      "wall_seconds": round(wall_seconds, 1),
      "train_seconds": train_seconds,
      "steps_per_second": rate,
      "final": scalars(metrics.get("final")),
      "best_val": scalars(metrics.get("best_val")),
  })
  for key in ("head_cosine_to_init", "replica", "replicas"):
    if key in info:
      line[key] = info[key]
  return line


def failure_line(*, dataset: str, method: str, epochs: int | None,
                 seed: int, overrides: dict[str, Any], error: str,
                 wall_seconds: float, code: str | None = None
                 ) -> dict[str, Any]:
  """The store line of a run that stopped with an error."""
  line = _head("failure", dataset, method, epochs, seed, overrides, code)
  line.update({"error": error[-2000:], "wall_seconds": round(wall_seconds, 1)})
  return line


def _head(kind, dataset, method, epochs, seed, overrides, code):
  return {"kind": kind,
          "key": run_key(dataset, method, epochs, seed, overrides),
          "dataset": dataset, "method": method, "epochs": epochs,
          "seed": seed, "overrides": dict(sorted(overrides.items())),
          "commit": code or commit(), "versions": _versions(),
          "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds")}


def read(path: str) -> list[dict[str, Any]]:
  """The lines of a store file ([] if it does not exist)."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def append(path: str, line: dict[str, Any]) -> bool:
  """Appends `line` unless the store has its key at its commit already."""
  for old in read(path):
    if old["key"] == line["key"] and old["commit"] == line["commit"]:
      return False
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  text = json.dumps(_finite(line), sort_keys=True, allow_nan=False)
  with open(path, "a") as f:
    f.write(text + "\n")
  return True


def _finite(value):
  """NaN / inf -> None, so that every line is strict JSON."""
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  return value
