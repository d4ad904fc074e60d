"""Process-level set-up that must happen before JAX starts its backends.

On a CPU, XLA runs one program per device with limited intra-op
parallelism, so a train step splits its batch better over several virtual
CPU devices than it runs on one (benchmarks/RESULTS.md: ResNet-32 on a
2-core host, 1 device 170-180 images/s, 2 devices 223, 4 devices 248).
`configure_host_devices()` asks XLA for that many host devices — it does not
change what is computed: the data-parallel step is the same function on any
device count (tests/train_step_test.py). On GPU or TPU hosts the extra CPU
devices exist but are unused (the default backend's devices form the mesh).
"""

import os

_DEVICE_FLAG = "--xla_force_host_platform_device_count"
# Collective ops between virtual CPU devices wait on each other's threads; on
# a loaded host a thread can be starved for longer than XLA's default 40 s,
# which aborts the process. Waiting longer is always the better outcome.
_TIMEOUT_FLAG = "--xla_cpu_collective_call_terminate_timeout_seconds"


def host_device_count(cores: int | None = None) -> int:
  """The number of virtual CPU devices for `cores` usable cores.

  Twice the cores (XLA's convolutions leave cores idle between ops), rounded
  down to a power of two so common batch sizes divide, at most 8.
  """
  if cores is None:
    cores = len(os.sched_getaffinity(0)) if hasattr(
        os, "sched_getaffinity") else (os.cpu_count() or 1)
  target = min(2 * max(cores, 1), 8)
  return 1 << (target.bit_length() - 1)


def configure_host_devices(count: int | None = None) -> str:
  """Adds the virtual-device flags to XLA_FLAGS unless already set.

  Call before anything initialises JAX's backends (first use of
  `jax.devices()` or of any computation); entry points call it at start-up.
  An explicit `--xla_force_host_platform_device_count` in XLA_FLAGS wins.

  Returns:
    The resulting XLA_FLAGS.
  """
  flags = os.environ.get("XLA_FLAGS", "")
  additions = []
  if _DEVICE_FLAG not in flags:
    additions.append(f"{_DEVICE_FLAG}={count or host_device_count()}")
  if _TIMEOUT_FLAG not in flags:
    additions.append(f"{_TIMEOUT_FLAG}=600")
  if additions:
    flags = " ".join([flags] + additions).strip()
    os.environ["XLA_FLAGS"] = flags
  return flags
