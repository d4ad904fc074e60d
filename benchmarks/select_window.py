r"""How `config.select_window` picks the best-validation epoch of finished runs.

  python -m benchmarks.select_window --runs='ROOT/csv_lt/*' --windows=1,3,5

For every finished run (its history.jsonl) and window w, the evaluation
that `ltjax.train`'s best-validation rule picks with `select_window=w`, and
its test metric; grouped by data file (`config.data.path`) over the runs'
seeds: the picked epoch and the test metric (mean ± std), beside the final
epoch's. Nothing is retrained: the rule only chooses among recorded
evaluations.
"""

import glob
import json
import os
import statistics

from absl import app
from absl import flags

from ltjax import train

_RUNS = flags.DEFINE_string("runs", None, "Glob of finished workdirs.")
_WINDOWS = flags.DEFINE_list("windows", ["1", "3", "5"], "Windows to try.")
_METRIC = flags.DEFINE_string("metric", "balanced",
                              "The test metric reported.")


def _cell(values):
  if len(values) == 1:
    return f"{values[0]:.2f}"
  return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def table(workdirs, windows, metric) -> str:
  groups = {}
  for workdir in workdirs:
    history_path = os.path.join(workdir, "history.jsonl")
    if not os.path.exists(os.path.join(workdir, "metrics.json")):
      continue
    with open(os.path.join(workdir, "config.json")) as f:
      config = json.load(f)
    history = [json.loads(l) for l in open(history_path) if l.strip()]
    name = os.path.basename(config["data"]["path"])
    row = groups.setdefault(name, {"final": [], **{w: ([], []) for w in
                                                     windows}})
    final = [r for r in history if r.get("stage", "train") == "train"][-1]
    row["final"].append(100 * final["test"][metric])
    for w in windows:
      best = train.best_record(history, config["select_metric"], window=w)
      row[w][0].append(best["epoch"])
      row[w][1].append(100 * best["test"][metric])
  header = (["data", "n", "final"] +
            [f"w={w}: epoch / test" for w in windows])
  out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, row in sorted(groups.items()):
    cells = [name, str(len(row["final"])), _cell(row["final"])]
    for w in windows:
      epochs, tests = row[w]
      cells.append(f"{_cell(epochs)} / {_cell(tests)}")
    out.append("| " + " | ".join(cells) + " |")
  return "\n".join(out)


def main(argv):
  del argv
  windows = [int(w) for w in _WINDOWS.value]
  print(table(sorted(glob.glob(_RUNS.value)), windows, _METRIC.value))


if __name__ == "__main__":
  flags.mark_flag_as_required("runs")
  app.run(main)
