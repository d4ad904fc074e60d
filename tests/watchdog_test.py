"""The hang watchdog: fires on an idle stall, never on a busy one."""

import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time

from absl.testing import absltest

from ltjax import _watchdog
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]


class FakeClocks:

  def __init__(self):
    self.wall = 0.0
    self.cpu = 0.0


def fake_watchdog(clocks, fired, timeout=10.0):
  return _watchdog.Watchdog(timeout, on_fire=fired.append,
                            cpu_clock=lambda: clocks.cpu,
                            clock=lambda: clocks.wall)


class WatchdogUnitTest(absltest.TestCase):

  def test_fires_after_an_idle_timeout(self):
    clocks, fired = FakeClocks(), []
    dog = fake_watchdog(clocks, fired)
    dog.beat("step 7")
    clocks.wall, clocks.cpu = 9.0, 0.01
    self.assertFalse(dog.check())
    clocks.wall = 12.0  # 12 s, 0.01 s of CPU: idle
    self.assertTrue(dog.check())
    self.assertLen(fired, 1)
    self.assertIn("no progress for 12 s while waiting for step 7", fired[0])
    self.assertIn("--host_devices=1", fired[0])

  def test_beats_keep_it_quiet(self):
    clocks, fired = FakeClocks(), []
    dog = fake_watchdog(clocks, fired)
    for t in range(1, 100):
      clocks.wall = 5.0 * t
      dog.beat(f"step {t}")
      self.assertFalse(dog.check())
    self.assertEmpty(fired)

  def test_a_busy_process_is_not_hung(self):
    # A long compilation or evaluation: no beat for 100 s, but a core busy.
    clocks, fired = FakeClocks(), []
    dog = fake_watchdog(clocks, fired)
    for t in range(1, 101):
      clocks.wall, clocks.cpu = float(t), 0.9 * t
      self.assertFalse(dog.check())
    # Then the process goes idle: it fires one timeout after it stopped.
    clocks.wall = 105.0
    self.assertFalse(dog.check())
    clocks.wall = 111.0
    self.assertTrue(dog.check())
    self.assertIn("no progress for 11 s", fired[0])

  def test_a_starved_process_is_not_hung(self):
    # A compile on a loaded host (load ~40 on 2 cores): no beat for minutes
    # and only ~3 % of a core, but not idle.
    clocks, fired = FakeClocks(), []
    dog = fake_watchdog(clocks, fired)
    for t in range(1, 301):
      clocks.wall, clocks.cpu = float(t), 0.03 * t
      self.assertFalse(dog.check())
    self.assertEmpty(fired)

  def test_off_and_bad_timeouts(self):
    with _watchdog.watching(timeout=0) as dog:
      self.assertIsNone(dog)
      _watchdog.beat("no-op")
    with self.assertRaisesRegex(ValueError, "timeout"):
      _watchdog.set_timeout(-1)


def run_python(code: str, timeout: float = 240):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
  start = time.perf_counter()
  result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
  return result, time.perf_counter() - start


class WatchdogProcessTest(absltest.TestCase):

  def test_a_blocked_process_dumps_stacks_and_exits(self):
    result, seconds = run_python("""
        import threading, time
        from ltjax import _watchdog

        def wait_for_the_other_devices():
          threading.Event().wait()  # sleeps for ever, like a deadlock

        with _watchdog.watching(timeout=1.0):
          _watchdog.beat("step 51")
          wait_for_the_other_devices()
        """)
    self.assertEqual(result.returncode, _watchdog.EXIT_CODE, result.stderr)
    self.assertLess(seconds, 60)
    self.assertIn("ltjax watchdog: no progress", result.stderr)
    self.assertIn("waiting for step 51", result.stderr)
    # faulthandler's dump of the stuck main thread.
    self.assertIn("in wait_for_the_other_devices", result.stderr)
    self.assertIn("Thread 0x", result.stderr)

  def test_stacks_without_a_file_descriptor(self):
    # A notebook's sys.stderr has no fileno(): the stacks are formatted.
    result, _ = run_python("""
        import io, os, sys, threading
        from ltjax import _watchdog

        class NotebookStream(io.StringIO):
          def fileno(self):
            raise io.UnsupportedOperation("fileno")

        captured = NotebookStream()
        sys.stderr = captured
        real_exit = os._exit

        def report_and_exit(code):
          sys.__stdout__.write(captured.getvalue() + f"EXIT {code}\\n")
          sys.__stdout__.flush()
          real_exit(0)

        os._exit = report_and_exit

        def wait_in_a_notebook_cell():
          threading.Event().wait()

        with _watchdog.watching(timeout=1.0):
          wait_in_a_notebook_cell()
        """)
    self.assertIn("ltjax watchdog: no progress", result.stdout, result.stderr)
    self.assertIn("in wait_in_a_notebook_cell", result.stdout)
    self.assertIn(f"EXIT {_watchdog.EXIT_CODE}", result.stdout)

  def test_a_busy_process_finishes(self):
    result, _ = run_python("""
        import time
        from ltjax import _watchdog

        with _watchdog.watching(timeout=0.5):
          end = time.monotonic() + 3
          while time.monotonic() < end:  # busy, like a compilation
            sum(range(1000))
        print("done")
        """)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("done", result.stdout)

  def test_the_train_loop_is_watched(self):
    # A tiny run whose evaluation never returns: the watchdog armed by the
    # driver ends it with the stacks, instead of a silent hang.
    with tempfile.TemporaryDirectory() as tmp:
      paths = testdata.write_tiny_benchmarks(tmp)
      result, seconds = run_python(f"""
          import threading
          from experiments.configs import common
          from ltjax import runtime
          from ltjax import train
          from ltjax.train import _engine

          def evaluation_that_never_returns(*args, **kwargs):
            threading.Event().wait()

          _engine.evaluate_splits = evaluation_that_never_returns
          runtime.set_watchdog_seconds(2)
          config = common.build("mnist_lt", "ce", "1")
          config.data.path = {paths["mnist_lt"]!r}
          config.data.imbalance_ratio = 4.0
          config.data.val_per_class = 2
          config.batch_size = 16
          config.eval_batch_size = 16
          train.train_and_evaluate(config, {os.path.join(tmp, "run")!r})
          """)
    self.assertEqual(result.returncode, _watchdog.EXIT_CODE, result.stderr)
    self.assertIn("ltjax watchdog: no progress", result.stderr)
    self.assertIn("in evaluation_that_never_returns", result.stderr)
    self.assertIn("in run_schedule", result.stderr)
    self.assertLess(seconds, 200)


if __name__ == "__main__":
  absltest.main()
