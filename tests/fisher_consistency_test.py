"""Fisher consistency of the logit-adjusted loss (Menon et al., 2007.07314).

A small synthetic problem with a discrete input x in {0..K-1}, C classes,
skewed priors pi and known class-conditionals p(x | y). The model is a free
logit table F[x] in R^C (fully flexible), trained by gradient descent on the
exact population risk sum_{x,y} p(x, y) loss(F[x], y).

The balanced error BER(h) = 1/C sum_y P(h(x) != y | y) is minimised by the
balanced Bayes classifier h*(x) = argmax_y p(x | y). The paper's claim:
minimising the logit-adjusted loss (tau = 1) recovers h*, plain cross-entropy
recovers argmax_y p(y | x) instead (worse balanced error), and post-hoc
adjustment of the cross-entropy solution recovers h* as well.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import losses
from ltjax import posthoc

NUM_X = 8
NUM_CLASSES = 3
PRIORS = np.array([0.80, 0.15, 0.05])


def make_problem(seed=0):
  rng = np.random.default_rng(seed)
  p_x_given_y = rng.dirichlet(np.full(NUM_X, 0.7), size=NUM_CLASSES)  # [C, K]
  joint = (PRIORS[:, None] * p_x_given_y).T  # p(x, y), [K, C]
  return p_x_given_y.T, joint


def balanced_error(predictions, p_x_given_y):
  """1/C sum_y P(h(x) != y | y) for a deterministic classifier h."""
  hit = np.zeros(NUM_CLASSES)
  for x, y_hat in enumerate(predictions):
    hit[y_hat] += p_x_given_y[x, y_hat]
  return 1.0 - hit.mean()


def minimise_population_risk(loss_fn, joint, steps=3000):
  xs, ys = np.meshgrid(np.arange(NUM_X), np.arange(NUM_CLASSES),
                       indexing="ij")
  xs, ys = xs.reshape(-1), ys.reshape(-1).astype(np.int32)
  weights = jnp.asarray(joint.reshape(-1), jnp.float32)

  def risk(table):
    return jnp.sum(weights * loss_fn(table[xs], ys))

  optimizer = optax.adam(0.05)

  @jax.jit
  def run(table):
    def body(_, carry):
      table, opt_state = carry
      grads = jax.grad(risk)(table)
      updates, opt_state = optimizer.update(grads, opt_state)
      return optax.apply_updates(table, updates), opt_state
    return jax.lax.fori_loop(0, steps, body, (table, optimizer.init(table)))[0]

  table = run(jnp.zeros((NUM_X, NUM_CLASSES), jnp.float32))
  grad_norm = float(jnp.linalg.norm(jax.grad(risk)(table)))
  return np.asarray(table), grad_norm


SEEDS = (1, 7, 14)


class FisherConsistencyTest(parameterized.TestCase):

  def set_up_problem(self, seed):
    self.p_x_given_y, self.joint = make_problem(seed)
    self.balanced_bayes = np.argmax(self.p_x_given_y, axis=1)
    self.posterior_bayes = np.argmax(self.joint, axis=1)
    # The problem must separate the two classifiers, clearly, or the test
    # would pass vacuously.
    self.assertGreaterEqual(
        np.sum(self.balanced_bayes != self.posterior_bayes), 2)
    self.bayes_ber = balanced_error(self.balanced_bayes, self.p_x_given_y)
    self.assertGreater(
        balanced_error(self.posterior_bayes, self.p_x_given_y),
        self.bayes_ber + 0.05)
    # No near-ties, so argmax of an approximate minimiser is well defined.
    for table in (self.p_x_given_y, self.joint):
      top2 = np.sort(table, axis=1)[:, -2:]
      self.assertTrue(np.all(top2[:, 1] / top2[:, 0] > 1.05))

  @parameterized.parameters(*SEEDS)
  def test_logit_adjusted_loss_recovers_balanced_bayes_classifier(self, seed):
    self.set_up_problem(seed)
    table, grad_norm = minimise_population_risk(
        lambda z, y: losses.logit_adjusted_loss(z, y, class_priors=PRIORS,
                                                tau=1.0), self.joint)
    self.assertLess(grad_norm, 1e-3)
    predictions = np.argmax(table, axis=1)  # raw logits, no adjustment
    np.testing.assert_array_equal(predictions, self.balanced_bayes)
    self.assertAlmostEqual(balanced_error(predictions, self.p_x_given_y),
                           self.bayes_ber, places=12)
    # The minimiser's softmax(F + log pi) is the true posterior p(y | x).
    posterior = jax.nn.softmax(table + np.log(PRIORS), axis=1)
    np.testing.assert_allclose(
        posterior, self.joint / self.joint.sum(1, keepdims=True), atol=2e-3)

  @parameterized.parameters(*SEEDS)
  def test_balanced_softmax_recovers_balanced_bayes_classifier(self, seed):
    self.set_up_problem(seed)
    counts = PRIORS * 1000
    table, _ = minimise_population_risk(
        lambda z, y: losses.balanced_softmax_loss(z, y, class_counts=counts),
        self.joint)
    np.testing.assert_array_equal(np.argmax(table, axis=1),
                                  self.balanced_bayes)

  @parameterized.parameters(*SEEDS)
  def test_cross_entropy_does_not(self, seed):
    self.set_up_problem(seed)
    table, grad_norm = minimise_population_risk(
        losses.weighted_cross_entropy, self.joint)
    self.assertLess(grad_norm, 1e-3)
    predictions = np.argmax(table, axis=1)
    np.testing.assert_array_equal(predictions, self.posterior_bayes)
    self.assertGreater(balanced_error(predictions, self.p_x_given_y),
                       self.bayes_ber + 0.05)

  @parameterized.parameters(*SEEDS)
  def test_posthoc_adjustment_of_cross_entropy_recovers_it(self, seed):
    self.set_up_problem(seed)
    table, _ = minimise_population_risk(losses.weighted_cross_entropy,
                                        self.joint)
    adjusted = posthoc.adjust_logits(table, class_priors=PRIORS, tau=1.0)
    np.testing.assert_array_equal(np.argmax(adjusted, axis=1),
                                  self.balanced_bayes)


if __name__ == "__main__":
  absltest.main()
