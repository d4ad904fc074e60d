"""Synthetic CIFAR-10-LT data and ready global batches for the benchmarks.

Only public names of ltjax are used: the run of `ltjax.train.build_run`
(`.mesh`, `.train_step`, `.init_state()`), the split contract's `get_batch`,
the batch entries a task declares (`ltjax.train.get_task(name).input_key`,
`.target_key`, `.target_dtype`) and `ltjax.train.global_batch`, as a
user's own loop would.
"""

import jax
import numpy as np

from ltjax import data
from ltjax import train

# CIFAR-10-LT, imbalance ratio 100: training images per class.
COUNTS = (5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50)


def cifar_lt(seed: int = 0) -> data.LongTailedDataset:
  """Random uint8 32x32 images with the CIFAR-10-LT rho=100 class counts."""
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(10), COUNTS)
  images = rng.integers(0, 256, (labels.size, 32, 32, 3), dtype=np.uint8)
  return data.LongTailedDataset(
      name="cifar10_lt", train=data.ArraySplit(images=images, labels=labels),
      val=None,
      test=data.ArraySplit(images=images[:500], labels=labels[:500]),
      class_names=tuple(str(i) for i in range(10)),
      train_class_counts=np.asarray(COUNTS), metadata={})


def train_batch(run, split, step: int, batch_size: int, *,
                regression: bool = False) -> dict[str, jax.Array]:
  """The global training batch of `step`: examples in a fixed random order.

  The method's sampler is not used: which examples a batch holds does not
  change the cost of a step. Each process gathers its own rows, as the
  engine does.

  Args:
    run: what `ltjax.train.build_run` returned for `split`'s dataset.
    split: the training split (anything with `get_batch` and `len`).
    step: the step; batch `step` holds positions [step * B, (step + 1) * B)
      of one permutation of the split (wrapping around).
    batch_size: the global batch size B (`config.batch_size`).
    regression: batches of a regression task (`input` / `target` and the
      `fresh` flags FDS reads) instead of `image` / `label`.

  Returns:
    {name: global array} sharded over `run.mesh`'s "data" axis.
  """
  order = np.random.default_rng(0).permutation(len(split))
  per_process = batch_size // jax.process_count()
  start = step * batch_size + jax.process_index() * per_process
  indices = order[(start + np.arange(per_process)) % len(split)]
  inputs, targets = split.get_batch(indices)
  task = train.get_task("regression" if regression else "classification")
  arrays = {task.input_key: inputs,
            task.target_key: np.asarray(targets, task.target_dtype)}
  if regression:  # FDS counts the examples flagged fresh (all, here).
    arrays["fresh"] = np.ones(per_process, bool)
  sharding = jax.sharding.NamedSharding(
      run.mesh, jax.sharding.PartitionSpec("data"))
  return train.global_batch(arrays, sharding)


def train_batches(run, split, steps: int, batch_size: int, *,
                  regression: bool = False) -> list[dict[str, jax.Array]]:
  """`train_batch` of steps 0 .. steps - 1."""
  return [train_batch(run, split, step, batch_size, regression=regression)
          for step in range(steps)]
