"""Regression losses against their formulas written out in NumPy."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import regression


def _data(seed=0, n=12):
  rng = np.random.default_rng(seed)
  pred = rng.normal(10, 4, n).astype(np.float32)
  target = rng.normal(10, 4, n).astype(np.float32)
  weights = rng.uniform(0.2, 3, n).astype(np.float32)
  return pred, target, weights


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


class LossTest(parameterized.TestCase):

  def test_weighted_l1_and_mse(self):
    p, t, w = _data()
    e = p.astype(np.float64) - t
    np.testing.assert_allclose(
        regression.weighted_l1_loss(p, t, weights=w), w * np.abs(e),
        rtol=1e-5)
    np.testing.assert_allclose(
        regression.weighted_mse_loss(p, t, weights=w), w * e**2, rtol=1e-5)
    np.testing.assert_allclose(regression.weighted_l1_loss(p, t), np.abs(e),
                               rtol=1e-5)

  @parameterized.product(activation=("sigmoid", "tanh"),
                         beta=(0.2, 1.0), gamma=(1.0, 2.0))
  def test_focal_r(self, activation, beta, gamma):
    p, t, w = _data(1)
    a = np.abs(p.astype(np.float64) - t)
    factor = (np.tanh(beta * a) if activation == "tanh"
              else 2 * _sigmoid(beta * a) - 1) ** gamma
    kwargs = dict(weights=w, activation=activation, beta=beta, gamma=gamma)
    np.testing.assert_allclose(regression.focal_l1_loss(p, t, **kwargs),
                               w * a * factor, rtol=1e-5)
    np.testing.assert_allclose(regression.focal_mse_loss(p, t, **kwargs),
                               w * a**2 * factor, rtol=1e-5)

  def test_focal_r_defaults(self):
    p, t, _ = _data(2)
    a = np.abs(p.astype(np.float64) - t)
    np.testing.assert_allclose(regression.focal_l1_loss(p, t),
                               a * (2 * _sigmoid(0.2 * a) - 1), rtol=1e-5)

  @parameterized.parameters(0.5, 1.0, 3.0)
  def test_huber(self, beta):
    p, t, w = _data(3)
    a = np.abs(p.astype(np.float64) - t)
    expected = np.where(a < beta, 0.5 * a**2 / beta, a - 0.5 * beta)
    np.testing.assert_allclose(
        regression.huber_loss(p, t, weights=w, beta=beta), w * expected,
        rtol=1e-5)

  @parameterized.parameters(0.5, 1.0, 4.0)
  def test_bmc(self, sigma):
    p, t, _ = _data(4)
    logits = -(p[:, None].astype(np.float64) - t[None, :]) ** 2 / (
        2 * sigma**2)
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True))
                                  .sum(1, keepdims=True)) - logits.max(
                                      1, keepdims=True)
    expected = -np.diag(log_softmax) * 2 * sigma**2
    np.testing.assert_allclose(regression.bmc_loss(p, t, noise_sigma=sigma),
                               expected, rtol=1e-4)

  def test_bmc_scale_is_constant_for_sigma(self):
    # d/d sigma only flows through the softmax: the 2 sigma^2 factor is
    # held constant, as the reference's `.detach()`.
    p, t, _ = _data(5)

    def loss(sigma, scale_grad):
      var = sigma**2
      logits = -(p[:, None] - t[None, :]) ** 2 / (2 * var)
      ce = jax.nn.logsumexp(logits, -1) - jnp.diagonal(logits)
      scale = 2 * var if scale_grad else jax.lax.stop_gradient(2 * var)
      return jnp.mean(ce * scale)

    got = jax.grad(lambda s: jnp.mean(regression.bmc_loss(
        p, t, noise_sigma=s)))(1.5)
    np.testing.assert_allclose(got, jax.grad(loss)(1.5, False), rtol=1e-5)
    self.assertGreater(abs(float(jax.grad(loss)(1.5, True) - got)), 1e-3)

  def test_bni(self):
    p, t, _ = _data(6)
    centers = np.arange(0.5, 20.5, 1.0)
    prior = np.random.default_rng(6).uniform(0, 1, 20)
    prior[3] = 0.0
    prior /= prior.sum()
    sigma = 1.3
    var = sigma**2
    e = p.astype(np.float64) - t
    terms = np.log(np.where(prior > 0, prior, 1))[None] - (
        p[:, None].astype(np.float64) - centers[None]) ** 2 / (2 * var)
    terms = np.where(prior[None] > 0, terms, -np.inf)
    m = terms.max(1, keepdims=True)
    balancing = (m + np.log(np.exp(terms - m).sum(1, keepdims=True)))[:, 0]
    expected = (e**2 / (2 * var) + balancing) * 2 * var
    np.testing.assert_allclose(
        regression.bni_loss(p, t, noise_sigma=sigma, bin_centers=centers,
                            bin_weights=prior), expected, rtol=1e-4)

  def test_gai(self):
    p, t, _ = _data(7)
    means = np.array([5.0, 10.0, 16.0])
    variances = np.array([1.0, 4.0, 2.5])
    weights = np.array([0.2, 0.5, 0.3])
    sigma = 0.8
    var = sigma**2
    e = p.astype(np.float64) - t
    total = variances[None] + var
    terms = (-0.5 * np.log(total) - 0.5 * (p[:, None] - means[None]) ** 2
             / total + np.log(weights)[None])
    m = terms.max(1, keepdims=True)
    balancing = (m + np.log(np.exp(terms - m).sum(1, keepdims=True)))[:, 0]
    expected = (e**2 / (2 * var) + 0.5 * np.log(var) + balancing) * 2 * var
    np.testing.assert_allclose(
        regression.gai_loss(p, t, noise_sigma=sigma, gmm_means=means,
                            gmm_variances=variances, gmm_weights=weights),
        expected, rtol=1e-4)

  def test_fit_label_gmm_recovers_two_modes(self):
    rng = np.random.default_rng(8)
    labels = np.concatenate([rng.normal(10, 1, 3000), rng.normal(30, 2, 1000)])
    gmm = regression.fit_label_gmm(labels, num_components=2, seed=0)
    order = np.argsort(gmm["means"])
    np.testing.assert_allclose(gmm["means"][order], [10, 30], atol=0.2)
    np.testing.assert_allclose(gmm["variances"][order], [1, 4], rtol=0.15)
    np.testing.assert_allclose(gmm["weights"][order], [0.75, 0.25],
                               atol=0.02)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "same shape"):
      regression.weighted_l1_loss(jnp.zeros((4, 1)), jnp.zeros(4))
    with self.assertRaisesRegex(ValueError, "activation"):
      regression.focal_l1_loss(jnp.zeros(4), jnp.zeros(4), activation="relu")
    with self.assertRaisesRegex(ValueError, "beta"):
      regression.huber_loss(jnp.zeros(4), jnp.zeros(4), beta=0.0)
    with self.assertRaisesRegex(ValueError, "noise_sigma"):
      regression.bmc_loss(jnp.zeros(4), jnp.zeros(4), noise_sigma=0.0)



class IsolatedLabelTest(parameterized.TestCase):
  """63 targets near 85 and one at 5 in a batch, sigma = 2.8."""

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.targets = np.concatenate([85 + rng.normal(0, 1, 63),
                                   [5.0]]).astype(np.float32)
    # A training label distribution over [0, 99] with its mode near 85.
    self.train = np.concatenate([rng.uniform(0, 99, 300),
                                 85 + rng.normal(0, 3, 2000)])
    self.edges = regression.bin_edges(0, 100, width=1)
    self.starts = (-200.0, -50.0, 0.0, 10.0, 15.0)

  def _grad(self, loss, start):
    pred = jnp.asarray(np.concatenate([self.targets[:63], [start]]))
    return float(jax.grad(lambda p: jnp.sum(loss(p)))(pred)[63])

  def test_bmc_gives_the_isolated_label_no_gradient(self):
    # Softmax over the batch: prediction 63 is nearer its own target than
    # any other for every start, so its cross-entropy is (numerically) 0.
    for start in self.starts:
      self.assertEqual(self._grad(lambda p: regression.bmc_loss(
          p, self.targets, noise_sigma=2.8), start), 0.0, start)

  def test_mse_term_pulls_the_isolated_label_to_its_target(self):
    for start in self.starts:
      grad = self._grad(lambda p: regression.bmc_loss(
          p, self.targets, noise_sigma=2.8, mse_weight=0.1), start)
      # The BMC part is 0 (above); the MSE part is 2 lambda (p - y).
      self.assertAlmostEqual(grad, 2 * 0.1 * (start - 5.0), places=4)

  @parameterized.parameters("bni", "gai")
  def test_training_prior_variants_pull_toward_the_target(self, variant):
    counts = regression.bin_counts(self.train, self.edges)
    gmm = regression.fit_label_gmm(self.train, num_components=8)

    def loss(p):
      if variant == "bni":
        return regression.bni_loss(
            p, self.targets, noise_sigma=2.8,
            bin_centers=regression.bin_centers(self.edges),
            bin_weights=counts / counts.sum())
      return regression.gai_loss(
          p, self.targets, noise_sigma=2.8, gmm_means=gmm["means"],
          gmm_variances=gmm["variances"], gmm_weights=gmm["weights"])

    for start in self.starts:
      grad = self._grad(loss, start)
      # Gradient descent moves the prediction toward 5 from either side.
      self.assertGreater(abs(grad), 0.1, start)
      self.assertEqual(np.sign(grad), np.sign(start - 5.0), start)


if __name__ == "__main__":
  absltest.main()
