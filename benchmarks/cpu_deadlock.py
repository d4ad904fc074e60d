r"""Reproduces the XLA:CPU deadlock of several virtual devices (hand-run).

  python -m benchmarks.cpu_deadlock --devices=4 --ahead=100   # hangs
  python -m benchmarks.cpu_deadlock --devices=4 --ahead=8     # runs
  python -m benchmarks.cpu_deadlock --devices=1 --ahead=100   # runs

A small data-parallel step (a gradient all-reduce over the devices) is
dispatched `--ahead` times before the host waits for the last one, for
`--seconds`. With several devices and the host more than about 32 steps
ahead, jaxlib 0.10.2 deadlocks: a device's launch blocks a thread of the
PjRt client's pool on the device's in-flight limit, the computations that
would lift the limit wait for a pool thread, and the pool (max(cores,
devices) threads) is held by the other devices' launches waiting in the
all-reduce. The script then prints HANG (no step finished for 30 s, ~0 CPU)
and exits with code 3; otherwise it prints OK and the steps run.
"""

import os
import sys
import threading
import time

from absl import app
from absl import flags

_DEVICES = flags.DEFINE_integer("devices", 4, "Virtual CPU devices.")
_AHEAD = flags.DEFINE_integer("ahead", 100, "Steps dispatched per wait.")
_SECONDS = flags.DEFINE_float("seconds", 20, "How long to run.")


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  import jax
  jax.config.update("jax_num_cpu_devices", _DEVICES.value)
  import jax.numpy as jnp
  import numpy as np
  from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
  # pylint: enable=g-import-not-at-top
  mesh = Mesh(np.array(jax.devices()), ("data",))
  replicated = NamedSharding(mesh, P())
  sharded = NamedSharding(mesh, P("data"))

  def loss(w, x):
    y = jnp.tanh(x @ w["a"])
    y = y - y.mean(0)  # a mean over the global batch: an all-reduce
    return jnp.mean((y @ w["b"]) ** 2)

  def step(w, x):
    value, grads = jax.value_and_grad(loss)(w, x)
    return jax.tree.map(lambda a, g: a - 1e-3 * g, w, grads), value

  step = jax.jit(step, donate_argnums=0,
                 out_shardings=(replicated, replicated))
  w = jax.device_put({"a": jnp.full((64, 64), 0.01),
                      "b": jnp.full((64, 64), 0.01)}, replicated)
  rng = np.random.default_rng(0)
  xs = [jax.device_put(rng.standard_normal(
      (_DEVICES.value * 16, 64)).astype(np.float32), sharded)
        for _ in range(4)]
  last, count = [time.time()], [0]

  def monitor():
    while True:
      time.sleep(2)
      if time.time() - last[0] > 30:
        before = os.times()
        time.sleep(5)
        after = os.times()
        cpu = (after.user + after.system) - (before.user + before.system)
        print(f"HANG devices={_DEVICES.value} ahead={_AHEAD.value} after "
              f"{count[0]} steps; CPU seconds in 5 s: {cpu:.2f}", flush=True)
        os._exit(3)  # pylint: disable=protected-access

  threading.Thread(target=monitor, daemon=True).start()
  end = time.time() + _SECONDS.value
  while time.time() < end:
    values = []
    for i in range(_AHEAD.value):
      w, value = step(w, xs[i % len(xs)])
      values.append(value)
      count[0] += 1
    float(values[-1])
    last[0] = time.time()
  print(f"OK devices={_DEVICES.value} ahead={_AHEAD.value} {count[0]} steps",
        flush=True)
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
