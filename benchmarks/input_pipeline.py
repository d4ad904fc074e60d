r"""Input pipeline throughput against the train step it feeds, in one process.

  python -m benchmarks.input_pipeline \
      --data_path=../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz

Measures, with alternating repetitions and medians:
  pipeline: epoch plan -> host gather of uint8 batches -> global array on the
    device(s) -> jitted random crop + flip + normalisation, blocked on;
  step: the ResNet-32 train step (forward, backward, SGD) on such batches.
Prints images/s of both and their ratio (the pipeline should be >= 10x).
"""

import statistics
import time

from absl import app
from absl import flags
import jax

from experiments.configs import common
from ltjax import data
from ltjax import train
from ltjax.train import _loop

_DATA_PATH = flags.DEFINE_string("data_path", None, "Local CIFAR-10 copy.")
_BATCHES = flags.DEFINE_integer("batches", 40, "Batches per repetition.")
_STEPS = flags.DEFINE_integer("steps", 8, "Train steps per repetition.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating repetitions.")


def main(argv):
  del argv
  config = common.build("cifar10_lt", "ce")
  config.data.path = _DATA_PATH.value
  start = time.perf_counter()
  dataset = data.load_dataset(config.data)
  print(f"loaded {len(dataset.train)} training images in "
        f"{time.perf_counter() - start:.2f} s")
  run = train.build_run(config, dataset)
  augment = jax.jit(run.preprocess)
  key = jax.random.PRNGKey(0)

  def pipeline():
    plan = _loop.epoch_plan(run, 0)
    begin = time.perf_counter()
    for step in range(_BATCHES.value):
      batch = _loop.train_batch(run, step, plan)
      out = augment(batch["image"], jax.random.fold_in(key, step))
    jax.block_until_ready(out)
    return _BATCHES.value * config.batch_size / (time.perf_counter() - begin)

  state = run.init_state()
  plan = _loop.epoch_plan(run, 0)
  batches = [_loop.train_batch(run, s, plan) for s in range(_STEPS.value)]
  state, metrics = run.train_step(state, batches[0])  # compile
  jax.block_until_ready(metrics)

  def step():
    nonlocal state
    begin = time.perf_counter()
    for batch in batches:
      state, metrics = run.train_step(state, batch)
    jax.block_until_ready(metrics)
    return _STEPS.value * config.batch_size / (time.perf_counter() - begin)

  pipeline()  # compile the augmentation
  results = {"pipeline": [], "step": []}
  for _ in range(_ROUNDS.value):
    results["pipeline"].append(pipeline())
    results["step"].append(step())
  medians = {k: statistics.median(v) for k, v in results.items()}
  for name, values in results.items():
    print(f"{name}: median {medians[name]:.0f} images/s "
          f"(runs: {', '.join(f'{v:.0f}' for v in values)})")
  print(f"ratio pipeline / step: {medians['pipeline'] / medians['step']:.1f}x"
        f" on {jax.device_count()} device(s), batch {config.batch_size}")



if __name__ == "__main__":
  flags.mark_flag_as_required("data_path")
  app.run(main)
