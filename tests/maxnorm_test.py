"""Tests for ltjax.posthoc.max_norm and relative_max_norm_threshold.

Expected values come from the original's `MaxNorm_via_PGD` written out in
NumPy on the PyTorch layout (weight [C, D], one row per class).
"""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import posthoc


def _kernel(seed=0, dim=6, scales=(0.2, 0.7, 1.5, 3.0, 5.0)):
  rng = np.random.default_rng(seed)
  return (rng.standard_normal((dim, len(scales)))
          * np.asarray(scales)).astype(np.float32)


def _numpy_threshold(weight_cd, position):
  """`setPerLayerThresh`: min + thresh * (max - min) of the row norms."""
  norms = np.linalg.norm(weight_cd.astype(np.float64), axis=1)
  return norms.min() + position * (norms.max() - norms.min())


def _numpy_pgd(weight_cd, threshold):
  """`PGD` with LpNorm=2, tau=1: rows with norm > t scaled by t / norm."""
  w = weight_cd.astype(np.float64).copy()
  norms = np.linalg.norm(w, axis=1)
  idx = norms > threshold
  w[idx] = w[idx] * (threshold / norms[idx])[:, None]
  return w


class MaxNormTest(absltest.TestCase):

  def test_matches_numpy_original(self):
    kernel = _kernel()
    for t in (0.5, 1.0, 2.5, 100.0):
      np.testing.assert_allclose(
          posthoc.max_norm(kernel, threshold=t),
          _numpy_pgd(kernel.T, t).T, rtol=1e-6, atol=1e-7)

  def test_projected_norms_equal_threshold_and_inside_untouched(self):
    kernel = _kernel(1)
    t = 1.3
    norms = np.linalg.norm(kernel, axis=0)
    self.assertTrue((norms > t).any() and (norms <= t).any())
    out = np.asarray(posthoc.max_norm(kernel, threshold=t))
    np.testing.assert_allclose(np.linalg.norm(out[:, norms > t], axis=0), t,
                               rtol=1e-6)
    np.testing.assert_array_equal(out[:, norms <= t], kernel[:, norms <= t])
    # Projection keeps each column's direction.
    cos = np.sum(out * kernel, 0) / (np.linalg.norm(out, axis=0) * norms)
    np.testing.assert_allclose(cos, 1.0, rtol=1e-6)

  def test_column_exactly_on_the_sphere_is_untouched(self):
    kernel = np.zeros((3, 2), np.float32)
    kernel[:, 0] = [3.0, 4.0, 0.0]  # norm 5
    kernel[:, 1] = [6.0, 8.0, 0.0]  # norm 10
    out = np.asarray(posthoc.max_norm(kernel, threshold=5.0))
    np.testing.assert_array_equal(out[:, 0], kernel[:, 0])
    np.testing.assert_allclose(out[:, 1], [3.0, 4.0, 0.0], rtol=1e-6)

  def test_idempotent(self):
    kernel = _kernel(2)
    t = float(posthoc.relative_max_norm_threshold(kernel, position=0.3))
    once = posthoc.max_norm(kernel, threshold=t)
    twice = posthoc.max_norm(once, threshold=t)
    np.testing.assert_allclose(twice, once, rtol=1e-6, atol=0)

  def test_jit_with_traced_threshold_and_zero_columns(self):
    kernel = _kernel(3)
    kernel[:, 0] = 0.0
    fn = jax.jit(lambda k, t: posthoc.max_norm(k, threshold=t))
    out = np.asarray(fn(kernel, jnp.float32(1.0)))
    np.testing.assert_allclose(out, _numpy_pgd(kernel.T, 1.0).T, rtol=1e-6,
                               atol=1e-7)
    self.assertTrue(np.all(np.isfinite(out)))
    grad = jax.grad(lambda k: jnp.sum(posthoc.max_norm(k, threshold=1.0)))(
        jnp.asarray(kernel))
    self.assertTrue(np.all(np.isfinite(grad)))

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "threshold"):
      posthoc.max_norm(_kernel(), threshold=-1.0)
    with self.assertRaisesRegex(ValueError, "kernel"):
      posthoc.max_norm(np.ones(4, np.float32), threshold=1.0)


class RelativeThresholdTest(absltest.TestCase):

  def test_matches_numpy_original(self):
    kernel = _kernel(4)
    for p in (0.0, 0.1, 0.5, 1.0):
      np.testing.assert_allclose(
          posthoc.relative_max_norm_threshold(kernel, position=p),
          _numpy_threshold(kernel.T, p), rtol=1e-6)

  def test_default_position_and_jit(self):
    kernel = _kernel(5)
    np.testing.assert_allclose(
        jax.jit(posthoc.relative_max_norm_threshold)(kernel),
        _numpy_threshold(kernel.T, 0.1), rtol=1e-6)

  def test_extremes(self):
    kernel = _kernel(6)
    norms = np.linalg.norm(kernel, axis=0)
    # position 1: nothing is outside; position 0: every norm is the minimum.
    top = posthoc.relative_max_norm_threshold(kernel, position=1.0)
    np.testing.assert_allclose(posthoc.max_norm(kernel, threshold=top),
                               kernel, rtol=1e-6)
    low = posthoc.relative_max_norm_threshold(kernel, position=0.0)
    np.testing.assert_allclose(
        np.linalg.norm(posthoc.max_norm(kernel, threshold=low), axis=0),
        norms.min(), rtol=1e-5)

  def test_bad_position(self):
    for p in (-0.1, 1.5):
      with self.assertRaisesRegex(ValueError, "position"):
        posthoc.relative_max_norm_threshold(_kernel(), position=p)


if __name__ == "__main__":
  absltest.main()
