"""Data parallelism: jit over a 1-D `data` mesh of every device.

The state is replicated and the batch sharded along its first axis; XLA
inserts the gradient all-reduce, and BatchNorm statistics are computed over
the global batch, so a sharded step computes the same function as a
single-device step on the same global batch. Across hosts, each process feeds
its own slice, assembled into one global array.

Why not `jax.pmap`: in current JAX it is built on jit + shard_map and
documented as the old way; it needs per-device leading axes on every array,
replication by hand, and `pmean` of gradients, and it cannot shard anything
but the leading axis. A `Mesh` + `jax.jit` program runs unchanged on one CPU,
eight GPUs or a TPU pod slice.
"""

import jax
import numpy as np

P = jax.sharding.PartitionSpec


def data_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh named 'data' over all (or the given) devices.

  The axis type is Auto: with JAX's Explicit default a jitted segment_sum or
  gather over the sharded batch raises a sharding type error.
  """
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def replicated(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  return jax.sharding.NamedSharding(mesh, P())


def batch_sharded(mesh: jax.sharding.Mesh) -> jax.sharding.NamedSharding:
  return jax.sharding.NamedSharding(mesh, P("data"))


def check_batch_size(global_batch_size: int, mesh: jax.sharding.Mesh,
                     field: str = "batch_size") -> None:
  """The global batch must split evenly over devices and processes."""
  devices = mesh.devices.size
  if global_batch_size % devices or global_batch_size % jax.process_count():
    hint = ""
    if jax.default_backend() == "cpu":
      hint = (" (on a CPU these are virtual devices, see ltjax.runtime; "
              "XLA_FLAGS=--xla_force_host_platform_device_count=1 uses one)")
    raise ValueError(
        f"{field}={global_batch_size} must be divisible by the number of "
        f"devices ({devices}) and processes ({jax.process_count()}); pick a "
        f"multiple of {devices}{hint}.")


def round_up_batch_size(batch_size: int, mesh: jax.sharding.Mesh) -> int:
  """The smallest multiple of the device and process counts >= batch_size."""
  multiple = np.lcm(mesh.devices.size, jax.process_count())
  return int(-(-batch_size // multiple) * multiple)


def global_batch(local: dict[str, np.ndarray],
                 sharding: jax.sharding.NamedSharding) -> dict[str, jax.Array]:
  """Builds global arrays from this process's slice of a batch.

  Each process passes its own rows (the `batch_indices` slice of the shared
  epoch plan); the result is one array sharded over all devices of all
  processes. With one process this is a sharded `device_put`.
  """
  return {name: jax.make_array_from_process_local_data(sharding, value)
          for name, value in local.items()}


def replicate(tree, mesh: jax.sharding.Mesh):
  """Places a pytree on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))
