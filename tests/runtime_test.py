"""Tests for ltjax.runtime (virtual host devices for CPU steps)."""

import os
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized

from ltjax import runtime


class RuntimeTest(parameterized.TestCase):

  @parameterized.parameters((1, 2), (2, 4), (3, 4), (4, 8), (64, 8))
  def test_device_count(self, cores, expected):
    self.assertEqual(runtime.host_device_count(cores), expected)

  def test_adds_flags(self):
    with mock.patch.dict(os.environ, {"XLA_FLAGS": "--xla_foo=1"}):
      flags = runtime.configure_host_devices(4)
      self.assertEqual(os.environ["XLA_FLAGS"], flags)
    self.assertIn("--xla_foo=1", flags)
    self.assertIn("--xla_force_host_platform_device_count=4", flags)
    self.assertIn("--xla_cpu_collective_call_terminate_timeout_seconds=600",
                  flags)

  def test_explicit_device_count_wins(self):
    explicit = "--xla_force_host_platform_device_count=1"
    with mock.patch.dict(os.environ, {"XLA_FLAGS": explicit}):
      flags = runtime.configure_host_devices()
    self.assertIn(explicit, flags)
    self.assertNotIn("device_count=4", flags)
    self.assertEqual(flags.count("device_count"), 1)


if __name__ == "__main__":
  absltest.main()
