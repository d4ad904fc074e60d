"""Process-level set-up of the CPU backend, before JAX starts it.

On a CPU, XLA can split a data-parallel step over several virtual devices
(`--host_devices`, XLA's `--xla_force_host_platform_device_count`). That was
the default once, for speed on a 2-core host (benchmarks/RESULTS.md), but
it deadlocks: jaxlib 0.10.2's CPU client launches each device's part of a
step on a thread of a pool sized for one collective (max(cores, devices)
threads), and a launch blocks its thread while its device already has ~32
computations in flight. When the host has dispatched that many steps ahead,
the computations that would free a slot wait for a pool thread, while the
other devices' launches hold the pool waiting for that device in the
gradient all-reduce: every thread asleep (`benchmarks/cpu_deadlock.py`
reproduces it in seconds; with one device, or the host at most ~30 steps
ahead, it never happened). So the default is now one CPU device, which uses
every core through XLA's intra-op threads and has no collectives; the train
loop keeps at most `ltjax.train.MAX_STEPS_IN_FLIGHT` steps queued;
and a watchdog (`ltjax._watchdog`) turns any hang into stack dumps and an
error.

The device count changes the float reduction order, and so the results
beyond round-off over a run: the data-parallel step computes the same
function on any device count (tests/train_step_test.py checks one step to
float tolerance), but the gradient all-reduce and the BatchNorm statistics
sum in another order, and the differences grow over thousands of steps (a
2-epoch MNIST-LT LDAM-DRW run: several points of top-1 apart between 1, 2,
4 and 8 CPU devices, benchmarks/RESULTS.md "Device count"). At a fixed
device count a run is bit-identical, resumed or not. Compare runs at one
device count; `metrics.json` records it (`run.devices`, `run.device_kind`).
On GPU or TPU hosts the CPU devices are unused (the default backend's
devices form the mesh).
"""

import os

import jax

from ltjax import _watchdog

DEFAULT_HOST_DEVICES = 1
DEFAULT_WATCHDOG_SECONDS = _watchdog.DEFAULT_TIMEOUT
_DEVICE_FLAG = "--xla_force_host_platform_device_count"
# With several virtual devices, a collective waits for the other devices'
# threads; XLA's default 40 s aborts a merely starved run on a loaded host.
# A real deadlock is reported sooner by the watchdog.
_TIMEOUT_FLAG = "--xla_cpu_collective_call_terminate_timeout_seconds"
# XLA's concurrency-optimised CPU schedule lets a device run two independent
# collectives at once (BMSE's all-gathers of predictions and targets); with
# in-process collectives each waits on a pool thread, and the 8 devices'
# threads can all end up waiting in two different rendezvous, neither full:
# a deadlock (seen in the test suite on a 2-core host, 2026-12-07). The
# sequential schedule runs every device's collectives in one order.
_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
CPU_COLLECTIVE_FLAGS = f"{_SCHEDULER_FLAG}=false"


def configure_host_devices(count: int | None = None) -> int:
  """Sets the number of CPU devices (default 1) before JAX's backends start.

  Call before anything initialises JAX's backends (the first `jax.devices()`
  or computation); the entry points call it first thing in `main`. An
  explicit `--xla_force_host_platform_device_count` in XLA_FLAGS wins over
  the default, and is an error when it contradicts an explicit `count`.

  Args:
    count: CPU devices (>= 1), or None for the XLA_FLAGS value, else a count
      set before (`jax_num_cpu_devices`), else 1.

  Returns:
    The number of CPU devices JAX will create.

  Raises:
    ValueError: `count` < 1, contradicts XLA_FLAGS, or comes after JAX's
      backends started with a different count.
  """
  if count is not None and count < 1:
    raise ValueError(f"--host_devices must be >= 1, got {count}.")
  flags = os.environ.get("XLA_FLAGS", "")
  from_env = _flag_value(flags, _DEVICE_FLAG)
  if from_env is not None and count is not None and count != from_env:
    raise ValueError(
        f"--host_devices={count} contradicts {_DEVICE_FLAG}={from_env} in "
        "XLA_FLAGS; drop one of them.")
  if _TIMEOUT_FLAG not in flags:
    flags = os.environ["XLA_FLAGS"] = f"{flags} {_TIMEOUT_FLAG}=600".strip()
  if from_env is not None:
    _sequential_collectives(from_env)
    return from_env
  if count is None and jax.config.jax_num_cpu_devices > 0:
    return jax.config.jax_num_cpu_devices  # set before, e.g. by a caller
  count = count or DEFAULT_HOST_DEVICES
  _sequential_collectives(count)
  try:
    jax.config.update("jax_num_cpu_devices", count)
  except RuntimeError as error:  # the backends already started
    started = len(jax.devices("cpu"))
    if started != count:
      raise ValueError(
          f"{count} CPU device(s) asked for, but JAX already started with "
          f"{started}; set it before any JAX computation.") from error
  return count


def _sequential_collectives(count: int) -> None:
  """Adds CPU_COLLECTIVE_FLAGS to XLA_FLAGS for several CPU devices."""
  flags = os.environ.get("XLA_FLAGS", "")
  if count > 1 and _SCHEDULER_FLAG not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} {CPU_COLLECTIVE_FLAGS}".strip()


def _flag_value(flags: str, name: str) -> int | None:
  for item in flags.split():
    if item.startswith(name + "="):
      return int(item.split("=", 1)[1])
  return None


def set_watchdog_seconds(seconds: float | None) -> None:
  """Sets the train loops' hang watchdog (default 120 s; None or 0: off).

  A loop with no progress (no step or evaluation finished) for `seconds`
  while the process is idle (a deadlock sleeps; a compilation or a long
  evaluation keeps a core busy) gets every thread's stack dumped to stderr
  and the process ends with exit code 75. Notebooks get the same default.
  """
  _watchdog.set_timeout(seconds)
