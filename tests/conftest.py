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
Set XLA_FLAGS yourself to opt out of the first two.
"""

import atexit
import os
import shutil
import tempfile

_FLAGS = ("--xla_force_host_platform_device_count=8",
          "--xla_backend_optimization_level=0")
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
