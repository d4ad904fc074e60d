r"""Time to accuracy: the fast recipe, its ablation, and the data feed.

  # Training runs: wall time and test balanced / many / medium / few.
  python -m benchmarks.time_to_accuracy --mode=runs --dataset=mnist_lt \
      --data_path=../shared/data/mnist --variants=fast,-ema,-tta \
      --seeds=0,1,2 --root=/tmp/tta --out=/tmp/tta/mnist.json
  # The host-fed step against the device path (one and N steps a call).
  python -m benchmarks.time_to_accuracy --mode=feed \
      --data_path=../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz

Variants of `--mode=runs` (`VARIANTS`): "fast" is `recipes.build(dataset,
"fast")`; "-<trick>" is the fast recipe with that one trick turned off (the
ablation), "+label_smoothing" with smoothing 0.1 added; "reference:<method>:<epochs>" is a recipe of the table at that
many epochs (e.g. reference:logit_adjusted:30, reference:ldam_drw:200).
Each run is `ltjax.train.train_and_evaluate` on a fresh workdir under
`--root` (an existing finished workdir is read, not rerun), with the
dataset loaded once; its wall time is the engine's own training seconds
plus its evaluations (`metrics.json` "run"), and the whole call's seconds.

`--mode=feed` times `--steps` steps per round, alternating `--rounds`
rounds of: the host path (host gather + `run.train_step`), and the device
path (`run.train_chunk`) with one step per call and with `--chunk` steps
per call. Medians, as images/s and ratios to the host path.
"""

import json
import os
import statistics
import time

from absl import app
from absl import flags

from ltjax import runtime

runtime.configure_host_devices()  # the default of experiments.main

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np

from ltjax import recipes
from ltjax import train
# pylint: enable=g-import-not-at-top,wrong-import-position

_MODE = flags.DEFINE_enum("mode", "runs", ["runs", "feed"], "What to run.")
_DATASET = flags.DEFINE_string("dataset", "cifar10_lt", "Dataset recipe.")
_DATA_PATH = flags.DEFINE_string("data_path", "", "config.data.path.")
_VARIANTS = flags.DEFINE_list("variants", ["fast"], "See VARIANTS.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds of every variant.")
_ROOT = flags.DEFINE_string("root", "/tmp/ltjax_tta", "Workdirs go here.")
_OUT = flags.DEFINE_string("out", "", "Write the results as JSON here.")
_STEPS = flags.DEFINE_integer("steps", 8, "feed: steps per round.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "feed: alternating rounds.")
_CHUNK = flags.DEFINE_integer("chunk", 8, "feed: steps per device call.")
_BATCH = flags.DEFINE_integer("batch_size", 0,
                              "feed: config.batch_size (0: the recipe's).")

# The ablation: each trick of the fast recipe turned off, one at a time.
VARIANTS = {
    "fast": {},
    # Label smoothing is not in the recipe (it hurts the logit-adjusted
    # loss, RESULTS.md); "+label_smoothing" measures it on top.
    "+label_smoothing": {"loss.label_smoothing": 0.1},
    "-ema": {"weight_average.kind": "none"},
    "-tta": {"eval_tta": "none"},
    "-alternating_flip": {"augment.flip_mode": "random"},
    "-zero_init": {"model.zero_init_residual": False},
    "-whiten": {"model.whiten_init": False},
    "-nesterov": {"optim.nesterov": False},
    # The reference's step schedule (x0.01 at 80 %, x1e-4 at 90 %) in place
    # of the linear decay.
    "-linear_schedule": {"optim.schedule": "warmup_step",
                         "optim.decay_epochs": "80%,90%",
                         "optim.decay_factors": (0.01, 1e-4)},
    "-logit_adjusted": {"loss.name": "ce"},
}


def _set(config, field, value):
  *parents, leaf = field.split(".")
  node = config
  for part in parents:
    node = node[part]
  node[leaf] = value


def variant_config(dataset: str, variant: str, seed: int):
  """The config of one variant (see the module docstring)."""
  if variant.startswith("reference:"):
    _, method, epochs = variant.split(":")
    config = recipes.build(dataset, method, epochs)
  else:
    if variant not in VARIANTS:
      raise ValueError(f"--variants: {variant!r} is not one of "
                       f"{sorted(VARIANTS)} or reference:<method>:<epochs>.")
    config = recipes.build(dataset, "fast")
    for field, value in VARIANTS[variant].items():
      if value == "80%,90%":
        value = (round(0.8 * config.num_epochs), round(0.9 * config.num_epochs))
      _set(config, field, value)
  if _DATA_PATH.value:
    config.data.path = _DATA_PATH.value
  config.seed = seed
  return config


def _summary(result, seconds):
  test = result["final"]["test"]
  return {"balanced": test["balanced"], "many": test.get("many"),
          "medium": test.get("medium"), "few": test.get("few"),
          "train_seconds": result["run"]["train_seconds_this_run"],
          "wall_seconds": seconds, "epochs": result["final"]["epoch"]}


def runs():
  results, dataset = {}, None
  for variant in _VARIANTS.value:
    for seed in map(int, _SEEDS.value):
      config = variant_config(_DATASET.value, variant, seed)
      name = f"{variant.replace(':', '_')}_s{seed}"
      workdir = os.path.join(_ROOT.value, _DATASET.value, name)
      done = os.path.join(workdir, "wall_seconds.json")
      if os.path.exists(done):
        with open(done) as f:
          results[name] = json.load(f)
        continue
      if dataset is None:
        dataset = train.ClassificationTask.load_data(config.data)
      start = time.perf_counter()
      result = train.train_and_evaluate(config, workdir, dataset=dataset)
      results[name] = _summary(result, time.perf_counter() - start)
      train.write_json(done, results[name])
      print(name, results[name], flush=True)
  table = aggregate(results)
  print(markdown(table))
  if _OUT.value:
    train.write_json(_OUT.value, {"runs": results, "table": table})


def aggregate(results):
  """Mean and std over seeds of each variant."""
  by_variant = {}
  for name, r in results.items():
    by_variant.setdefault(name.rsplit("_s", 1)[0], []).append(r)
  table = {}
  for variant, rows in by_variant.items():
    entry = {"seeds": len(rows)}
    for key in ("balanced", "many", "medium", "few", "wall_seconds"):
      values = [r[key] for r in rows if r.get(key) is not None]
      if values:
        entry[key] = float(np.mean(values))
        entry[key + "_std"] = float(np.std(values))
    table[variant] = entry
  return table


def markdown(table):
  lines = ["| variant | seeds | wall min | balanced | many | medium | few |",
           "|---|---|---|---|---|---|---|"]
  pct = lambda e, k: (f"{100 * e[k]:.2f} ± {100 * e[k + '_std']:.2f}"  # pylint: disable=g-long-lambda
                      if k in e and np.isfinite(e[k]) else "–")
  for variant, e in table.items():
    lines.append(f"| {variant} | {e['seeds']} | "
                 f"{e['wall_seconds'] / 60:.1f} | {pct(e, 'balanced')} | "
                 f"{pct(e, 'many')} | {pct(e, 'medium')} | {pct(e, 'few')} |")
  return "\n".join(lines)


def feed():
  config = recipes.build(_DATASET.value, "logit_adjusted")
  if _DATA_PATH.value:
    config.data.path = _DATA_PATH.value
  if _BATCH.value:
    config.batch_size = _BATCH.value
  dataset = train.ClassificationTask.load_data(config.data)
  steppers = {}
  for name, mode, chunk in (("host", "off", 1), ("device_1", "on", 1),
                            (f"device_{_CHUNK.value}", "on", _CHUNK.value)):
    config.data_on_device, config.steps_per_call = mode, chunk
    steppers[name] = _stepper(train.build_run(config, dataset))
  rates = {name: [] for name in steppers}
  for _ in range(_ROUNDS.value):
    for name, timed in steppers.items():
      rates[name].append(timed())
  medians = {k: statistics.median(v) for k, v in rates.items()}
  out = {k: {"images_per_s": medians[k],
             "ratio_to_host": medians[k] / medians["host"],
             "rounds": [round(v, 1) for v in rates[k]]} for k in rates}
  print(json.dumps(out, indent=1))
  if _OUT.value:
    train.write_json(_OUT.value, out)


def _stepper(run):
  """A callable timing `--steps` steps of `run` (state carried along)."""
  holder = {"state": run.init_state(), "step": 0}
  plans = train.device_plans(run, 0)
  batch_size = run.config.batch_size

  def advance(count):
    state, step = holder["state"], holder["step"]
    if run.train_chunk is None:
      for s in range(step, step + count):
        state, metrics = run.train_step(
            state, train.train_batch(run, s % run.steps_per_epoch, plans))
    else:
      done = 0
      while done < count:
        n = min(run.chunk_cap, count - done)
        # Steps stay within epoch 0's plan (the state's step wraps there).
        state, metrics = run.train_chunk(state, plans, np.int32(n))
        done += n
    holder["state"], holder["step"] = state, step + count
    return metrics

  jax.block_until_ready(advance(run.chunk_cap))  # compiled

  def timed():
    start = time.perf_counter()
    jax.block_until_ready(advance(_STEPS.value))
    return _STEPS.value * batch_size / (time.perf_counter() - start)

  return timed


def main(argv):
  del argv
  runs() if _MODE.value == "runs" else feed()  # pylint: disable=expression-not-assigned


if __name__ == "__main__":
  app.run(main)
