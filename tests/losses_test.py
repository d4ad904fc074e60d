"""Tests for ltjax.losses against independent NumPy formulas and properties."""

from absl.testing import absltest
from absl.testing import parameterized
import chex
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np

from ltjax import losses

CIFAR10_LT_COUNTS = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83,
                              50])


# ---------------------------------------------------------------------------
# Reference formulas, written out in float64 NumPy from the papers.
# ---------------------------------------------------------------------------
def np_log_softmax(z):
  z = np.asarray(z, np.float64)
  shifted = z - z.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_ce(z, y):
  return -np.take_along_axis(np_log_softmax(z), y[:, None], axis=-1)[:, 0]


def np_cb_weights(n, beta):
  n = np.asarray(n, np.float64)
  w = (1.0 - beta) / (1.0 - np.power(beta, n))
  return w * len(n) / w.sum()


def np_focal(z, y, gamma, w=None):
  ce = np_ce(z, y)
  p = np.exp(-ce)
  w_y = np.ones_like(ce) if w is None else np.asarray(w, np.float64)[y]
  return w_y * (1.0 - p) ** gamma * ce


def np_ldam_margins(n, max_margin):
  m = 1.0 / np.sqrt(np.sqrt(np.asarray(n, np.float64)))
  return m * (max_margin / m.max())


def np_ldam(z, y, n, max_margin, s, w=None):
  m = np_ldam_margins(n, max_margin)
  z = np.array(z, np.float64)
  z[np.arange(len(y)), y] -= m[y]
  ce = np_ce(s * z, y)
  return ce if w is None else np.asarray(w)[y] * ce


def np_pairwise(z, y, delta, alpha=None):
  z = np.asarray(z, np.float64)
  out = np.zeros(len(y))
  for i, label in enumerate(y):
    # log(1 + sum_c exp(e_c)) = logaddexp over {0} and the e_c, which does
    # not overflow for large logits.
    exponents = [0.0] + [delta[label, c] + z[i, c] - z[i, label]
                         for c in range(z.shape[1]) if c != label]
    out[i] = np.logaddexp.reduce(exponents)
  return out if alpha is None else np.asarray(alpha)[y] * out


def random_problem(seed, batch=16, num_classes=10, scale=3.0):
  rng = np.random.default_rng(seed)
  z = (scale * rng.standard_normal((batch, num_classes))).astype(np.float32)
  y = rng.integers(0, num_classes, size=batch).astype(np.int32)
  return z, y


PRIORS = CIFAR10_LT_COUNTS / CIFAR10_LT_COUNTS.sum()
WEIGHTS = np.linspace(0.5, 2.0, 10)

# name -> (function, kwargs, numpy reference(z, y)).
CASES = {
    "ce": (losses.weighted_cross_entropy, {}, np_ce),
    "weighted_ce": (losses.weighted_cross_entropy,
                    {"class_weights": WEIGHTS},
                    lambda z, y: WEIGHTS[y] * np_ce(z, y)),
    "focal": (losses.focal_loss, {"gamma": 2.0},
              lambda z, y: np_focal(z, y, 2.0)),
    "cb_focal": (losses.focal_loss,
                 {"gamma": 1.0,
                  "class_weights": np_cb_weights(CIFAR10_LT_COUNTS, 0.9999)},
                 lambda z, y: np_focal(
                     z, y, 1.0, np_cb_weights(CIFAR10_LT_COUNTS, 0.9999))),
    "ldam": (losses.ldam_loss, {"class_counts": CIFAR10_LT_COUNTS},
             lambda z, y: np_ldam(z, y, CIFAR10_LT_COUNTS, 0.5, 30.0)),
    "ldam_weighted": (losses.ldam_loss,
                      {"class_counts": CIFAR10_LT_COUNTS, "max_margin": 0.3,
                       "scale": 10.0, "class_weights": WEIGHTS},
                      lambda z, y: np_ldam(z, y, CIFAR10_LT_COUNTS, 0.3, 10.0,
                                           WEIGHTS)),
    "logit_adjusted": (losses.logit_adjusted_loss,
                       {"class_priors": PRIORS, "tau": 1.5},
                       lambda z, y: np_ce(z + 1.5 * np.log(PRIORS), y)),
    "balanced_softmax": (losses.balanced_softmax_loss,
                         {"class_counts": CIFAR10_LT_COUNTS},
                         lambda z, y: np_ce(
                             z + np.log(CIFAR10_LT_COUNTS), y)),
    "pairwise": (losses.pairwise_margin_loss,
                 {"margins": np.arange(100.0).reshape(10, 10) / 50.0 - 1.0,
                  "class_weights": WEIGHTS},
                 lambda z, y: np_pairwise(
                     z, y, np.arange(100.0).reshape(10, 10) / 50.0 - 1.0,
                     WEIGHTS)),
}


class LossFormulaTest(parameterized.TestCase):

  @parameterized.parameters(*[(name, seed) for name in CASES
                              for seed in (0, 1)])
  def test_matches_numpy_formula(self, name, seed):
    fn, kwargs, reference = CASES[name]
    z, y = random_problem(seed)
    if name.startswith("ldam"):  # LDAM expects cosine logits in [-1, 1].
      z = np.tanh(z)
    got = fn(z, y, **kwargs)
    self.assertEqual(got.shape, (16,))
    np.testing.assert_allclose(got, reference(z, y), rtol=2e-5, atol=2e-5)

  @parameterized.parameters(*CASES)
  def test_jit_matches_eager(self, name):
    fn, kwargs, _ = CASES[name]
    z, y = random_problem(3)
    jitted = jax.jit(lambda z, y: fn(z, y, **kwargs))
    np.testing.assert_allclose(jitted(z, y), fn(z, y, **kwargs), rtol=1e-5,
                               atol=1e-6)

  @parameterized.parameters(*CASES)
  def test_extreme_logits_finite_and_correct(self, name):
    fn, kwargs, reference = CASES[name]
    z, y = random_problem(4, scale=1.0)
    z = np.clip(z, -1, 1) * 1e4  # |logits| up to 1e4.
    got = np.asarray(fn(z, y, **kwargs))
    self.assertTrue(np.all(np.isfinite(got)), got)
    np.testing.assert_allclose(got, reference(z, y), rtol=1e-5, atol=1e-3)
    grads = jax.grad(lambda z: jnp.sum(fn(z, y, **kwargs)))(jnp.asarray(z))
    self.assertTrue(np.all(np.isfinite(grads)))

  @parameterized.parameters(*CASES)
  def test_bfloat16_close_to_float32(self, name):
    fn, kwargs, _ = CASES[name]
    z, y = random_problem(5)
    if name.startswith("ldam"):
      z = np.tanh(z)
    z16 = jnp.asarray(z, jnp.bfloat16)
    got16 = fn(z16, y, **kwargs)
    self.assertEqual(got16.shape, (16,))
    self.assertTrue(np.all(np.isfinite(np.asarray(got16, np.float32))))
    # The only error is the rounding of the inputs to bfloat16 ...
    np.testing.assert_allclose(
        np.asarray(got16, np.float32),
        fn(np.asarray(z16, np.float32), y, **kwargs), rtol=1e-5, atol=1e-5)
    # ... so the result stays close to the float32 loss of the raw logits.
    scale = 30.0 if name == "ldam" else 10.0 if name == "ldam_weighted" else 1
    np.testing.assert_allclose(
        np.asarray(got16, np.float32), fn(z, y, **kwargs),
        rtol=3e-2, atol=3e-2 * scale)
    grads = jax.grad(lambda z: jnp.sum(fn(z, y, **kwargs)))(z16)
    self.assertEqual(grads.dtype, jnp.bfloat16)

  @parameterized.parameters(*CASES)
  def test_gradients(self, name):
    fn, kwargs, _ = CASES[name]
    z, y = random_problem(6, batch=4)
    if name.startswith("ldam"):
      z = np.tanh(z)
    with jax.enable_x64(True):
      check_grads(lambda z: fn(z, y, **kwargs), (np.float64(z),), order=2,
                  modes=("fwd", "rev"), atol=1e-4, rtol=1e-4)

  @parameterized.parameters(*CASES)
  def test_batch_shape_preserved(self, name):
    fn, kwargs, _ = CASES[name]
    z, y = random_problem(7, batch=12)
    got = fn(z.reshape(3, 4, 10), y.reshape(3, 4), **kwargs)
    self.assertEqual(got.shape, (3, 4))
    np.testing.assert_allclose(got.reshape(-1), fn(z, y, **kwargs), rtol=1e-6)


class LossPropertyTest(parameterized.TestCase):

  def test_ce_gradient_is_softmax_minus_one_hot(self):
    z, y = random_problem(8)
    grads = jax.grad(
        lambda z: jnp.sum(losses.weighted_cross_entropy(z, y)))(z)
    expected = np.exp(np_log_softmax(z)) - np.eye(10)[y]
    np.testing.assert_allclose(grads, expected, atol=1e-6)

  def test_logit_adjusted_gradient(self):
    z, y = random_problem(9)
    grads = jax.grad(lambda z: jnp.sum(losses.logit_adjusted_loss(
        z, y, class_priors=PRIORS, tau=1.0)))(z)
    expected = np.exp(np_log_softmax(z + np.log(PRIORS))) - np.eye(10)[y]
    np.testing.assert_allclose(grads, expected, atol=1e-6)

  @parameterized.parameters(0, 1, 2)
  def test_balanced_softmax_is_logit_adjusted_tau_one(self, seed):
    z, y = random_problem(seed)
    np.testing.assert_allclose(
        losses.balanced_softmax_loss(z, y, class_counts=CIFAR10_LT_COUNTS),
        losses.logit_adjusted_loss(z, y, class_priors=PRIORS, tau=1.0),
        rtol=1e-5, atol=1e-5)

  def test_logit_adjusted_priors_need_not_be_normalised(self):
    z, y = random_problem(10)
    np.testing.assert_allclose(
        losses.logit_adjusted_loss(z, y, class_priors=PRIORS * 7.0, tau=0.5),
        losses.logit_adjusted_loss(z, y, class_priors=PRIORS, tau=0.5),
        rtol=1e-5, atol=1e-5)

  def test_logit_adjusted_tau_zero_is_ce(self):
    z, y = random_problem(11)
    np.testing.assert_allclose(
        losses.logit_adjusted_loss(z, y, class_priors=PRIORS, tau=0.0),
        losses.weighted_cross_entropy(z, y), rtol=1e-6)

  def test_ldam_zero_margin_is_scaled_ce(self):
    z, y = random_problem(12)
    z = np.tanh(z)
    np.testing.assert_allclose(
        losses.ldam_loss(z, y, class_counts=CIFAR10_LT_COUNTS,
                         max_margin=0.0, scale=30.0),
        losses.weighted_cross_entropy(30.0 * z, y), rtol=1e-5, atol=1e-5)

  def test_ldam_margins_cifar10_lt(self):
    # Values published in METHODS.md for CIFAR-10-LT rho = 100.
    expected = [0.158, 0.180, 0.204, 0.232, 0.264, 0.300, 0.341, 0.387,
                0.441, 0.500]
    np.testing.assert_allclose(losses.ldam_margins(CIFAR10_LT_COUNTS),
                               expected, atol=6e-4)
    np.testing.assert_allclose(
        losses.ldam_margins(CIFAR10_LT_COUNTS, max_margin=1.0),
        np_ldam_margins(CIFAR10_LT_COUNTS, 1.0), rtol=1e-6)

  @parameterized.parameters(0.5, 1.0, 2.0)
  def test_pairwise_with_prior_ratio_margins_is_logit_adjusted(self, tau):
    z, y = random_problem(13)
    log_pi = np.log(PRIORS)
    delta = tau * (log_pi[None, :] - log_pi[:, None])  # tau log(pi_y'/pi_y)
    np.testing.assert_allclose(
        losses.pairwise_margin_loss(z, y, margins=delta),
        losses.logit_adjusted_loss(z, y, class_priors=PRIORS, tau=tau),
        rtol=1e-5, atol=1e-5)

  def test_pairwise_zero_margin_with_weights_is_weighted_ce(self):
    z, y = random_problem(14)
    alpha = 1.0 / PRIORS
    np.testing.assert_allclose(
        losses.pairwise_margin_loss(z, y, margins=np.zeros((10, 10)),
                                    class_weights=alpha),
        losses.weighted_cross_entropy(z, y, class_weights=alpha), rtol=1e-5)

  def test_pairwise_row_margin_is_unscaled_ldam(self):
    z, y = random_problem(15)
    m = np_ldam_margins(CIFAR10_LT_COUNTS, 0.5)
    delta = np.repeat(m[:, None], 10, axis=1)  # Delta_{yy'} = m_y
    np.testing.assert_allclose(
        losses.pairwise_margin_loss(z, y, margins=delta),
        losses.ldam_loss(z, y, class_counts=CIFAR10_LT_COUNTS, scale=1.0),
        rtol=1e-5, atol=1e-5)

  def test_pairwise_ignores_diagonal(self):
    z, y = random_problem(16)
    delta = np.zeros((10, 10))
    np.fill_diagonal(delta, 5.0)
    np.testing.assert_allclose(
        losses.pairwise_margin_loss(z, y, margins=delta),
        losses.weighted_cross_entropy(z, y), rtol=1e-5)

  def test_focal_gamma_zero_is_ce(self):
    z, y = random_problem(17)
    np.testing.assert_allclose(losses.focal_loss(z, y, gamma=0.0),
                               losses.weighted_cross_entropy(z, y), rtol=1e-6)

  def test_focal_ldam_repo_parity(self):
    z, y = random_problem(18)
    w = np_cb_weights(CIFAR10_LT_COUNTS, 0.9999)
    ce = np_ce(z, y)
    # The LDAM repo: p = exp(-w_y CE), loss = (1 - p)^gamma * w_y CE.
    repo = (1.0 - np.exp(-w[y] * ce)) ** 2.0 * w[y] * ce
    got = losses.focal_loss(z, y, gamma=2.0, class_weights=w,
                            ldam_repo_parity=True)
    np.testing.assert_allclose(got, repo, rtol=2e-5, atol=1e-6)
    default = losses.focal_loss(z, y, gamma=2.0, class_weights=w)
    self.assertGreater(np.max(np.abs(default - repo)), 1e-2)
    # Without class weights the two definitions agree.
    np.testing.assert_allclose(
        losses.focal_loss(z, y, gamma=2.0, ldam_repo_parity=True),
        losses.focal_loss(z, y, gamma=2.0), rtol=1e-6)

  @parameterized.parameters(0.0, 0.5, 1.0, 2.0)
  def test_focal_gradient_finite_at_certainty(self, gamma):
    z = np.array([[1e4, 0.0, -1e4], [0.0, 50.0, 0.0]], np.float32)
    y = np.array([0, 1], np.int32)
    grads = jax.grad(lambda z: jnp.sum(losses.focal_loss(z, y, gamma=gamma)))(
        z)
    self.assertTrue(np.all(np.isfinite(grads)))
    if gamma > 0:
      np.testing.assert_allclose(grads[0], 0.0, atol=1e-30)


class WeightsTest(parameterized.TestCase):

  @parameterized.parameters(0.0, 0.5, 1.0, 2.0)
  def test_inverse_frequency(self, power):
    n = CIFAR10_LT_COUNTS.astype(np.float64)
    expected = n ** -power
    expected = expected * len(n) / expected.sum()
    got = losses.inverse_frequency_weights(CIFAR10_LT_COUNTS, power=power)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    self.assertAlmostEqual(float(jnp.sum(got)), 10.0, places=4)

  @parameterized.parameters(0.0, 0.9, 0.99, 0.999, 0.9999)
  def test_class_balanced(self, beta):
    got = losses.class_balanced_weights(CIFAR10_LT_COUNTS, beta=beta)
    np.testing.assert_allclose(got, np_cb_weights(CIFAR10_LT_COUNTS, beta),
                               rtol=1e-5)
    self.assertAlmostEqual(float(jnp.sum(got)), 10.0, places=4)

  def test_class_balanced_beta_zero_is_ones(self):
    np.testing.assert_allclose(
        losses.class_balanced_weights(CIFAR10_LT_COUNTS, beta=0.0),
        np.ones(10), rtol=1e-6)

  def test_class_balanced_approaches_inverse_frequency(self):
    np.testing.assert_allclose(
        losses.class_balanced_weights(CIFAR10_LT_COUNTS, beta=1 - 1e-9),
        losses.inverse_frequency_weights(CIFAR10_LT_COUNTS), rtol=1e-3)

  def test_class_priors(self):
    np.testing.assert_allclose(losses.class_priors(CIFAR10_LT_COUNTS), PRIORS,
                               rtol=1e-6)

  def test_weighted_mean_matches_torch_reduction(self):
    z, y = random_problem(19, batch=64)
    w = np_cb_weights(CIFAR10_LT_COUNTS, 0.999)
    ce = np_ce(z, y)
    # torch.nn.functional.cross_entropy(weight=w), reduction='mean'.
    expected = np.sum(w[y] * ce) / np.sum(w[y])
    got = losses.weighted_mean(losses.weighted_cross_entropy(z, y), y,
                               class_weights=w)
    self.assertEqual(got.shape, ())
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_drw_switch(self):
    cb = np_cb_weights(CIFAR10_LT_COUNTS, 0.9999)
    for step, expected in ((0, np.ones(10)), (159, np.ones(10)), (160, cb),
                           (1000, cb)):
      np.testing.assert_allclose(
          losses.drw_class_weights(step, class_counts=CIFAR10_LT_COUNTS,
                                   start_step=160), expected, rtol=1e-5)

  def test_drw_jitted_step_traces_once_across_switch(self):
    z, y = random_problem(20)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step_loss(params, step):
      weights = losses.drw_class_weights(
          step, class_counts=CIFAR10_LT_COUNTS, start_step=5)
      per_example = losses.ldam_loss(jnp.tanh(params), y,
                                     class_counts=CIFAR10_LT_COUNTS,
                                     class_weights=weights)
      return jnp.mean(per_example)

    chex.clear_trace_counter()
    values = [float(step_loss(z, jnp.int32(step))) for step in range(10)]
    self.assertLen(set(values[:5]), 1)
    self.assertLen(set(values[5:]), 1)
    self.assertNotAlmostEqual(values[0], values[9], places=3)
    unweighted = np.mean(np_ldam(np.tanh(z), y, CIFAR10_LT_COUNTS, 0.5, 30.0))
    np.testing.assert_allclose(values[0], unweighted, rtol=1e-5)


class OutOfRangeLabelTest(parameterized.TestCase):
  """Labels outside [0, C) traced under jit give NaN, never a wrapped class."""

  @parameterized.product(name=sorted(CASES), bad=(-1, 10))
  def test_loss_is_nan_for_that_example_only(self, name, bad):
    fn, kwargs, reference = CASES[name]
    z, y = random_problem(30, batch=6)
    if name.startswith("ldam"):
      z = np.tanh(z)
    labels = y.copy()
    labels[2] = bad
    got = np.asarray(jax.jit(lambda z, y: fn(z, y, **kwargs))(z, labels))
    self.assertTrue(np.isnan(got[2]), f"label {bad} gave {got[2]}")
    keep = np.arange(6) != 2
    np.testing.assert_allclose(got[keep], reference(z, y)[keep], rtol=2e-5,
                               atol=2e-5)

  @parameterized.parameters(*sorted(CASES))
  def test_gradient_of_in_range_rows_is_unchanged(self, name):
    # Masking the bad row out of the reduction leaves a finite gradient equal
    # to the gradient over the good rows alone.
    fn, kwargs, _ = CASES[name]
    z, y = random_problem(31, batch=6)
    if name.startswith("ldam"):
      z = np.tanh(z)
    labels = y.copy()
    labels[0] = -1

    @jax.jit
    def good_rows_loss(z, labels):
      values = fn(z, labels, **kwargs)
      return jnp.sum(jnp.where(labels >= 0, values, 0.0))

    grad = np.asarray(jax.grad(good_rows_loss)(z, labels))
    self.assertTrue(np.all(np.isfinite(grad)))
    np.testing.assert_allclose(grad[0], 0.0)
    expected = jax.grad(lambda z: jnp.sum(fn(z, y[1:], **kwargs)))(z[1:])
    np.testing.assert_allclose(grad[1:], expected, rtol=1e-5, atol=1e-6)

  @parameterized.parameters(-1, 10)
  def test_weighted_mean_is_nan(self, bad):
    values = np.arange(1.0, 5.0, dtype=np.float32)
    labels = np.array([0, 3, bad, 9], np.int32)
    got = jax.jit(lambda l, y: losses.weighted_mean(
        l, y, class_weights=WEIGHTS))(values, labels)
    self.assertTrue(np.isnan(got), f"label {bad} gave {got}")

  @parameterized.parameters(-1, 10)
  def test_concrete_labels_raise(self, bad):
    labels = np.array([0, 1, bad, 2], np.int32)
    z, _ = random_problem(32, batch=4)
    pattern = r"labels must lie in \[0, 10\)"
    for name in sorted(CASES):
      fn, kwargs, _ = CASES[name]
      with self.assertRaisesRegex(ValueError, pattern):
        fn(z, labels, **kwargs)
    with self.assertRaisesRegex(ValueError, pattern):
      losses.weighted_mean(np.ones(4, np.float32), labels,
                           class_weights=WEIGHTS)


class InputCheckTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.z, self.y = random_problem(21, batch=4)

  def assert_raises_naming(self, field, fn, *args, **kwargs):
    with self.assertRaisesRegex(ValueError, field):
      fn(*args, **kwargs)

  def test_zero_class_count(self):
    counts = CIFAR10_LT_COUNTS.copy()
    counts[3] = 0
    for fn in (losses.ldam_loss, losses.balanced_softmax_loss):
      self.assert_raises_naming("class_counts.*class\\(es\\) \\[3\\]", fn,
                                self.z, self.y, class_counts=counts)
    for fn in (losses.class_balanced_weights, losses.inverse_frequency_weights,
               losses.ldam_margins, losses.class_priors):
      self.assert_raises_naming("class_counts", fn, counts)
    self.assert_raises_naming("class_counts", losses.drw_class_weights, 0,
                              class_counts=-counts, start_step=1)

  def test_zero_prior(self):
    priors = PRIORS.copy()
    priors[0] = 0.0
    self.assert_raises_naming("class_priors", losses.logit_adjusted_loss,
                              self.z, self.y, class_priors=priors)

  def test_negative_hyperparameters(self):
    self.assert_raises_naming("tau", losses.logit_adjusted_loss, self.z,
                              self.y, class_priors=PRIORS, tau=-0.1)
    self.assert_raises_naming("gamma", losses.focal_loss, self.z, self.y,
                              gamma=-1.0)
    self.assert_raises_naming("beta", losses.class_balanced_weights,
                              CIFAR10_LT_COUNTS, beta=1.0)
    self.assert_raises_naming("power", losses.inverse_frequency_weights,
                              CIFAR10_LT_COUNTS, power=-1.0)
    self.assert_raises_naming("max_margin", losses.ldam_margins,
                              CIFAR10_LT_COUNTS, max_margin=-0.5)
    self.assert_raises_naming("class_weights", losses.weighted_cross_entropy,
                              self.z, self.y, class_weights=-WEIGHTS)

  def test_integer_logits(self):
    self.assert_raises_naming("logits.*floating", losses.weighted_cross_entropy,
                              self.z.astype(np.int32), self.y)

  def test_float_labels(self):
    self.assert_raises_naming("labels.*integer", losses.focal_loss, self.z,
                              self.y.astype(np.float32))
    self.assert_raises_naming("labels.*integer", losses.weighted_mean,
                              np.ones(4, np.float32), self.y.astype(np.float32),
                              class_weights=WEIGHTS)

  def test_label_out_of_range(self):
    self.assert_raises_naming("labels must lie in", losses.weighted_cross_entropy,
                              self.z, np.array([0, 1, 2, 10], np.int32))

  def test_mismatched_shapes(self):
    self.assert_raises_naming("labels has shape", losses.weighted_cross_entropy,
                              self.z, self.y[:3])
    self.assert_raises_naming("class_weights has 9 entries",
                              losses.weighted_cross_entropy, self.z, self.y,
                              class_weights=WEIGHTS[:9])
    self.assert_raises_naming("class_priors has 5 entries",
                              losses.logit_adjusted_loss, self.z, self.y,
                              class_priors=PRIORS[:5])
    self.assert_raises_naming("class_counts has 11 entries", losses.ldam_loss,
                              self.z, self.y,
                              class_counts=np.append(CIFAR10_LT_COUNTS, 3))
    self.assert_raises_naming("margins must have shape",
                              losses.pairwise_margin_loss, self.z, self.y,
                              margins=np.zeros((10, 9)))
    self.assert_raises_naming("labels has shape", losses.weighted_mean,
                              np.ones(3, np.float32), self.y,
                              class_weights=WEIGHTS)

  def test_errors_raise_at_trace_time(self):
    counts = CIFAR10_LT_COUNTS.copy()
    counts[0] = 0

    @jax.jit
    def step(z):
      return losses.balanced_softmax_loss(z, self.y, class_counts=counts)

    with self.assertRaisesRegex(ValueError, "class_counts"):
      step.lower(self.z)

  def test_traced_statistics_are_accepted(self):
    # Statistics passed as jit arguments cannot be value-checked but work.
    got = jax.jit(lambda z, n, t: losses.logit_adjusted_loss(
        z, self.y, class_priors=n / jnp.sum(n), tau=t))(
            self.z, CIFAR10_LT_COUNTS.astype(np.float32), 1.0)
    np.testing.assert_allclose(
        got, np_ce(self.z + np.log(PRIORS), self.y), rtol=1e-5)


if __name__ == "__main__":
  absltest.main()
