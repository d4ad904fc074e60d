"""Bins, smoothing windows and LDS weights against independent NumPy / scipy.

Expected values are written out here from the formulas of Yang et al. 2021
(and the reference code's use of scipy), never taken from ltjax's output.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage
from scipy import signal

from ltjax import regression


def _np_window(kernel, ks, sigma, parity):
  half = (ks - 1) // 2
  x = np.arange(-half, half + 1)
  if kernel == "gaussian" and parity:
    delta = np.zeros(ks)
    delta[half] = 1
    return ndimage.gaussian_filter1d(delta, sigma)  # the reference's call
  if kernel == "gaussian":
    return np.exp(-x**2 / (2 * sigma**2))
  if kernel == "triangular":
    return signal.windows.triang(ks)  # the reference's call
  return np.exp(-np.abs(x) / sigma) / (2 * sigma)


class BinsTest(absltest.TestCase):

  def test_edges_index_counts(self):
    edges = regression.bin_edges(0.0, 3.0, width=0.5)
    np.testing.assert_allclose(edges, [0, 0.5, 1, 1.5, 2, 2.5, 3])
    labels = np.array([-1.0, 0.0, 0.49, 0.5, 2.99, 3.0, 7.0, 1.25])
    np.testing.assert_array_equal(
        np.asarray(regression.bin_index(labels, edges)),
        [0, 0, 0, 1, 5, 5, 5, 2])
    np.testing.assert_array_equal(regression.bin_counts(labels, edges),
                                  [3, 1, 1, 0, 0, 3])

  def test_index_is_jittable_and_matches_host(self):
    edges = regression.bin_edges(0, 121, width=1)
    ages = np.random.default_rng(0).uniform(-5, 130, 1000).astype(np.float32)
    device = jax.jit(lambda y: regression.bin_index(y, edges))(ages)
    np.testing.assert_array_equal(
        device, np.clip(np.floor(ages), 0, 120).astype(int))

  def test_bad_edges(self):
    with self.assertRaisesRegex(ValueError, "whole number"):
      regression.bin_edges(0, 1, width=0.3)
    with self.assertRaisesRegex(ValueError, "exactly one"):
      regression.bin_edges(0, 1)
    with self.assertRaisesRegex(ValueError, "increasing"):
      regression.bin_index(jnp.zeros(3), np.array([0.0, 2.0, 1.0]))


class KernelTest(parameterized.TestCase):

  def test_true_and_parity_gaussian(self):
    true = regression.kernel_window("gaussian", ks=5, sigma=2)
    np.testing.assert_allclose(true, np.exp(-np.arange(-2, 3)**2 / 8))
    np.testing.assert_allclose(true[:3], [0.607, 0.882, 1.0], atol=1e-3)
    parity = regression.kernel_window("gaussian", ks=5, sigma=2,
                                      scipy_parity=True)
    np.testing.assert_allclose(parity, [0.858, 0.946, 1, 0.946, 0.858],
                               atol=1e-3)

  @parameterized.product(
      kernel=("gaussian", "triangular", "laplace"), parity=(False, True),
      normalize=("peak", "sum"))
  def test_against_numpy_and_scipy(self, kernel, parity, normalize):
    expected = _np_window(kernel, 5, 2.0, parity)
    expected = expected / (expected.max() if normalize == "peak"
                           else expected.sum())
    got = regression.kernel_window(kernel, ks=5, sigma=2.0,
                                   normalize=normalize, scipy_parity=parity)
    np.testing.assert_allclose(got, expected, rtol=1e-6)

  @parameterized.parameters((3, 0.5), (7, 1.0), (9, 3.0))
  def test_parity_window_other_sizes(self, ks, sigma):
    delta = np.zeros(ks)
    delta[ks // 2] = 1
    expected = ndimage.gaussian_filter1d(delta, sigma)
    np.testing.assert_allclose(
        regression.kernel_window("gaussian", ks=ks, sigma=sigma,
                                 normalize="sum", scipy_parity=True),
        expected / expected.sum(), rtol=1e-6)

  def test_bad_kernel(self):
    with self.assertRaisesRegex(ValueError, "odd"):
      regression.kernel_window("gaussian", ks=4)
    with self.assertRaisesRegex(ValueError, "kernel"):
      regression.kernel_window("box")


def _reference_weights(labels, reweight, parity, kernel="gaussian", ks=5,
                       sigma=2.0, max_target=30):
  """The reference's `_prepare_weights`, written out in NumPy / scipy."""
  value = np.zeros(max_target)
  for label in labels:
    value[min(max_target - 1, int(label))] += 1
  if reweight == "sqrt_inv":
    value = np.sqrt(value)
  else:
    value = np.clip(value, 5, 1000)
    if parity:
      value = value.astype(np.int64)  # the reference's integer dict values
  window = _np_window(kernel, ks, sigma, parity)
  window = window / window.max()
  if parity:
    smoothed = ndimage.convolve1d(value, weights=window, mode="constant")
  else:
    padded = np.pad(value.astype(float), ks // 2)
    smoothed = np.array([np.sum(window * padded[k:k + ks])
                         for k in range(max_target)])
  per_label = np.array([smoothed[min(max_target - 1, int(l))]
                        for l in labels], float)
  weights = 1.0 / per_label
  return weights * len(weights) / weights.sum()


class LdsTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    # A skewed integer target over 0..29 with empty bins at both ends.
    self.labels = np.clip(np.round(rng.gamma(4.0, 2.0, 600)), 2, 27)
    self.edges = regression.bin_edges(0, 30, width=1)

  @parameterized.product(reweight=("sqrt_inv", "inverse"),
                         parity=(False, True),
                         kernel=("gaussian", "laplace", "triangular"))
  def test_weights_match_reference_formula(self, reweight, parity, kernel):
    got = regression.lds_weights(self.labels, bins=self.edges,
                                 reweight=reweight, scipy_parity=parity,
                                 kernel=kernel)
    expected = _reference_weights(self.labels, reweight, parity, kernel)
    np.testing.assert_allclose(got, expected, rtol=2e-6)
    self.assertAlmostEqual(float(np.mean(got)), 1.0, places=5)

  def test_inverse_float_differs_from_truncated(self):
    args = dict(bins=self.edges, reweight="inverse")
    exact = regression.smoothed_label_density(self.labels, **args)
    truncated = regression.smoothed_label_density(self.labels,
                                                  scipy_parity=True, **args)
    self.assertFalse(np.allclose(exact, np.round(exact)))
    np.testing.assert_array_equal(truncated, np.trunc(truncated))

  def test_without_smoothing(self):
    counts = np.bincount(self.labels.astype(int), minlength=30)
    w = regression.lds_weights(self.labels, bins=self.edges, lds=False)
    expected = 1 / np.sqrt(counts[self.labels.astype(int)])
    np.testing.assert_allclose(w, expected * len(w) / expected.sum(),
                               rtol=1e-6)
    density = regression.smoothed_label_density(
        self.labels, bins=self.edges, reweight="inverse", lds=False)
    np.testing.assert_array_equal(density, np.clip(counts, 5, 1000))

  def test_float_labels_and_bin_weights(self):
    labels = self.labels / 10.0 + 0.03  # float targets in [0.23, 2.73]
    edges = regression.bin_edges(0, 3, num_bins=30)
    np.testing.assert_allclose(
        regression.lds_weights(labels, bins=edges),
        regression.lds_weights(self.labels, bins=self.edges), rtol=1e-6)
    per_bin = regression.lds_bin_weights(labels, bins=edges)
    self.assertEqual(per_bin.shape, (30,))
    self.assertTrue(np.all(np.isfinite(per_bin)))


if __name__ == "__main__":
  absltest.main()
