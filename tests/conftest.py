"""Test-session setup: 8 fake CPU devices for the multi-device tests.

XLA reads XLA_FLAGS once, when JAX first initialises its backend, so this must
run before any test module touches a device.
"""

import os

_FLAG = "--xla_force_host_platform_device_count=8"
if _FLAG.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " +
                             _FLAG).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# One on-disk compilation cache for the session, inherited by the training
# subprocesses and notebook kernels the tests start: the same tiny models
# are compiled by many tests (a cold suite spends most of its time in XLA).
# Only compiled executables are cached, so no result depends on it.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  import atexit  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top

  _CACHE = tempfile.mkdtemp(prefix="ltjax-test-jax-cache-")
  atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
