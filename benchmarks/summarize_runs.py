r"""Prints a Markdown table of finished runs' metrics.json files.

  python -m benchmarks.summarize_runs --runs='runs/mnist_lt/*'

One row per workdir: the final test top-1 / balanced / many / medium / few
accuracy (%), the balanced test accuracy at the best validation epoch, the
post-hoc adjusted balanced accuracy for CE runs, and the training time.
"""

import glob
import json
import math
import os

from absl import app
from absl import flags

_RUNS = flags.DEFINE_string("runs", None, "Glob of workdirs.")


def _pct(value):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "–"
  return f"{100 * value:.2f}"


def table(workdirs):
  header = ("| run | top-1 | balanced | many | medium | few | best-val epoch:"
            " balanced | post-hoc balanced | train s |")
  lines = [header, "|" + "---|" * 9]
  for workdir in workdirs:
    path = os.path.join(workdir, "metrics.json")
    if not os.path.exists(path):
      continue
    with open(path) as f:
      m = json.load(f)
    test = m["final"]["test"]
    best = m.get("best_val") or {}
    posthoc = m["final"].get("test_posthoc")
    lines.append(
        f"| {os.path.basename(workdir.rstrip('/'))} | {_pct(test['top1'])} | "
        f"{_pct(test['balanced'])} | {_pct(test['many'])} | "
        f"{_pct(test['medium'])} | {_pct(test['few'])} | "
        f"{best.get('epoch', float('nan')):.0f}: "
        f"{_pct(best.get('test', {}).get('balanced'))} | "
        f"{_pct(posthoc['balanced']) if posthoc else '–'} | "
        f"{m['run']['train_seconds_this_run']:.0f} |")
  return "\n".join(lines)


def main(argv):
  del argv
  print(table(sorted(glob.glob(_RUNS.value))))


if __name__ == "__main__":
  flags.mark_flag_as_required("runs")
  app.run(main)
