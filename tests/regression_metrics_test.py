"""Regression metrics: per-example group means, empty groups, merging."""

import json

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from ltjax import regression
from ltjax.train import _report


class MetricsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.edges = regression.bin_edges(0, 4, width=1)
    # Training counts per bin: 150 (many), 150 (many), 50 (medium), 0 (few).
    self.train_counts = np.array([150, 150, 50, 0])
    self.targets = np.array([0.5, 0.5, 0.5, 1.2, 2.5, 2.9], np.float32)
    self.preds = np.array([1.0, 0.0, 0.7, 3.2, 2.0, 3.0], np.float32)

  def _sums(self, preds, targets, mask=None):
    return regression.RegressionSums.from_predictions(
        preds, targets, edges=self.edges, mask=mask)

  def test_groups_are_per_example_means_and_empty_few_is_nan(self):
    summary = regression.regression_summary(
        self._sums(self.preds, self.targets), self.train_counts)
    err = np.abs(self.preds.astype(np.float64) - self.targets)
    many, medium = err[:4], err[4:]
    # Per example, not per bin: bin 0 has 3 examples, bin 1 has 1.
    self.assertAlmostEqual(summary["mae_many"], many.mean(), places=5)
    self.assertAlmostEqual(summary["mse_many"], (many**2).mean(), places=4)
    self.assertAlmostEqual(summary["gm_many"], stats.gmean(many), places=5)
    self.assertAlmostEqual(summary["mae_medium"], medium.mean(), places=5)
    self.assertAlmostEqual(summary["mae_all"], err.mean(), places=5)
    self.assertAlmostEqual(summary["gm_all"], stats.gmean(err), places=5)
    self.assertEqual(summary["count_few"], 0)
    for metric in ("mae", "mse", "gm"):
      self.assertTrue(np.isnan(summary[f"{metric}_few"]))
    # Written as null, so the files stay strict JSON.
    strict = _report._strict(summary)  # pylint: disable=protected-access
    text = json.dumps(strict, allow_nan=False)
    self.assertIsNone(json.loads(text)["mae_few"])

  def test_merge_and_mask_and_jit(self):
    whole = self._sums(self.preds, self.targets)
    step = jax.jit(lambda p, t, m: self._sums(p, t, m))
    padded_p = np.concatenate([self.preds, [100.0, -50.0]]).astype(np.float32)
    padded_t = np.concatenate([self.targets, [0.5, 3.5]]).astype(np.float32)
    mask = np.arange(8) < 6
    merged = (step(padded_p[:4], padded_t[:4], mask[:4])
              + step(padded_p[4:], padded_t[4:], mask[4:]))
    for x, y in zip(jax.tree.leaves(whole), jax.tree.leaves(merged)):
      np.testing.assert_allclose(x, y, rtol=1e-6)

  def test_zero_error_gives_zero_gm_like_scipy(self):
    summary = regression.regression_summary(
        self._sums(np.array([1.0, 2.0], np.float32),
                   np.array([1.0, 2.5], np.float32)), self.train_counts)
    self.assertEqual(summary["gm_all"], 0.0)
    self.assertAlmostEqual(summary["mae_all"], 0.25)

  def test_error_curve(self):
    curve = regression.per_bin_errors(self._sums(self.preds, self.targets))
    np.testing.assert_allclose(curve["count"], [3, 1, 2, 0])
    np.testing.assert_allclose(curve["mae"][:3], [0.4, 2.0, 0.3], rtol=1e-5)
    np.testing.assert_allclose(curve["mean_error"][:3],
                               [(0.5 - 0.5 + 0.2) / 3, 2.0, -0.2], atol=1e-6)
    self.assertTrue(np.isnan(curve["mae"][3]))

  def test_nothing_evaluated(self):
    summary = regression.regression_summary(
        regression.RegressionSums.empty(4), self.train_counts)
    self.assertTrue(all(np.isnan(v) for k, v in summary.items()
                        if not k.startswith("count")))
    with self.assertRaisesRegex(ValueError, "bins"):
      regression.regression_summary(regression.RegressionSums.empty(3),
                                    self.train_counts)


if __name__ == "__main__":
  absltest.main()
