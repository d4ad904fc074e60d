r"""Speed cost of one CPU device against several virtual ones (ltjax.runtime).

  python -m benchmarks.host_devices --devices=1,2,4 --rounds=5 --steps=20

One child process per device count (XLA fixes the count at start-up) builds
the ResNet-32 cross-entropy train step of experiments.main at batch 128 on
random CIFAR-sized images with the CIFAR-10-LT counts and compiles it; then
the parent runs `--rounds` alternating rounds, each child timing `--steps`
steps in turn while the others wait idle. Prints, per device count, the
median images/s and its ratio to the first count, in one table.
"""

import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

_DEVICES = flags.DEFINE_list("devices", ["1", "2", "4"],
                             "Device counts; the first is the baseline.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Alternating rounds.")
_STEPS = flags.DEFINE_integer("steps", 20, "Train steps per round.")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Global batch size.")
_CHILD = flags.DEFINE_integer("child", 0, "Internal: run as a timing child "
                              "with this many CPU devices.")


def child(devices: int) -> None:
  """Compiles the step, then times `--steps` steps per line read."""
  # pylint: disable=g-import-not-at-top
  from ltjax import runtime
  runtime.configure_host_devices(devices)
  import jax
  from benchmarks import synthetic_batches
  from experiments.configs import common
  from ltjax import train
  # pylint: enable=g-import-not-at-top
  dataset = synthetic_batches.cifar_lt()
  config = common.build("cifar10_lt", "ce")
  config.batch_size = _BATCH.value
  run = train.build_run(config, dataset)
  batches = synthetic_batches.train_batches(run, dataset.train, _STEPS.value,
                                            _BATCH.value)
  state = run.init_state()
  state, metrics = run.train_step(state, batches[0])
  jax.block_until_ready(metrics)
  print(f"ready {len(jax.devices())}", flush=True)
  for _ in sys.stdin:
    start = time.perf_counter()
    for batch in batches:
      state, metrics = run.train_step(state, batch)
    jax.block_until_ready((state, metrics))
    seconds = time.perf_counter() - start
    print(_STEPS.value * _BATCH.value / seconds, flush=True)


def main(argv):
  del argv
  if _CHILD.value:
    child(_CHILD.value)
    return
  counts = [int(d) for d in _DEVICES.value]
  children = {}
  for n in counts:
    children[n] = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.host_devices", f"--child={n}",
         f"--steps={_STEPS.value}", f"--batch_size={_BATCH.value}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = children[n].stdout.readline().split()
    if ready != ["ready", str(n)]:
      raise RuntimeError(f"child with {n} devices failed to start: {ready}")
  rates = {n: [] for n in counts}
  for _ in range(_ROUNDS.value):
    for n, process in children.items():
      process.stdin.write("go\n")
      process.stdin.flush()
      rates[n].append(float(process.stdout.readline()))
  for process in children.values():
    process.stdin.close()
    process.wait()
  base = statistics.median(rates[counts[0]])
  print(f"ResNet-32 CE train step, batch {_BATCH.value}, {_ROUNDS.value} "
        f"alternating rounds of {_STEPS.value} steps (median images/s):")
  print("| CPU devices | images/s | ratio to "
        f"{counts[0]} device(s) | rounds |")
  print("|---|---|---|---|")
  for n in counts:
    median = statistics.median(rates[n])
    print(f"| {n} | {median:.0f} | {median / base:.2f} | "
          f"{', '.join(f'{r:.0f}' for r in rates[n])} |")


if __name__ == "__main__":
  app.run(main)
