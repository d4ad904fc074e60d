"""Tests for ltjax.runtime (the CPU device count, before JAX starts)."""

import os
import pathlib
import subprocess
import sys
import textwrap
from unittest import mock

from absl.testing import absltest

from ltjax import runtime

ROOT = pathlib.Path(__file__).resolve().parents[1]


def fresh_python(code: str, xla_flags: str | None = None):
  """Runs `code` in a new interpreter (JAX not started), without XLA_FLAGS."""
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  if xla_flags is not None:
    env["XLA_FLAGS"] = xla_flags
  env["PYTHONPATH"] = str(ROOT)
  return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                        env=env, capture_output=True, text=True, timeout=120)


class RuntimeTest(absltest.TestCase):

  def test_default_is_one_device(self):
    # Several virtual CPU devices can deadlock (ltjax.runtime): the default
    # is one device, whatever the core count.
    result = fresh_python("""
        import jax
        from ltjax import runtime
        print(runtime.configure_host_devices(), len(jax.devices()))
        """)
    self.assertEqual(result.stdout.split(), ["1", "1"], result.stderr)

  def test_explicit_count_and_too_late(self):
    result = fresh_python("""
        import jax
        from ltjax import runtime
        print(runtime.configure_host_devices(3), len(jax.devices()))
        print(runtime.configure_host_devices(3))
        try:
          runtime.configure_host_devices(2)
        except ValueError as error:
          print(error)
        """)
    lines = result.stdout.splitlines()
    self.assertEqual(lines[:2], ["3 3", "3"], result.stderr)
    self.assertIn("JAX already started with 3", lines[2])

  def test_xla_flags_count_is_kept(self):
    result = fresh_python("""
        import jax
        from ltjax import runtime
        print(runtime.configure_host_devices(), len(jax.devices()))
        """, xla_flags="--xla_force_host_platform_device_count=2")
    self.assertEqual(result.stdout.split(), ["2", "2"], result.stderr)

  def test_adds_the_collective_timeout(self):
    explicit = "--xla_force_host_platform_device_count=4"
    with mock.patch.dict(os.environ, {"XLA_FLAGS": explicit}):
      self.assertEqual(runtime.configure_host_devices(), 4)
      self.assertEqual(runtime.configure_host_devices(4), 4)
      flags = os.environ["XLA_FLAGS"]
    self.assertIn(explicit, flags)
    self.assertIn("--xla_cpu_collective_call_terminate_timeout_seconds=600",
                  flags)
    self.assertIn(runtime.CPU_COLLECTIVE_FLAGS, flags)

  def test_one_device_keeps_the_concurrent_schedule(self):
    with mock.patch.dict(os.environ, {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}):
      runtime.configure_host_devices()
      self.assertNotIn(runtime.CPU_COLLECTIVE_FLAGS, os.environ["XLA_FLAGS"])

  def test_bad_counts(self):
    with self.assertRaisesRegex(ValueError, "--host_devices must be >= 1"):
      runtime.configure_host_devices(0)
    with mock.patch.dict(os.environ, {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}):
      with self.assertRaisesRegex(ValueError, "--host_devices=2 contradicts"):
        runtime.configure_host_devices(2)

  def test_watchdog_setting(self):
    self.addCleanup(runtime.set_watchdog_seconds,
                    runtime.DEFAULT_WATCHDOG_SECONDS)
    runtime.set_watchdog_seconds(0)
    from ltjax import _watchdog  # pylint: disable=g-import-not-at-top
    self.assertIsNone(_watchdog.get_timeout())
    runtime.set_watchdog_seconds(30)
    self.assertEqual(_watchdog.get_timeout(), 30.0)


if __name__ == "__main__":
  absltest.main()
