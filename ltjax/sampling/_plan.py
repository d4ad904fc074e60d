"""Epoch plans: which training examples each step of an epoch uses.

An epoch plan is a pure function of (labels, seed, epoch, class
probabilities): the same arguments give the same indices on every machine and
in every process, so a resumed job draws exactly the batches it would have
drawn, and each process of a multi-host job takes its own slice of one shared
plan (`batch_indices`).
"""

import numpy as np

from ltjax.sampling import _groups


def _generator(seed: int, epoch: int) -> np.random.Generator:
  if seed < 0 or epoch < 0:
    raise ValueError(f"seed and epoch must be >= 0, got {seed} and {epoch}.")
  # SeedSequence mixes both integers into an independent stream per epoch.
  return np.random.Generator(np.random.PCG64([seed, epoch]))


def _cycled_permutations(rng: np.random.Generator, items: np.ndarray,
                         length: int) -> np.ndarray:
  """`length` items from back-to-back fresh shuffles of `items`."""
  reps = max(1, -(-length // items.size))
  shuffles = [rng.permutation(items) for _ in range(reps)]
  return np.concatenate(shuffles)[:length].astype(np.int64, copy=False)


def epoch_plan(labels, *, seed: int, epoch: int,
               class_probabilities: np.ndarray | None = None,
               num_samples: int | None = None,
               group_size: int = 1) -> np.ndarray:
  """Example indices for one epoch.

  With `class_probabilities=None` (instance-balanced) the plan is a
  permutation of all examples. Otherwise each draw picks a class with the
  given probability, then the next `group_size` examples of that class from a
  per-class shuffled queue that is reshuffled whenever it runs out, so no
  example repeats within a class before all of that class have been drawn (the
  class-aware sampler of the decoupling paper uses `group_size=4`).

  Args:
    labels: int [N] class of each training example.
    seed: the run's data seed.
    epoch: 0-based epoch.
    class_probabilities: float [C] summing to 1, or None.
    num_samples: length of the plan; default N, so an epoch has the same
      number of steps under every sampler.
    group_size: consecutive examples drawn per class draw.

  Returns:
    int64 [num_samples] indices into `labels`.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
        f"labels must be an integer vector [N], got {labels.dtype} "
        f"{labels.shape}.")
  num_examples = labels.shape[0]
  num_samples = num_examples if num_samples is None else num_samples
  if num_samples < 0:
    raise ValueError(f"num_samples must be >= 0, got {num_samples}.")
  if group_size < 1:
    raise ValueError(f"group_size must be >= 1, got {group_size}.")
  if num_examples == 0:
    raise ValueError("labels is empty: there is nothing to sample.")
  rng = _generator(seed, epoch)
  if class_probabilities is None:
    return _cycled_permutations(rng, np.arange(num_examples), num_samples)

  probs = np.asarray(class_probabilities, np.float64)
  num_classes = probs.shape[0]
  if probs.ndim != 1 or not np.isclose(probs.sum(), 1.0) or np.any(probs < 0):
    raise ValueError(
        f"class_probabilities must be a non-negative vector summing to 1, "
        f"got {probs}.")
  if labels.size and labels.max() >= num_classes:
    raise ValueError(
        f"labels go up to {labels.max()} but class_probabilities has only "
        f"{num_classes} entries.")
  members, bounds = _groups.group_positions(labels, num_classes)
  empty = np.flatnonzero((probs > 0) & (np.diff(bounds) == 0)).tolist()
  if empty:
    raise ValueError(
        f"classes {empty} have sampling probability > 0 but no examples.")

  num_draws = -(-num_samples // group_size)
  drawn_classes = rng.choice(num_classes, size=num_draws, p=probs)
  # Draw d fills plan[d * group_size:(d + 1) * group_size]. Each drawn class
  # in increasing order takes the next stretch of the random stream for its
  # queue, which fills the slots of its draws in order.
  slots, slot_bounds = _groups.group_positions(drawn_classes, num_classes)
  if group_size > 1:
    slots = (slots[:, None] * group_size
             + np.arange(group_size)[None, :]).reshape(-1)
  plan = np.empty(num_draws * group_size, np.int64)
  for c in np.flatnonzero(np.diff(slot_bounds)):
    start, stop = slot_bounds[c] * group_size, slot_bounds[c + 1] * group_size
    plan[slots[start:stop]] = _cycled_permutations(
        rng, members[bounds[c]:bounds[c + 1]], stop - start)
  return plan[:num_samples]


def steps_per_epoch(num_examples: int, global_batch_size: int) -> int:
  """Steps that cover every example once: ceil(N / B)."""
  if global_batch_size < 1:
    raise ValueError(
        f"global_batch_size must be >= 1, got {global_batch_size}.")
  return max(1, -(-num_examples // global_batch_size))


def batch_indices(plan: np.ndarray, step_in_epoch: int, *,
                  global_batch_size: int, process_index: int = 0,
                  process_count: int = 1) -> np.ndarray:
  """This process's slice of one global batch of an epoch plan.

  Global batch `step_in_epoch` is plan[s*B : (s+1)*B]; when the plan runs out
  (the last, partial batch) it is completed from the start of the plan, so
  every batch has B examples (fixed shapes for the compiled step) and every
  example of the plan is used. Process p of P takes the p-th contiguous
  B / P of that global batch, so the slices of all processes are disjoint and
  cover it.

  Returns:
    int64 [B / P] indices.
  """
  if global_batch_size % process_count:
    raise ValueError(
        f"global_batch_size {global_batch_size} must be divisible by the "
        f"process count {process_count}.")
  if not 0 <= process_index < process_count:
    raise ValueError(
        f"process_index must be in [0, {process_count}), got {process_index}.")
  plan = np.asarray(plan)
  if plan.size == 0:
    raise ValueError("the epoch plan is empty.")
  start = step_in_epoch * global_batch_size
  positions = np.arange(start, start + global_batch_size) % plan.size
  per_process = global_batch_size // process_count
  mine = positions[process_index * per_process:(process_index + 1) *
                   per_process]
  return plan[mine]
