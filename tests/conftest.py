"""Test-session setup: 8 fake CPU devices, fast compiles, a compilation cache.

XLA reads XLA_FLAGS once, when JAX first initialises its backend, so this must
run before any test module touches a device. The flags (and the cache's
environment variables) are inherited by the subprocesses that tests start.

- 8 fake CPU devices for the multi-device tests.
- `--xla_backend_optimization_level=0`: the suite compiles hundreds of tiny
  programs whose run time is negligible; XLA's backend optimisation costs
  more compile time than it saves (mixing_engine_test: 75 s -> 47 s).
  Results are still deterministic for given flags, so bit-identity checks
  between two runs of the suite's own hold.
- A persistent compilation cache in a fresh temporary folder (removed at
  exit): the many tests that compile the same program (the same tiny model
  and step) compile it once (47 s -> 38 s more on the same file).
- `--xla_cpu_enable_concurrency_optimized_scheduler=false`: with XLA's
  concurrency-optimised schedule, a step with two independent collectives
  (BMSE's all-gathers of predictions and targets) can leave the 8 devices'
  pool threads all waiting in two different rendezvous: a deadlock that
  XLA ends with an abort (`Termination timeout ... Expected 8 threads`,
  CI of 2026-12-07; regression_loop_test's every-config test reproduced it
  here each time when run as a file). `ltjax.runtime` sets it for runs on
  several CPU devices too.
- A collective's termination timeout of 300 s (XLA's default 40 s aborts a
  merely starved collective on a loaded 2-core host).
Set XLA_FLAGS yourself to opt out of all of them.
"""

import atexit
import os
import shutil
import tempfile

_FLAGS = ("--xla_force_host_platform_device_count=8",
          "--xla_backend_optimization_level=0",
          "--xla_cpu_enable_concurrency_optimized_scheduler=false",
          "--xla_cpu_collective_call_terminate_timeout_seconds=300")
_current = os.environ.get("XLA_FLAGS", "")
if "--xla_force_host_platform_device_count" not in _current:
  os.environ["XLA_FLAGS"] = " ".join([_current, *_FLAGS]).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _CACHE = tempfile.mkdtemp(prefix="ltjax-test-jit-cache-")
  atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
