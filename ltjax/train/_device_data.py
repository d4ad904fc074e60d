"""Training data on the accelerator: device gathers and multi-step calls.

When the training split is an in-memory array (every CIFAR-LT, MNIST-LT and
tabular set; CIFAR-10-LT's train split is 38 MB of uint8) and fits in the
device's memory, the run does not ship a batch from the host each step:

- the split's arrays (the task's `train_arrays` of the whole split, so the
  dtypes are those of the host path) are put on the device once, replicated;
- each epoch's plan (any sampler's, `Task.epoch_plan`, and the partner plan
  if any) is one int32 device array, laid out exactly as the host path reads
  it (`sampling.batch_indices`: position p of the epoch takes plan[p mod
  len(plan)]);
- a step gathers its batch from them on the device and runs the same
  `make_step` function as the host path (augmentation is already a device
  transform of the step);
- `chunk` runs `count` consecutive steps in one compiled call (a
  `lax.fori_loop` whose trip count is data, so one compilation serves every
  chunk length), and the host dispatches once per chunk.

The chunk's steps are the host path's steps: the same batch, the same key
(`fold_in(rng, step)`), the same function. With one step per call (the
default on the CPU) the program is the host path's plus the gather, and the
parameters after N steps are bit-identical to the host-fed run's, with
checkpoints and resumes (`tests/device_data_test.py`). Inside a loop, XLA
compiles the convolution gradients differently (measured on XLA:CPU: the
same conv's kernel gradient differs in the last bits inside a
`fori_loop`), so multi-step calls equal the host path to float rounding,
not bit for bit. The driver cuts chunks at every log, evaluation and
checkpoint step, so a resume starts where any run would.

`config.data_on_device`: "auto" (on when `supported` and the arrays take at
most `MAX_DEVICE_FRACTION` of the device memory, `DEFAULT_LIMIT_BYTES` where
the backend does not say), "on" (an error names the reason when it cannot
be), "off". `config.steps_per_call`: the most steps of one call (0: one
on the CPU, up to an epoch on an accelerator; `chunk_cap`); chunks are cut
at log / evaluation / checkpoint steps anyway.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.data import _types
from ltjax.train import _parallel

MODES = ("auto", "on", "off")
# With no memory statistics (the CPU backend): the most bytes put on the
# device automatically.
DEFAULT_LIMIT_BYTES = 2 << 30
# Of the device's memory limit, the share the training arrays may take.
MAX_DEVICE_FRACTION = 0.25
# Why a run keeps the host path, by cause.
_HOST_ONLY = {
    "files": "the training split is read from files (streamed images)",
    "processes": "the run has several processes (each would need the whole "
                 "split)",
}


def array_split(split) -> bool:
  """Whether `split` is one in-memory array (its `get_batch` is a gather)."""
  # Imported here: ltjax.data imports the training package's schema.
  return isinstance(split, _types._ArrayBacked)  # pylint: disable=protected-access


def unsupported_reason(dataset) -> str | None:
  """Why the device path cannot run this dataset, or None."""
  if not array_split(dataset.train):
    return _HOST_ONLY["files"]
  if jax.process_count() > 1:
    return _HOST_ONLY["processes"]
  return None


def device_limit_bytes(devices) -> int:
  """The bytes the training arrays may take on each of `devices`."""
  limits = []
  for device in devices:
    try:
      stats = device.memory_stats()
    except Exception:  # pylint: disable=broad-except
      stats = None
    if stats and stats.get("bytes_limit"):
      limits.append(int(stats["bytes_limit"] * MAX_DEVICE_FRACTION))
  return min(limits) if limits else DEFAULT_LIMIT_BYTES


def train_split_bytes(dataset) -> int:
  split = dataset.train
  return int(sum(np.asarray(getattr(split, name)).nbytes
                 for name in (split._INPUTS, split._TARGETS)))  # pylint: disable=protected-access


def use_device_data(config, dataset, mesh) -> bool:
  """Whether the run keeps its training split on the device.

  Raises:
    ValueError: `config.data_on_device` is "on" and the split cannot be.
  """
  mode = config.get("data_on_device", "off")
  if mode == "off":
    return False
  reason = unsupported_reason(dataset)
  if reason is None and mode == "auto":
    size = train_split_bytes(dataset)
    limit = device_limit_bytes(mesh.devices.flat)
    if size > limit:
      reason = (f"the training split takes {size / 2**20:.0f} MiB, over the "
                f"{limit / 2**20:.0f} MiB allowed")
  if reason is None:
    return True
  if mode == "on":
    raise ValueError(
        f"config.data_on_device: 'on' but {reason}; use 'auto' (the host "
        f"path where the device path cannot run) or 'off'.")
  return False


@dataclasses.dataclass
class DeviceData:
  """The training arrays on the device and how a step reads them.

  Attributes:
    arrays: {name: replicated [N, ...] device array} of the whole split.
    fresh_key: whether the task's batches carry "fresh" (computed from the
      batch's positions, not stored).
    index_key: whether batches carry the examples' "index".
    partner_keys: {batch name of the partner: stored array name}.
  """
  arrays: dict[str, jax.Array]
  fresh_key: bool
  index_key: bool
  partner_keys: dict[str, str]


def put_training_split(task, dataset, mesh, *, with_index: bool,
                       partner_keys: tuple[str, ...]) -> DeviceData:
  """The whole training split, as the task's batches hold it, on the device.

  Args:
    task: the run's task (its `train_arrays` converts dtypes as the host
      path does).
    dataset: the dataset; `dataset.train` is array-backed.
    mesh: the data mesh (arrays are replicated over it).
    with_index: whether batches carry the examples' "index" (int32).
    partner_keys: the keys a partner plan adds with a "_b" suffix.
  """
  split = dataset.train
  n = len(split)
  inputs, targets = split.get_batch(np.arange(n))
  host = task.train_arrays(inputs, targets, np.ones(n, bool))
  fresh_key = "fresh" in host
  host = {k: v for k, v in host.items() if k != "fresh"}
  for name, value in host.items():
    if np.shape(value)[:1] != (n,):
      raise ValueError(
          f"the task's training array {name!r} has shape {np.shape(value)}, "
          f"not one row per example; set config.data_on_device='off'.")
  arrays = _parallel.replicate(
      {k: np.asarray(v) for k, v in host.items()}, mesh)
  return DeviceData(arrays=arrays, fresh_key=fresh_key, index_key=with_index,
                    partner_keys={k + "_b": k for k in partner_keys})


def laid_out_plan(plan, *, steps_per_epoch: int, batch_size: int
                  ) -> tuple[np.ndarray, int]:
  """(int32 [steps_per_epoch * B] positions -> example, the plan's length).

  Position p takes plan[p mod len(plan)]: the host path's rule
  (`sampling.batch_indices`), so the last batch is completed from the
  plan's start.
  """
  plan = np.asarray(plan)
  if plan.size == 0:
    raise ValueError("the epoch plan is empty.")
  positions = np.arange(steps_per_epoch * batch_size) % plan.size
  return plan[positions].astype(np.int32), int(plan.size)


def gather_batch(data: DeviceData, step, plans, *, steps_per_epoch: int,
                 batch_size: int) -> dict[str, jax.Array]:
  """The global batch of `step` (traced), gathered on the device.

  Args:
    data: the device arrays.
    step: int32 scalar, the global step.
    plans: ((laid-out plan, plan length), partner pair or None), device
      arrays.
  """
  (plan, size), partner = plans
  in_epoch = step % steps_per_epoch
  positions = in_epoch * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
  rows = jax.lax.dynamic_slice_in_dim(plan, in_epoch * batch_size,
                                      batch_size)
  batch = {k: jnp.take(v, rows, axis=0) for k, v in data.arrays.items()}
  if data.fresh_key:
    batch["fresh"] = positions < size
  if data.index_key:
    batch["index"] = rows
  if partner is not None:
    rows_b = jax.lax.dynamic_slice_in_dim(partner[0], in_epoch * batch_size,
                                          batch_size)
    for name, stored in data.partner_keys.items():
      batch[name] = jnp.take(data.arrays[stored], rows_b, axis=0)
  return batch


def make_chunk(step_fn, data: DeviceData, *, steps_per_epoch: int,
               batch_size: int, max_steps: int, mesh):
  """`chunk(state, plans, count) -> (state, metrics [max_steps, ...])`.

  Runs `count` (traced, 1 <= count <= max_steps) steps of `step_fn` from
  `state.step`, each on its gathered batch; metrics rows past `count` are
  zeros. The caller keeps a chunk within one epoch (one plan).
  """
  sharding = _parallel.batch_sharded(mesh)

  def one(state, plans):
    batch = gather_batch(data, state.step, plans,
                         steps_per_epoch=steps_per_epoch,
                         batch_size=batch_size)
    batch = jax.lax.with_sharding_constraint(batch, sharding)
    return step_fn(state, batch)

  if max_steps == 1:
    # No loop: the host path's program, plus the gather (bit-identical).
    def single(state, plans, count):
      del count
      state, metrics = one(state, plans)
      return state, jax.tree.map(lambda m: m[None], metrics)
    return single

  def chunk(state, plans, count):
    shapes = jax.eval_shape(one, state, plans)[1]
    buffer = jax.tree.map(
        lambda s: jnp.zeros((max_steps, *s.shape), s.dtype), shapes)

    def body(i, carry):
      state, buffer = carry
      state, metrics = one(state, plans)
      buffer = jax.tree.map(
          lambda b, m: jax.lax.dynamic_update_index_in_dim(b, m, i, 0),
          buffer, metrics)
      return state, buffer

    return jax.lax.fori_loop(0, count, body, (state, buffer))

  return chunk


def chunk_cap(config, steps_per_epoch: int, platform: str) -> int:
  """The most steps one call runs (`config.steps_per_call`).

  0 picks: one step on the CPU (where a dispatch is cheap against a step,
  and where XLA compiles a loop body's convolution gradients differently
  from the same step outside a loop, so only single-step calls are
  bit-identical to the host path), up to an epoch on an accelerator.
  """
  cap = int(config.get("steps_per_call", 0))
  if cap == 0:
    cap = 1 if platform == "cpu" else steps_per_epoch
  return max(1, min(cap, steps_per_epoch))


def next_boundary(step: int, *, last_step: int, steps_per_epoch: int,
                  cap: int, every: tuple[int, ...]) -> int:
  """The step the chunk from `step` ends at (exclusive).

  The first of: `cap` steps on, the epoch's end, `last_step`, or the next
  multiple of any of `every` (log and checkpoint periods).
  """
  end = min(step + cap, (step // steps_per_epoch + 1) * steps_per_epoch,
            last_step)
  for period in every:
    if period > 0:
      end = min(end, (step // period + 1) * period)
  return end


def plans_on_device(plans, *, steps_per_epoch: int, batch_size: int, mesh):
  """The epoch's (plan, partner or None) laid out and put on the device."""
  plan, partner = plans if isinstance(plans, tuple) else (plans, None)

  def put(p):
    laid, size = laid_out_plan(p, steps_per_epoch=steps_per_epoch,
                               batch_size=batch_size)
    return _parallel.replicate((laid, np.int32(size)), mesh)

  return (put(plan), None if partner is None else put(partner))


def describe(data: DeviceData) -> str:
  size = sum(v.nbytes for v in data.arrays.values())
  return f"training split on the device ({size / 2**20:.1f} MiB)"

