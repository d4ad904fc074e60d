"""SADE's test-time self-supervised aggregation of experts."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.experts import _aggregation


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _numpy_loss(z1, z2, w):
  """-mean cos(softmax(sum_e w_e z1_e), softmax(sum_e w_e z2_e))."""
  p = _softmax(np.einsum("e,enc->nc", w, z1))
  q = _softmax(np.einsum("e,enc->nc", w, z2))
  cos = (p * q).sum(-1) / (np.linalg.norm(p, axis=-1)
                           * np.linalg.norm(q, axis=-1))
  return -cos.mean()


def _stable_and_flipping(num=64, classes=5, seed=0):
  """Expert 0 predicts the same class in both views; expert 1 flips.

  Both are equally confident; expert 1's favourite class in view 2 is a
  different one than in view 1.
  """
  rng = np.random.default_rng(seed)
  y = rng.integers(0, classes, num)
  other = (y + 1 + rng.integers(0, classes - 1, num)) % classes
  onehot = lambda c: 4.0 * np.eye(classes)[c]  # pylint: disable=g-long-lambda
  noise = lambda: 0.1 * rng.standard_normal((num, classes))  # pylint: disable=g-long-lambda
  view1 = np.stack([onehot(y) + noise(), onehot(y) + noise()])
  view2 = np.stack([onehot(y) + noise(), onehot(other) + noise()])
  return view1.astype(np.float32), view2.astype(np.float32)


class AggregateTest(parameterized.TestCase):

  def test_weighted_sum(self):
    z = np.random.default_rng(0).normal(size=(3, 4, 5))
    w = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(_aggregation.aggregate(z, w),
                               np.einsum("e,enc->nc", w, z), rtol=1e-6)

  def test_bad_weights(self):
    with self.assertRaisesRegex(ValueError, "weights must have shape"):
      _aggregation.aggregate(np.zeros((3, 4, 5)), np.ones(2))


class LossTest(parameterized.TestCase):

  def test_matches_numpy(self):
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(2, 3, 8, 6))
    w = np.array([0.5, 0.3, 0.2])
    self.assertAlmostEqual(float(_aggregation.stability_loss(z1, z2, w)),
                           _numpy_loss(z1, z2, w), places=5)

  def test_identical_experts_flat_loss(self):
    rng = np.random.default_rng(2)
    z1, z2 = rng.normal(size=(2, 1, 16, 5))
    z1, z2 = np.repeat(z1, 3, axis=0), np.repeat(z2, 3, axis=0)
    loss = lambda a: _aggregation.stability_loss(z1, z2, jax.nn.softmax(a))  # pylint: disable=g-long-lambda
    grad = jax.grad(loss)(jnp.array([0.3, -1.0, 2.0]))
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)
    for w in ([1, 0, 0], [0.2, 0.2, 0.6]):
      self.assertAlmostEqual(
          float(_aggregation.stability_loss(z1, z2, np.array(w, float))),
          float(loss(jnp.zeros(3))), places=6)
    weights = _aggregation.fit_aggregation_weights(
        z1, z2, key=jax.random.PRNGKey(0), batch_size=4)
    np.testing.assert_allclose(weights, 1 / 3, atol=1e-6)

  def test_shape_mismatch(self):
    with self.assertRaisesRegex(ValueError, "same shape"):
      _aggregation.stability_loss(np.zeros((2, 3, 4)), np.zeros((2, 4, 4)),
                                  np.ones(2) / 2)
    with self.assertRaisesRegex(ValueError, r"\[E, N, C\]"):
      _aggregation.stability_loss(np.zeros((3, 4)), np.zeros((3, 4)),
                                  np.ones(3) / 3)


class FitTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2)
  def test_weights_on_simplex(self, seed):
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(4, 50, 7)).astype(np.float32) * 3
    z2 = z1 + rng.normal(size=z1.shape).astype(np.float32)
    w = np.asarray(_aggregation.fit_aggregation_weights(
        z1, z2, key=jax.random.PRNGKey(seed), batch_size=16, num_epochs=3,
        learning_rate=1.0))
    self.assertEqual(w.shape, (4,))
    self.assertTrue(np.all(w >= 0))
    self.assertAlmostEqual(float(w.sum()), 1.0, places=5)

  def test_stable_expert_gets_larger_weight(self):
    z1, z2 = _stable_and_flipping()
    w = np.asarray(_aggregation.fit_aggregation_weights(
        z1, z2, key=jax.random.PRNGKey(0), batch_size=16, num_epochs=5))
    self.assertGreater(w[0], w[1])
    # And the fitted weights lower the loss below uniform weights'.
    self.assertLess(_numpy_loss(z1, z2, w),
                    _numpy_loss(z1, z2, np.array([0.5, 0.5])))
    # The views swapped: the same preference.
    w_swapped = np.asarray(_aggregation.fit_aggregation_weights(
        np.stack([z1[1], z1[0]]), np.stack([z2[1], z2[0]]),
        key=jax.random.PRNGKey(0), batch_size=16))
    self.assertGreater(w_swapped[1], w_swapped[0])

  def test_early_stop_freezes_weights(self):
    # One long epoch drives the flipping expert's weight below 0.05; the
    # rule stops there, so more epochs change nothing.
    z1, z2 = _stable_and_flipping(num=256)
    fit = lambda epochs: np.asarray(_aggregation.fit_aggregation_weights(  # pylint: disable=g-long-lambda
        z1, z2, key=jax.random.PRNGKey(0), batch_size=8,
        learning_rate=5.0, num_epochs=epochs))
    once = fit(1)
    self.assertLess(round(float(once[1]), 2), 0.05)
    np.testing.assert_array_equal(fit(4), once)
    without = np.asarray(_aggregation.fit_aggregation_weights(
        z1, z2, key=jax.random.PRNGKey(0), batch_size=8, learning_rate=5.0,
        num_epochs=4, stop_below=0.0))
    self.assertFalse(np.array_equal(without, once))  # it kept training

  def test_masked_out_examples_do_not_count(self):
    z1, z2 = _stable_and_flipping(num=48)
    mask = np.arange(48) < 30
    rng = np.random.default_rng(5)
    other1, other2 = z1.copy(), z2.copy()
    other1[:, ~mask] = rng.normal(size=other1[:, ~mask].shape) * 5
    other2[:, ~mask] = rng.normal(size=other2[:, ~mask].shape) * 5
    fit = lambda a, b: np.asarray(_aggregation.fit_aggregation_weights(  # pylint: disable=g-long-lambda
        a, b, key=jax.random.PRNGKey(0), mask=mask, batch_size=8,
        learning_rate=1.0))
    np.testing.assert_array_equal(fit(z1, z2), fit(other1, other2))
    # And the masked fit still prefers the stable expert.
    self.assertGreater(fit(z1, z2)[0], 0.5)
    with self.assertRaisesRegex(ValueError, "selects no example"):
      _aggregation.fit_aggregation_weights(
          z1, z2, key=jax.random.PRNGKey(0), mask=np.zeros(48, bool))
    with self.assertRaisesRegex(ValueError, "mask must be bool"):
      _aggregation.fit_aggregation_weights(
          z1, z2, key=jax.random.PRNGKey(0), mask=np.ones(47, bool))

  def test_seeded(self):
    rng = np.random.default_rng(3)
    z1 = rng.normal(size=(3, 40, 5)).astype(np.float32) * 2
    z2 = z1 + rng.normal(size=z1.shape).astype(np.float32)
    fit = lambda k: np.asarray(_aggregation.fit_aggregation_weights(  # pylint: disable=g-long-lambda
        z1, z2, key=jax.random.PRNGKey(k), batch_size=7, learning_rate=1.0))
    np.testing.assert_array_equal(fit(0), fit(0))
    self.assertFalse(np.array_equal(fit(0), fit(1)))

  def test_jittable(self):
    z1, z2 = _stable_and_flipping(num=16)
    fit = jax.jit(lambda a, b, k: _aggregation.fit_aggregation_weights(  # pylint: disable=g-long-lambda
        a, b, key=k, batch_size=4, num_epochs=2))
    w = fit(z1, z2, jax.random.PRNGKey(0))
    self.assertEqual(w.shape, (2,))

  @parameterized.parameters(
      (dict(num_epochs=0), "num_epochs"),
      (dict(batch_size=2.5), "batch_size"),
      (dict(learning_rate=-1.0), "learning_rate"),
      (dict(momentum=1.0), "momentum"),
  )
  def test_bad_arguments(self, kwargs, message):
    z = np.zeros((2, 4, 3), np.float32)
    with self.assertRaisesRegex(ValueError, message):
      _aggregation.fit_aggregation_weights(z, z, key=jax.random.PRNGKey(0),
                                           **kwargs)


if __name__ == "__main__":
  absltest.main()
