"""The best-validation rule with `config.select_window` (small tables)."""

from absl.testing import absltest
import numpy as np

from ltjax import train


def _history(values, metric="balanced"):
  return [{"step": 10 * (i + 1), "epoch": i + 1, "val": {metric: v},
           "test": {metric: v}} for i, v in enumerate(values)]


class SelectWindowTest(absltest.TestCase):

  def test_window_one_is_the_best_single_evaluation(self):
    history = _history([0.9, 0.5, 0.8, 0.85, 0.86])
    self.assertEqual(train.best_record(history, "balanced")["epoch"], 1)

  def test_a_window_scores_the_centred_mean(self):
    values = [0.9, 0.5, 0.8, 0.85, 0.86]
    history = _history(values)
    for window in (2, 3, 4, 5):
      half = window // 2
      scores = [np.mean(values[max(0, i - half):i + window - half])
                for i in range(len(values))]
      self.assertEqual(
          train.best_record(history, "balanced", window=window)["epoch"],
          int(np.argmax(scores)) + 1, window)
    # Lower is better for errors; records without a value are skipped.
    history = _history([3.0, None, 2.0, 2.2, 5.0], "mae_all")
    self.assertEqual(train.best_record(history, "mae_all", mode="min",
                                       window=3)["epoch"], 3)


if __name__ == "__main__":
  absltest.main()
