r"""The fast recipe's time to a test accuracy (part d of gpu_session.sh).

  python -m benchmarks.gpu_tta --data_root=.gpu_data \
      --store=$OUT/gpu.jsonl --workdir_root=/tmp/ltjax_gpu/campaign \
      --lengths=30,60,120 --target=0.77 --budget_s=150 \
      --out=/tmp/ltjax_gpu/tta.json

A ladder of schedule lengths: length L is the campaign entry
`cifar10_lt/fast:L 0 eval_every_epochs=E` (E = max(1, L // --evals), so
about --evals evaluations a run), run by `benchmarks.campaign` (its store
line when it finishes, its workdir under --workdir_root/<store name>/).
History records carry no wall time, so while the runner works this
program polls the run's history.jsonl every --poll_s seconds and stamps each
new evaluation with the seconds since the runner started: the timeline of
test balanced accuracy against wall time, start-up, data loading and
compilation included (metrics.json's first_step_seconds says how much was
compilation, once a run finishes). Lengths run in increasing order; the
ladder stops at the first run with an evaluation at or above --target, or
when --budget_s is spent (the run in progress then gets SIGTERM through its
runner, checkpoints and stops). "Time to target" is the stamp of the first
such evaluation. Mid-run evaluations sit under a still-high learning rate,
so a shorter schedule can reach the target sooner than a longer one's
crossing: hence the ladder.
"""

import json
import os
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags

from benchmarks import campaign

_DATA_ROOT = flags.DEFINE_string("data_root", ".gpu_data",
                                 "Data laid out as campaign.DATA_FILES.")
_STORE = flags.DEFINE_string("store", None, "The results store file.")
_WORKDIR_ROOT = flags.DEFINE_string("workdir_root", "/tmp/ltjax_gpu/campaign",
                                    "The campaign's --workdir_root.")
_LENGTHS = flags.DEFINE_list("lengths", ["30", "60", "120"],
                             "Schedule lengths in epochs, shortest first.")
_EVALS = flags.DEFINE_integer("evals", 10, "About this many evaluations.")
_TARGET = flags.DEFINE_float("target", 0.77, "Test balanced accuracy.")
_METRIC = flags.DEFINE_string("metric", "balanced", "The test metric.")
_BUDGET = flags.DEFINE_float("budget_s", 150.0,
                             "Seconds for the whole ladder.")
_GRACE = flags.DEFINE_float(
    "grace_s", 20.0, "After SIGTERM, seconds the run may take to checkpoint.")
_POLL = flags.DEFINE_float("poll_s", 0.5, "Seconds between polls.")
_OVERRIDES = flags.DEFINE_list(
    "overrides", [], "More field=value overrides of every run (the toy's "
    "batch_size=16); part of each run's key.")
_CAMPAIGN_FLAGS = flags.DEFINE_multi_string(
    "campaign_flag", [], "More flags for benchmarks.campaign.")
_OUT = flags.DEFINE_string("out", "", "Write the timelines as JSON here.")

DATASET = "cifar10_lt"


def plan_line(length: int, evals: int, overrides=()) -> str:
  every = max(1, length // evals)
  return " ".join([f"{DATASET}/fast:{length}", "0",
                   f"eval_every_epochs={every}", *overrides])


def read_records(path: str) -> list[dict]:
  """The complete lines of history.jsonl (a torn last line is left out)."""
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as f:
    for line in f:
      if not line.endswith("\n"):
        break
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        break
  return records


def run_length(length: int, deadline: float, plans_dir: str) -> dict:
  """Runs one length through the campaign; its timeline and outcome."""
  text = plan_line(length, _EVALS.value, _OVERRIDES.value)
  entry = campaign.parse_plan(text, source="gpu_tta")[0]
  store_name = campaign.plan_name(_STORE.value)
  workdir = os.path.join(_WORKDIR_ROOT.value, store_name, entry.slug)
  history = os.path.join(workdir, "history.jsonl")
  before = len(read_records(history))  # a resumed run's earlier evaluations
  plan = os.path.join(plans_dir, f"fast_{length}.txt")
  with open(plan, "w") as f:
    f.write(text + "\n")
  cmd = [sys.executable, "-m", "benchmarks.campaign", f"--plan={plan}",
         f"--store={_STORE.value}", f"--workdir_root={_WORKDIR_ROOT.value}",
         f"--data_root={_DATA_ROOT.value}", "--nice=0",
         *_CAMPAIGN_FLAGS.value]
  print("#", " ".join(cmd), flush=True)
  start = time.time()
  runner = subprocess.Popen(cmd)
  timeline, stopped = [], False
  while True:
    done = runner.poll() is not None
    records = read_records(history)
    for record in records[before + len(timeline):]:
      test = record.get("test", {})
      timeline.append({"seconds": round(time.time() - start, 1),
                       "epoch": record.get("epoch"),
                       "step": record.get("step"),
                       _METRIC.value: test.get(_METRIC.value),
                       "top1": test.get("top1")})
      print(f"fast:{length} {timeline[-1]}", flush=True)
    if done:
      break
    if not stopped and time.time() >= deadline:
      runner.send_signal(signal.SIGTERM)  # passed on: checkpoint and stop
      stopped = True
    if stopped and time.time() >= deadline + _GRACE.value:
      runner.kill()
    time.sleep(_POLL.value)
  reached = [t for t in timeline
             if t[_METRIC.value] is not None
             and t[_METRIC.value] >= _TARGET.value]
  result = {"length": length, "plan_line": text, "workdir": workdir,
            "runner_exit": runner.returncode, "stopped_by_budget": stopped,
            "seconds": round(time.time() - start, 1),
            "timeline": timeline,
            "seconds_to_target": reached[0]["seconds"] if reached else None}
  metrics = os.path.join(workdir, "metrics.json")
  if os.path.exists(metrics):
    with open(metrics) as f:
      run = json.load(f).get("run", {})
    result["finished"] = True
    result["train_seconds"] = run.get("train_seconds_this_run")
    result["first_step_seconds"] = run.get("first_step_seconds")
  else:
    result["finished"] = False
  return result


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _STORE.value:
    raise app.UsageError("--store is required.")
  deadline = time.time() + _BUDGET.value
  plans_dir = os.path.join(_WORKDIR_ROOT.value, "plans")
  os.makedirs(plans_dir, exist_ok=True)
  runs, answer = [], None
  for length in map(int, _LENGTHS.value):
    if time.time() >= deadline - 5:
      print(f"no time left for fast:{length}", flush=True)
      break
    result = run_length(length, deadline, plans_dir)
    runs.append(result)
    if result["seconds_to_target"] is not None:
      answer = {"length": length, "seconds": result["seconds_to_target"]}
      break
  out = {"target": _TARGET.value, "metric": f"test {_METRIC.value}",
         "lengths_planned": [int(x) for x in _LENGTHS.value],
         "time_to_target": answer, "runs": runs}
  print(json.dumps(out, indent=1))
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      json.dump(out, f, indent=1)


if __name__ == "__main__":
  app.run(main)
