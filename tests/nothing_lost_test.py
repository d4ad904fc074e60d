"""No work is lost: checkpoints by wall time, Ctrl-C and SIGTERM save.

(The bit-identical resume after a SIGTERM at a step is in
train_loop_test.ResumeTest.)
"""

import os
import re
import signal
import subprocess
import sys
import time
from unittest import mock

from absl.testing import absltest

from ltjax import recipes
from ltjax import train
from ltjax.train import _interrupt
import testdata
from train_loop_test import shrink


class TimedCheckpointTest(testdata.TinyBenchmarksTestCase):

  def test_checkpoint_every_minutes_saves_between_step_checkpoints(self):
    config = shrink(recipes.build("mnist_lt", "ce", "1"), self.paths)
    config.max_steps = 4
    config.checkpoint_every_steps = 1000
    config.keep_checkpoints = 10
    config.checkpoint_every_minutes = 1e-9  # due after every step
    workdir = self.workdir()
    train.train_and_evaluate(config, workdir)
    saved = sorted(int(d) for d in os.listdir(os.path.join(
        workdir, "checkpoints")) if d.isdigit())
    self.assertEqual(saved, [1, 2, 3, 4])
    config.checkpoint_every_minutes = 0.0  # by steps only (and the end)
    workdir = self.workdir()
    train.train_and_evaluate(config, workdir)
    self.assertEqual([d for d in os.listdir(os.path.join(
        workdir, "checkpoints")) if d.isdigit()], ["4"])


class CtrlCTest(testdata.TinyBenchmarksTestCase):
  """The command line under Ctrl-C and SIGTERM, in a child process."""

  def _start(self, workdir):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.main",
         "--config=experiments/configs/mnist_lt/ce.py:100",
         f"--workdir={workdir}", f"--config.data.path={self.paths['mnist_lt']}",
         "--config.data.imbalance_ratio=4", "--config.data.val_per_class=2",
         "--config.batch_size=16", "--config.eval_batch_size=16",
         "--config.log_every_steps=1"],
        cwd=testdata.ROOT, env={k: v for k, v in testdata.subprocess_env(
            PYTHONUNBUFFERED="1").items() if k != "JAX_PLATFORMS"},
        text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

  def _wait_for_steps(self, proc, lines, step=3):
    for line in proc.stdout:
      lines.append(line)
      if f" step {step}/" in line:
        return
    self.fail("".join(lines[-30:]))

  def test_ctrl_c_saves_exits_3_and_the_run_resumes(self):
    workdir = self.workdir()
    proc, lines = self._start(workdir), []
    self._wait_for_steps(proc, lines)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    self.assertLess(time.monotonic() - start, 30)
    self.assertEqual(proc.returncode, train.EXIT_INTERRUPTED, out[-3000:])
    self.assertIn("stopped by SIGINT: a checkpoint of step", out)
    self.assertNotIn("Traceback", out)
    # Quiet logs: no backend probing, images named as images, one line
    # per evaluation (none ran yet).
    said = "".join(lines) + out
    self.assertNotIn("Unable to initialize backend", said)
    self.assertIn(" test images, 10 classes", said)
    self.assertNotIn("eval epoch", said)
    saved = [d for d in os.listdir(os.path.join(workdir, "checkpoints"))
             if d.isdigit()]
    self.assertLen(saved, 1)
    # Started again, it resumes there; a second Ctrl-C exits at once.
    proc, lines = self._start(workdir), []
    self._wait_for_steps(proc, lines, step=int(saved[0]) + 2)
    self.assertTrue(any(f"Resumed from the checkpoint at step {saved[0]}"
                        in line for line in lines), "".join(lines[-30:]))
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    self.assertNotIn("read_only", "".join(lines) + out)
    self.assertEqual(proc.returncode, train.EXIT_INTERRUPTED, out[-3000:])
    self.assertIn("stopped by SIGTERM", out)

  def test_a_second_ctrl_c_exits_at_once(self):
    # Two signals sent back to back merge into one pending signal, so the
    # handler is driven directly: the second SIGINT exits with 130 without
    # waiting for the checkpoint; a second SIGTERM only repeats the request.
    requests = _interrupt.StopRequests()
    with mock.patch.object(_interrupt.os, "_exit") as exit_now:
      requests._handle(signal.SIGTERM, None)  # pylint: disable=protected-access
      requests._handle(signal.SIGTERM, None)  # pylint: disable=protected-access
      exit_now.assert_not_called()
      requests._handle(signal.SIGINT, None)  # pylint: disable=protected-access
      exit_now.assert_called_once_with(130)
    requests.cancel()  # the grace timer the first SIGTERM started
    self.assertEqual(requests.requested, signal.SIGTERM)


class HungStopTest(absltest.TestCase):
  """SIGTERM stops a process that hangs: nothing progresses, so it exits
  when the grace period (`LTJAX_STOP_GRACE_SECONDS`) ends."""

  def test_sigterm_during_a_hang_exits_after_the_grace(self):
    code = ("import sys, time\n"
            "from ltjax.train import _interrupt\n"
            "with _interrupt.stop_requests():\n"
            "  print('ready', flush=True)\n"
            "  time.sleep(120)  # a hang: no progress\n")
    env = testdata.subprocess_env(LTJAX_STOP_GRACE_SECONDS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    self.assertEqual(proc.stdout.readline().strip(), "ready")
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    self.assertEqual(proc.returncode, _interrupt.EXIT_TERMINATED, out)
    self.assertLess(time.monotonic() - start, 30)
    self.assertIn("no progress for 1 s", out)

  def test_a_stop_in_time_cancels_the_timer(self):
    requests = _interrupt.StopRequests(grace=0.2)
    with mock.patch.object(_interrupt.os, "_exit") as exit_now:
      requests._handle(signal.SIGTERM, None)  # pylint: disable=protected-access
      requests.cancel()
      time.sleep(0.5)
      exit_now.assert_not_called()

  def test_progress_postpones_the_exit(self):
    requests = _interrupt.StopRequests(grace=0.6)
    with mock.patch.object(_interrupt.os, "_exit") as exit_now:
      requests._handle(signal.SIGTERM, None)  # pylint: disable=protected-access
      for _ in range(6):  # a stage still beating: 1.2 s > the grace
        time.sleep(0.2)
        _interrupt._watchdog.beat("a stage's epoch")  # pylint: disable=protected-access
      exit_now.assert_not_called()
      time.sleep(1.0)  # then silence: exits
      exit_now.assert_called_once_with(_interrupt.EXIT_TERMINATED)
    requests.cancel()

  def test_a_bad_grace_names_the_variable(self):
    with mock.patch.dict(os.environ, {"LTJAX_STOP_GRACE_SECONDS": "soon"}):
      with self.assertRaisesRegex(ValueError, "LTJAX_STOP_GRACE_SECONDS"):
        _interrupt.grace_seconds()


class TwoProcessStopTest(testdata.TinyBenchmarksTestCase):
  """A signal to one process of a 2-process run stops both at one step:
  two real processes (gloo on localhost) agree on the stop at a log step,
  save one checkpoint together and exit."""

  def test_sigterm_to_one_process_stops_both_at_the_same_step(self):
    import socket  # pylint: disable=g-import-not-at-top
    with socket.socket() as s:
      s.bind(("localhost", 0))
      port = s.getsockname()[1]
    workdir = self.workdir()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "experiments.main",
         "--config=experiments/configs/mnist_lt/ce.py:100",
         f"--workdir={workdir}", f"--config.data.path={self.paths['mnist_lt']}",
         "--config.data.imbalance_ratio=4", "--config.data.val_per_class=2",
         "--config.batch_size=16", "--config.eval_batch_size=16",
         "--config.log_every_steps=2", "--multihost",
         f"--coordinator_address=localhost:{port}", "--num_processes=2",
         f"--process_id={i}"],
        cwd=testdata.ROOT, env=testdata.subprocess_env(PYTHONUNBUFFERED="1"),
        text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for i in range(2)]
    lines = []
    for line in procs[1].stdout:
      lines.append(line)
      if " step 4/" in line:
        break
    else:
      self.fail("".join(lines[-30:]))
    procs[1].send_signal(signal.SIGTERM)  # process 1 only
    outs = [p.communicate(timeout=180)[0] for p in procs]
    for p, out in zip(procs, outs):
      self.assertEqual(p.returncode, train.EXIT_INTERRUPTED, out[-3000:])
    steps = [int(re.search(r"a checkpoint of step (\d+)", out)[1])
             for out in outs]
    self.assertEqual(steps[0], steps[1])
    self.assertEqual(steps[0] % 2, 0)  # stopped at a log step
    self.assertTrue(os.path.isdir(os.path.join(workdir, "checkpoints",
                                               str(steps[0]))))


if __name__ == "__main__":
  absltest.main()
