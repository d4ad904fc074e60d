"""Tests for post-hoc logit adjustment to a known test label distribution."""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import posthoc


class TargetPriorTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.logits = rng.normal(size=(9, 5)) * 3.0
    self.train = np.array([0.5, 0.25, 0.15, 0.07, 0.03])

  def test_same_prior_is_the_identity(self):
    for tau in (0.0, 0.5, 1.0, 2.0):
      got = posthoc.adjust_logits(self.logits, class_priors=self.train,
                                  tau=tau, target_priors=self.train)
      np.testing.assert_allclose(got, self.logits, rtol=1e-6, atol=1e-6)

  def test_matches_formula_and_default_is_uniform(self):
    test = np.array([0.1, 0.1, 0.2, 0.3, 0.3])
    got = jax.jit(lambda z, p, q: posthoc.adjust_logits(
        z, class_priors=p, tau=0.8, target_priors=q))(
            self.logits, self.train, test)
    want = self.logits - 0.8 * np.log(self.train) + 0.8 * np.log(test)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # None keeps the previous behaviour, z - tau log pi_train, whose argmax
    # and softmax equal those for a uniform target prior.
    none = posthoc.adjust_logits(self.logits, class_priors=self.train,
                                 tau=0.8)
    np.testing.assert_allclose(none, self.logits - 0.8 * np.log(self.train),
                               rtol=1e-6, atol=1e-6)
    uniform = posthoc.adjust_logits(self.logits, class_priors=self.train,
                                    tau=0.8, target_priors=np.full(5, 0.2))
    np.testing.assert_allclose(jax.nn.softmax(none), jax.nn.softmax(uniform),
                               rtol=1e-5)

  def test_argmax_is_the_bayes_rule_for_the_test_prior(self):
    # Classes are 1-D Gaussians; the "model" outputs the exact training
    # posterior log p_train(y | x) (up to a per-example constant).
    rng = np.random.default_rng(1)
    means = np.array([-2.0, -0.5, 0.5, 1.5, 3.0])
    x = rng.uniform(-4.0, 5.0, size=2000)
    log_lik = -0.5 * (x[:, None] - means[None, :]) ** 2
    logits = log_lik + np.log(self.train)
    test = np.array([0.02, 0.08, 0.2, 0.3, 0.4])
    adjusted = posthoc.adjust_logits(logits, class_priors=self.train,
                                     target_priors=test)
    bayes = np.argmax(test[None, :] * np.exp(log_lik), axis=1)
    np.testing.assert_array_equal(np.argmax(adjusted, axis=1), bayes)
    # And the adjustment matters: the training-prior rule differs often.
    self.assertGreater(np.mean(np.argmax(logits, axis=1) != bayes), 0.1)
    # Its softmax is the test posterior.
    post = test[None, :] * np.exp(log_lik)
    post /= post.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(jax.nn.softmax(adjusted), post, atol=1e-5)

  def test_target_priors_validated_like_class_priors(self):
    with self.assertRaisesRegex(ValueError, "target_priors"):
      posthoc.adjust_logits(self.logits, class_priors=self.train,
                            target_priors=np.ones(4))
    with self.assertRaisesRegex(ValueError, "target_priors"):
      posthoc.adjust_logits(self.logits, class_priors=self.train,
                            target_priors=np.array([0.5, 0.5, 0.0, 0.0, 0.0]))
    with self.assertRaisesRegex(ValueError, "target_priors"):
      posthoc.adjust_logits(self.logits, class_priors=self.train,
                            target_priors=np.ones((1, 5)))
    got = posthoc.adjust_logits(jnp.asarray(self.logits, jnp.bfloat16),
                                class_priors=self.train,
                                target_priors=self.train)
    self.assertEqual(got.dtype, jnp.float32)


if __name__ == "__main__":
  absltest.main()
