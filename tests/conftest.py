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
