r"""Abalone-DIR: every method over several seeds, MAE and GM per shot group.

  python -m benchmarks.regression_abalone \
      --data=../shared/data/abalone/abalone.data \
      --workdir=/tmp/ltjax/abalone_bench --seeds=0,1,2

Each (method, seed) is one `ltjax.regression.train_and_evaluate` run of
`experiments/configs/abalone_dir/<method>.py` with `--config.seed=<seed>`
(the same as `python -m experiments.main --config=... --workdir=...`); a
workdir that already holds a finished run is reused. RRT re-uses the
vanilla run of the same seed as its encoder (`rrt.encoder_workdir`), which
is exactly the paper's protocol (an encoder trained without re-weighting).
SMOGN (`smogn`) re-samples the training split once per seed (key from
`config.seed`) before training, RankSim (`ranksim`, `lds_fds_ranksim`) adds
its regulariser in the step; the shot groups of every method are those of
the original training split, so the rows compare. The training-set size of
each re-sampled run is printed with the tables.
Prints markdown tables of the test metrics at the best-validation epoch
(by validation MAE) and at the last epoch: mean +- std over seeds.
`--overrides=fds.ks=1 --tag=_ks1` runs a variant into its own folders.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
import numpy as np

from ltjax import regression

_DATA = flags.DEFINE_string("data", None, "The UCI abalone.data file.")
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/ltjax/abalone_bench",
                               "Parent folder of the runs.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_METHODS = flags.DEFINE_list(
    "methods", list(regression.METHODS),
    "Methods (experiments/configs/abalone_dir/<method>.py).")
_EPOCHS = flags.DEFINE_integer("epochs", 0, "Shorter schedule (0: recipe).")
_OVERRIDES = flags.DEFINE_list(
    "overrides", [], "Config overrides FIELD=VALUE (as --config.FIELD=VALUE "
    "of experiments.main), e.g. fds.ks=1.")
_TAG = flags.DEFINE_string("tag", "", "Suffix of the run folders (variants).")

GROUPS = ("all", "many", "medium", "few")


def run_one(method: str, seed: int) -> dict:
  workdir = os.path.join(_WORKDIR.value, f"{method}{_TAG.value}_seed{seed}")
  path = os.path.join(workdir, "metrics.json")
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  config = regression.build_config(
      "abalone_dir", method, str(_EPOCHS.value) if _EPOCHS.value else None)
  config.data.path = _DATA.value
  config.seed = seed
  for override in _OVERRIDES.value:
    field, _, text = override.partition("=")
    *parents, leaf = field.split(".")
    target = config
    for part in parents:
      target = target[part]
    target[leaf] = type(target[leaf])(
        text if not isinstance(target[leaf], bool) else text == "True")
  if method == "rrt":
    config.rrt.encoder_workdir = os.path.join(_WORKDIR.value,
                                              f"vanilla_seed{seed}")
    if not os.path.exists(os.path.join(config.rrt.encoder_workdir,
                                       "metrics.json")):
      run_one("vanilla", seed)
  return regression.train_and_evaluate(config, workdir)


def _cell(values) -> str:
  values = np.asarray([np.nan if v is None else v for v in values], float)
  if np.all(np.isnan(values)):
    return "n/a"
  return f"{np.nanmean(values):.3f} ± {np.nanstd(values, ddof=1):.3f}"


def table(results, which: str) -> str:
  lines = ["| method | " + " | ".join(
      f"MAE {g}" for g in GROUPS) + " | " + " | ".join(
          f"GM {g}" for g in GROUPS) + " |",
           "|---" * (1 + 2 * len(GROUPS)) + "|"]
  for method, runs in results.items():
    cells = []
    for metric in ("mae", "gm"):
      for g in GROUPS:
        cells.append(_cell([r[which]["test"][f"{metric}_{g}"] for r in runs]))
    lines.append(f"| {method} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  seeds = [int(s) for s in _SEEDS.value]
  results = {m: [run_one(m, s) for s in seeds] for m in _METHODS.value}
  first = results[_METHODS.value[0]][0]
  print("test counts:", {g: first["final"]["test"][f"count_{g}"]
                         for g in GROUPS})
  for method, runs in results.items():
    sizes = [r["data"]["resample"]["train_after"] for r in runs
             if "resample" in r.get("data", {})]
    if sizes:
      print(f"{method}: training examples after re-sampling {sizes} "
            f"(before: {runs[0]['data']['resample']['train_before']})")
  print(f"\nTest at the best-validation epoch, seeds {seeds}:\n")
  print(table(results, "best_val"))
  print(f"\nTest at the last epoch, seeds {seeds}:\n")
  print(table(results, "final"))


if __name__ == "__main__":
  flags.mark_flag_as_required("data")
  app.run(main)
