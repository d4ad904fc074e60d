"""The progress line's rate and ETA, on a fake clock."""

from absl.testing import absltest

from ltjax.train import _report


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


if __name__ == "__main__":
  absltest.main()
