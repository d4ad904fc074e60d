"""Tests for SMOGN re-sampling (`ltjax.regression.smogn`).

Expected values come from the rules written out here: the relevance from a
NumPy convolution of the histogram, synthetic examples on the segment from
their seed to their neighbour (features and target with the same fraction)
or within a few noise standard deviations of their seed.
"""

import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from ltjax import regression
from ltjax import train
from regression_ranksim_test import tiny_abalone_config

EDGES = np.arange(1.0, 31.0)


def skewed(n=400, seed=0):
  rng = np.random.default_rng(seed)
  y = np.clip(np.round(rng.gamma(4.0, 2.0, n)), 1, 29)
  x = np.stack([y / 10 + rng.normal(0, 0.3, n), rng.normal(0, 1, n),
                rng.uniform(0, 1, n)], axis=1)
  return x.astype(np.float32), y.astype(np.float32)


class RelevanceTest(absltest.TestCase):

  def test_one_minus_smoothed_density_over_its_max(self):
    _, y = skewed()
    counts = np.bincount(y.astype(int) - 1, minlength=29).astype(float)
    window = np.exp(-np.arange(-2, 3) ** 2 / (2 * 2.0 ** 2))
    density = np.convolve(counts, window, mode="same")
    expected = 1 - density / density.max()
    phi = regression.relevance(y, edges=EDGES, kernel="gaussian", ks=5,
                               sigma=2.0)
    np.testing.assert_allclose(phi, expected[y.astype(int) - 1], atol=1e-12)


class SmognTest(parameterized.TestCase):

  def run_smogn(self, key=0, **kwargs):
    x, y = skewed()
    out = regression.smogn(x, y, jax.random.key(key), edges=EDGES,
                           return_info=True, **kwargs)
    return x, y, out

  def test_rare_grow_and_normal_shrink(self):
    x, y, (new_x, new_y, info) = self.run_smogn()
    phi = regression.relevance(y, edges=EDGES)
    rare_before = int(np.sum(phi >= 0.5))
    self.assertGreater(rare_before, 0)
    self.assertLess(rare_before, len(y) / 2)
    rare = info["rare"]
    self.assertEqual(int(rare.sum()), rare_before)
    kept = info["kept"]
    # Every rare original is kept; normal ones are under-sampled.
    self.assertContainsSubset(np.flatnonzero(rare).tolist(), kept.tolist())
    self.assertLess(int(np.sum(~rare[kept])), int(np.sum(~rare)))
    synthetic = new_y[len(kept):]
    self.assertNotEmpty(synthetic)
    np.testing.assert_array_equal(new_x[:len(kept)], x[kept])
    np.testing.assert_array_equal(new_y[:len(kept)], y[kept])
    # Synthetic examples come from rare seeds: the rare share grows.
    self.assertTrue(np.all(rare[info["seeds"]]))
    self.assertGreater(len(synthetic) + rare_before - 0.0,
                       1.5 * rare_before)
    self.assertEqual(new_x.shape[1], x.shape[1])
    self.assertEqual(new_x.dtype, np.float32)

  def test_synthetic_examples_interpolate_or_perturb_their_seed(self):
    x, y, (new_x, new_y, info) = self.run_smogn(perturbation=0.02)
    n = len(info["kept"])
    sx, sy = new_x[n:].astype(np.float64), new_y[n:].astype(np.float64)
    seed_x, seed_y = x[info["seeds"]], y[info["seeds"]]
    nn_x, nn_y = x[info["partners"]], y[info["partners"]]
    interp = info["interpolated"]
    self.assertTrue(np.any(interp))
    # SMOTER: one fraction u in [0, 1] for the features and the target.
    dx, span = sx - seed_x, nn_x - seed_x
    big = np.argmax(np.abs(span), axis=1)
    rows = np.arange(len(sx))
    u = dx[rows, big] / np.where(span[rows, big] == 0, 1, span[rows, big])
    u = u[interp]
    self.assertTrue(np.all((u >= -1e-5) & (u <= 1 + 1e-5)))
    np.testing.assert_allclose(dx[interp], u[:, None] * span[interp],
                               atol=1e-5)
    np.testing.assert_allclose(sy[interp] - seed_y[interp],
                               u * (nn_y[interp] - seed_y[interp]),
                               atol=1e-4)
    # Noise: at most 6 standard deviations (of the whole set, >= the
    # bump's) times the perturbation from the seed.
    noisy = ~interp
    bound = 6 * 0.02 * x.std(axis=0) + 1e-6
    self.assertTrue(np.all(np.abs(sx[noisy] - seed_x[noisy]) <= bound))
    self.assertTrue(np.all(np.abs(sy[noisy] - seed_y[noisy])
                           <= 6 * 0.02 * y.std() + 1e-6))
    # Targets stay in the training range.
    self.assertTrue(np.all((sy >= y.min()) & (sy <= y.max())))

  def test_deterministic_per_key(self):
    _, _, (a_x, a_y, _) = self.run_smogn(key=3)
    _, _, (b_x, b_y, _) = self.run_smogn(key=3)
    _, _, (c_x, _, _) = self.run_smogn(key=4)
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    self.assertFalse(a_x.shape == c_x.shape and np.array_equal(a_x, c_x))

  def test_no_under_sampling_keeps_everything(self):
    x, _, (_, _, info) = self.run_smogn(under_sample=False)
    np.testing.assert_array_equal(info["kept"], np.arange(len(x)))

  @parameterized.parameters(("relevance_threshold", 0.0),
                            ("k", 0), ("perturbation", 1.5),
                            ("sampling", "most"))
  def test_bad_arguments(self, name, value):
    x, y = skewed(50)
    with self.assertRaisesRegex(ValueError, name):
      regression.smogn(x, y, jax.random.key(0), edges=EDGES, **{name: value})


class ResampledRunTest(absltest.TestCase):

  def test_run_trains_on_resampled_data_with_original_groups(self):
    with tempfile.TemporaryDirectory() as tmp:
      config = tiny_abalone_config(tmp, "smogn", "1", rows=150)
      dataset = regression.load_regression_dataset(config.data)
      # The engine re-samples (Task.prepare_data) before sizing the run.
      run = train.build_run(config, dataset)
      resampled = run.dataset
      self.assertIsInstance(resampled, regression.ResampledDataset)
      self.assertIs(resampled.original_train, dataset.train)
      info = resampled.metadata["resample"]
      self.assertGreater(info["synthetic"], 0)
      self.assertEqual(info["train_before"], len(dataset.train))
      self.assertEqual(info["train_after"], len(resampled.train))
      np.testing.assert_array_equal(
          run.task.train_bin_counts,
          regression.bin_counts(dataset.train.targets, run.task.edges))
      # Applying it again changes nothing.
      self.assertIs(regression.resample_dataset(config, resampled), resampled)
      state = run.init_state()
      state, metrics = run.train_step(
          state, train.train_batch(run, 0, run.task.epoch_plan(0)))
      self.assertTrue(np.isfinite(float(metrics["loss"])))

  def test_images_are_refused_at_start_up(self):
    config = regression.build_config("agedb_dir", "vanilla")
    config.resample.name = "smogn"
    with self.assertRaisesRegex(ValueError, "resample.name"):
      regression.validate_config(config, check_data=False)


if __name__ == "__main__":
  absltest.main()
