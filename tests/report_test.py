"""The progress line's rate and ETA, on a fake clock; what a script shows."""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap

from absl.testing import absltest

from ltjax import _console
from ltjax.train import _report
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
  return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                        cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=300)


class FakeClock:

  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


class ProgressTest(absltest.TestCase):

  def test_rate_excludes_pauses_and_eta_includes_them(self):
    clock = FakeClock()
    progress = _report.Progress(100, 10, 0, clock=clock)
    clock.now = 10.0  # 20 steps in 10 s
    line = progress.line(20, {"loss": 0.5, "accuracy": 0.25, "lr": 0.1})
    self.assertEqual(
        line, "step 20/100 epoch 2.00 loss 0.5000 accuracy 0.25 lr 0.1 "
        "2.00 steps/s ETA 0m40s")
    # 20 more steps in 10 s of training plus a 5 s evaluation.
    progress.pause(5.0)
    clock.now = 25.0
    line = progress.line(40, {"loss": 0.25})
    # steps/s: 20 steps / (15 s - 5 s paused); ETA: 60 steps at the average
    # wall rate 40 / 25 s, evaluations included = 37.5 s.
    self.assertTrue(line.endswith("2.00 steps/s ETA 0m37s"), line)
    # A pause counts once: the next interval is plain again.
    clock.now = 30.0
    self.assertIn(" 4.00 steps/s", progress.line(60, {}))

  def test_resumed_run_counts_from_its_first_step(self):
    clock = FakeClock()
    progress = _report.Progress(1000, 100, 500, clock=clock)
    clock.now = 50.0  # 100 steps since the resume
    line = progress.line(600, {})
    self.assertTrue(line.endswith("2.00 steps/s ETA 3m20s"), line)

  def test_duration(self):
    self.assertEqual(_report.duration(4000), "1h06m")
    self.assertEqual(_report.duration(75), "1m15s")
    self.assertEqual(_report.duration(float("inf")), "?")


class ConsoleTest(absltest.TestCase):

  def test_summary_is_rounded(self):
    self.assertEqual(
        _console.summary({"top1": 0.450300008058548, "few": float("nan"),
                          "medium": None, "count_many": 3,
                          "per_class": [0.1, 0.2]}),
        "top1 0.4503 few nan medium nan count_many 3")
    self.assertEqual(_console.summary(None), "none")

  def test_ltjax_lines_are_shown_outside_absl_app(self):
    result = run_python("""
        from absl import logging
        from ltjax.train import _driver
        from ltjax.train import _report

        class NoWriter:
          def scalars(self, step, values): pass
          def flush(self): pass

        _report.quiet_library_logs()
        _driver.log_evaluation(NoWriter(), {
            "epoch": 1.0, "step": 10, "val": {"top1": 0.123456789},
            "test": {"top1": 0.5, "balanced": None}})
        logging.info("INFO of another library")
        logging.warning("a warning")
        """)
    self.assertEqual(result.returncode, 0, result.stderr)
    # One line per evaluation.
    self.assertRegex(result.stdout,
                     r"\d\d:\d\d:\d\d eval epoch 1.00 val: top1 0.1235 \| "
                     r"test: top1 0.5000 balanced nan\n")
    self.assertIn("a warning", result.stdout)
    self.assertNotIn("another library", result.stdout + result.stderr)

  def test_absl_app_and_configured_logging_decide_for_themselves(self):
    under_app = run_python("""
        from absl import app
        from ltjax import _console
        app.run(lambda argv: print("shown:", _console.show_progress()))
        """)
    self.assertIn("shown: False", under_app.stdout, under_app.stderr)
    configured = run_python("""
        import logging
        logging.basicConfig(level=logging.INFO)
        from ltjax import _console
        print("shown:", _console.show_progress())
        """)
    self.assertIn("shown: False", configured.stdout, configured.stderr)

  def test_a_script_shows_progress_and_a_rounded_summary(self):
    with tempfile.TemporaryDirectory() as tmp:
      path = testdata.write_tiny_benchmarks(tmp)["mnist_lt"]
      result = run_python(f"""
          from experiments.configs import common
          from ltjax import train

          config = common.build("mnist_lt", "ce", "1")
          config.data.path = {path!r}
          config.data.imbalance_ratio = 4.0
          config.data.val_per_class = 2
          config.batch_size = config.eval_batch_size = 16
          config.log_every_steps = 2
          train.train_and_evaluate(config, {os.path.join(tmp, "run")!r})
          """)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertRegex(result.stdout, r"step 2/\d+ epoch [\d.]+ loss ")
    final = re.search(r"final test: (.*)", result.stdout)
    self.assertIsNotNone(final, result.stdout)
    self.assertRegex(final[1], r"^top1 \d\.\d{4} balanced ")
    self.assertNotRegex(final[1], r"\d\.\d{5}|\{")


if __name__ == "__main__":
  absltest.main()
