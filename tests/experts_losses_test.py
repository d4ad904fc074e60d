"""Tests for the multi-expert and distillation losses against NumPy formulas.

The references below are written out in float64 NumPy from the originals
(RIDE `model/loss.py`, SADE `model/loss.py`, Bag-of-Tricks `DiVEKLD`) with
explicit loops over experts, not from ltjax's vectorised code.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import losses

COUNTS = np.array([500, 300, 120, 60, 25, 10], np.float64)
TIED = np.array([40, 10, 40, 5, 10, 5], np.float64)


def np_log_softmax(z):
  z = np.asarray(z, np.float64)
  shifted = z - z.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_softmax(z):
  return np.exp(np_log_softmax(z))


def np_ce(z, y):
  return -np_log_softmax(z)[np.arange(len(y)), y]


def np_ldam_logits(z, y, counts, max_m, s):
  m = 1.0 / np.sqrt(np.sqrt(counts))
  m = m * (max_m / m.max())
  out = np.array(z, np.float64)
  out[np.arange(len(y)), y] -= s * m[y]
  return out


def np_cb_weights(counts, beta=0.9999):
  w = (1.0 - beta) / (1.0 - np.power(beta, counts))
  return w / w.sum() * len(counts)


def np_ride(zs, y, counts, weights=None, max_m=0.5, s=30.0, factor=-0.2,
            base_t=1.0, reweight_factor=0.05):
  """RIDELoss.forward with its DRW switch on iff weights is given."""
  zs = np.asarray(zs, np.float64)
  ensemble = zs.mean(axis=0)
  prior = counts / counts.sum()
  t_c = len(counts) * prior * reweight_factor + 1 - reweight_factor
  t_c = t_c / t_c.max()
  loss = 0.0
  for z in zs:
    base_z = ensemble if factor == 0 else z
    ce = np_ce(np_ldam_logits(base_z, y, counts, max_m, s), y)
    if weights is None:
      loss += ce.mean()
      t = base_t
      t_mean = base_t
    else:
      w = np.asarray(weights)[y]
      loss += (w * ce).sum() / w.sum()
      t = base_t * t_c[None, :]
      t_mean = t.mean()
    log_p = np_log_softmax(z / t)
    q = np_softmax(ensemble / t)
    kl = (q * (np.log(q) - log_p)).sum() / len(y)
    loss += factor * t_mean * t_mean * kl
  return loss


def np_kd(s, t, temp, power):
  q = np_softmax(np.asarray(t, np.float64) / temp) ** power
  q = q / q.sum(axis=1, keepdims=True)
  log_s = np_log_softmax(np.asarray(s, np.float64) / temp)
  return temp ** 2 * (q * (np.log(q) - log_s)).sum(axis=1)


def np_inverse_prior(counts):
  """Mirror of the ranks, ties ranked by class index (written by counting)."""
  prior = counts / counts.sum()
  c = len(prior)
  ranks = [int(np.sum(prior < prior[i]) + np.sum(prior[:i] == prior[i]))
           for i in range(c)]
  descending = sorted(prior, reverse=True)
  return np.array([descending[r] for r in ranks])


def np_ace_masks(counts, e_total):
  c = len(counts)
  order = sorted(range(c), key=lambda k: (-counts[k], k))
  masks = np.zeros((e_total, c), bool)
  for e in range(e_total):
    for rank, k in enumerate(order):
      if rank >= (e * c) // e_total:
        masks[e, k] = True
  return masks


class RideLossTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.z = rng.normal(size=(3, 16, 6)) * 4.0
    self.y = rng.integers(0, 6, size=16)

  @parameterized.parameters(-0.2, -0.45, 0.3)
  def test_without_class_weights_matches_numpy(self, factor):
    got = losses.ride_loss(jnp.asarray(self.z, jnp.float32), self.y,
                           class_counts=COUNTS, diversity_factor=factor,
                           diversity_temperature=1.5)
    want = np_ride(self.z, self.y, COUNTS, factor=factor, base_t=1.5)
    np.testing.assert_allclose(got, want, rtol=2e-5)

  def test_with_class_weights_uses_per_class_temperature(self):
    w = np_cb_weights(COUNTS)
    fn = jax.jit(lambda z, y, w: losses.ride_loss(
        z, y, class_counts=COUNTS, class_weights=w, diversity_factor=-0.45,
        diversity_temperature=1.2, reweight_factor=0.1))
    got = fn(jnp.asarray(self.z, jnp.float32), self.y, jnp.asarray(w))
    want = np_ride(self.z, self.y, COUNTS, weights=w, factor=-0.45,
                   base_t=1.2, reweight_factor=0.1)
    np.testing.assert_allclose(got, want, rtol=2e-5)
    # The per-class temperature changes the value (not a vacuous test).
    scalar_t = np_ride(self.z, self.y, COUNTS, factor=-0.45, base_t=1.2)
    self.assertGreater(abs(want - scalar_t), 1e-3)

  def test_drw_class_weights_switch_inside_one_jit(self):
    fn = jax.jit(lambda step: losses.ride_loss(
        jnp.asarray(self.z, jnp.float32), self.y, class_counts=COUNTS,
        class_weights=losses.drw_class_weights(
            step, class_counts=COUNTS, start_step=10)))
    np.testing.assert_allclose(fn(3), np_ride(self.z, self.y, COUNTS),
                               rtol=2e-5)
    np.testing.assert_allclose(
        fn(10), np_ride(self.z, self.y, COUNTS, weights=np_cb_weights(COUNTS)),
        rtol=2e-5)

  def test_single_expert_has_no_diversity_term(self):
    # With E = 1 the ensemble is the expert: the KL is 0 and the loss is the
    # mean LDAM loss, whatever the diversity factor.
    z1 = self.z[:1]
    want = np_ce(np_ldam_logits(z1[0], self.y, COUNTS, 0.5, 30.0),
                 self.y).mean()
    for factor in (-0.2, -5.0, 3.0):
      got = losses.ride_loss(jnp.asarray(z1, jnp.float32), self.y,
                             class_counts=COUNTS, diversity_factor=factor)
      np.testing.assert_allclose(got, want, rtol=1e-5)

  def test_diversity_gradient_holds_the_ensemble_fixed(self):
    # d/dz_e of KL(sg(q) || softmax(z_e / T)) = (softmax(z_e / T) - q) / (T B)
    # with the ensemble q held fixed. (With q the softmax of the mean logits,
    # the terms a gradient through q would add sum to zero over the experts,
    # so this checks the analytic gradient, not the stop_gradient itself.)
    factor, temp = -0.45, 2.0
    z = jnp.asarray(self.z, jnp.float32)
    grad = jax.grad(lambda z: losses.ride_loss(
        z, self.y, class_counts=COUNTS, diversity_factor=factor,
        diversity_temperature=temp))(z)
    b = len(self.y)
    q = np_softmax(self.z.mean(axis=0) / temp)
    for e in range(3):
      ldam = np_ldam_logits(self.z[e], self.y, COUNTS, 0.5, 30.0)
      want = (np_softmax(ldam) - np.eye(6)[self.y]) / b
      want += factor * temp ** 2 * (np_softmax(self.z[e] / temp) - q) / (
          temp * b)
      np.testing.assert_allclose(grad[e], want, atol=1e-6)

  def test_zero_factor_trains_the_ensemble_as_the_original(self):
    got = losses.ride_loss(jnp.asarray(self.z, jnp.float32), self.y,
                           class_counts=COUNTS, diversity_factor=0.0)
    ens = np_ldam_logits(self.z.mean(axis=0), self.y, COUNTS, 0.5, 30.0)
    np.testing.assert_allclose(got, 3 * np_ce(ens, self.y).mean(),
                               rtol=1e-5)

  def test_distill_matches_numpy(self):
    rng = np.random.default_rng(1)
    teacher = rng.normal(size=(16, 6)) * 3.0
    w = np_cb_weights(COUNTS)
    got = jax.jit(lambda z, t: losses.ride_distill_loss(
        z, self.y, t, class_counts=COUNTS, class_weights=w,
        diversity_factor=-0.45, distill_temperature=1.5, distill_weight=0.7,
        ride_weight=1.3))(jnp.asarray(self.z, jnp.float32),
                          jnp.asarray(teacher, jnp.float32))
    ride = np_ride(self.z, self.y, COUNTS, weights=w, factor=-0.45)
    kd = np_kd(self.z.mean(axis=0), teacher, 1.5, 1.0).mean()
    np.testing.assert_allclose(got, 3 * (1.3 * ride + 0.7 * kd), rtol=2e-5)

  def test_bad_shapes_raise(self):
    with self.assertRaisesRegex(ValueError, r"\[E, B, C\]"):
      losses.ride_loss(jnp.zeros((4, 6)), self.y[:4], class_counts=COUNTS)
    with self.assertRaisesRegex(ValueError, "class_counts"):
      losses.ride_loss(jnp.zeros((2, 4, 6)), self.y[:4],
                       class_counts=COUNTS[:5])
    with self.assertRaisesRegex(ValueError, "reweight_factor"):
      losses.ride_loss(jnp.zeros((2, 4, 6)), self.y[:4], class_counts=COUNTS,
                       class_weights=np_cb_weights(COUNTS),
                       reweight_factor=5.0)


class DistillationTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(2)
    self.s = rng.normal(size=(12, 7)) * 3.0
    self.t = rng.normal(size=(12, 7)) * 3.0
    self.y = rng.integers(0, 7, size=12)

  @parameterized.parameters(1.0, 2.0, 4.0)
  def test_hinton_kd_of_equal_logits_is_zero(self, temp):
    got = losses.distillation_loss(self.s, self.s, temperature=temp)
    np.testing.assert_allclose(got, np.zeros(12), atol=1e-5)

  @parameterized.parameters((2.0, 0.5), (3.0, 0.5), (1.0, 1.0), (2.0, 0.25))
  def test_matches_numpy(self, temp, power):
    got = jax.jit(lambda s, t: losses.distillation_loss(
        s, t, temperature=temp, teacher_power=power))(
            jnp.asarray(self.s, jnp.float32), jnp.asarray(self.t, jnp.float32))
    np.testing.assert_allclose(got, np_kd(self.s, self.t, temp, power),
                               rtol=1e-4, atol=1e-6)

  def test_flattened_teacher_is_not_the_plain_one(self):
    flat = losses.distillation_loss(self.s, self.t, temperature=2.0,
                                    teacher_power=0.5)
    plain = losses.distillation_loss(self.s, self.t, temperature=2.0)
    self.assertGreater(float(jnp.max(jnp.abs(flat - plain))), 1e-3)

  def test_no_gradient_to_the_teacher(self):
    g = jax.grad(lambda t: jnp.sum(losses.distillation_loss(
        jnp.asarray(self.s), t, temperature=2.0, teacher_power=0.5)))(
            jnp.asarray(self.t, jnp.float32))
    np.testing.assert_array_equal(g, np.zeros_like(self.t))

  def test_dive_matches_numpy(self):
    counts = np.array([300, 100, 50, 20, 10, 5, 2], np.float64)
    got = jax.jit(lambda s, t, y: losses.dive_loss(
        s, t, y, class_counts=counts))(
            jnp.asarray(self.s, jnp.float32), jnp.asarray(self.t, jnp.float32),
            self.y)
    bs = np_ce(self.s + np.log(counts), self.y)
    want = 0.5 * np_kd(self.s, self.t, 2.0, 0.5) + 0.5 * bs
    np.testing.assert_allclose(got, want, rtol=1e-4)

  def test_bad_arguments_raise(self):
    with self.assertRaisesRegex(ValueError, "teacher_logits"):
      losses.distillation_loss(self.s, self.t[:, :5], temperature=2.0)
    with self.assertRaisesRegex(ValueError, "temperature"):
      losses.distillation_loss(self.s, self.t, temperature=0.0)
    with self.assertRaisesRegex(ValueError, "alpha"):
      losses.dive_loss(self.s, self.t, self.y, class_counts=np.ones(7),
                       alpha=1.5)


class SadeLossTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(3)
    self.z = rng.normal(size=(3, 10, 6)) * 3.0
    self.y = rng.integers(0, 6, size=10)

  def test_inverse_prior_of_a_small_example(self):
    np.testing.assert_allclose(losses.inverse_prior(np.array([5, 5, 1])),
                               np.array([5, 1, 5]) / 11, rtol=1e-6)
    np.testing.assert_allclose(losses.inverse_prior(np.array([1, 2, 3, 4])),
                               np.array([4, 3, 2, 1]) / 10, rtol=1e-6)

  @parameterized.parameters((COUNTS,), (TIED,))
  def test_inverse_prior_matches_rank_counting(self, counts):
    np.testing.assert_allclose(losses.inverse_prior(counts),
                               np_inverse_prior(counts), rtol=1e-6)

  @parameterized.parameters((COUNTS, 2.0), (TIED, 2.0), (TIED, 0.7))
  def test_matches_numpy(self, counts, tau):
    got = jax.jit(lambda z, y: losses.sade_loss(
        z, y, class_counts=counts, tau=tau))(
            jnp.asarray(self.z, jnp.float32), self.y)
    log_prior = np.log(counts / counts.sum())
    log_inv = np.log(np_inverse_prior(counts))
    want = (np_ce(self.z[0], self.y)
            + np_ce(self.z[1] + log_prior, self.y)
            + np_ce(self.z[2] + log_prior - tau * log_inv, self.y))
    np.testing.assert_allclose(got, want, rtol=1e-5)

  def test_inverse_expert_at_tau_zero_is_balanced_softmax(self):
    z = jnp.asarray(self.z, jnp.float32)
    total = losses.sade_loss(z, self.y, class_counts=TIED, tau=0.0)
    first_two = (losses.weighted_cross_entropy(z[0], self.y)
                 + losses.balanced_softmax_loss(z[1], self.y,
                                                class_counts=TIED))
    np.testing.assert_allclose(
        total - first_two,
        losses.balanced_softmax_loss(z[2], self.y, class_counts=TIED),
        rtol=1e-5, atol=1e-5)

  def test_needs_three_experts(self):
    with self.assertRaisesRegex(ValueError, "E = 3"):
      losses.sade_loss(jnp.zeros((2, 4, 6)), self.y[:4], class_counts=COUNTS)


class AceTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(4)
    # Counts deliberately not sorted, with a tie.
    self.counts = np.array([30, 400, 8, 120, 30, 2, 60], np.float64)
    self.z = rng.normal(size=(3, 14, 7)) * 2.0
    self.y = rng.integers(0, 7, size=14)

  @parameterized.parameters(1, 2, 3, 4, 7)
  def test_masks_are_nested_and_match_numpy(self, e_total):
    masks = np.asarray(losses.ace_class_masks(self.counts, e_total))
    np.testing.assert_array_equal(masks, np_ace_masks(self.counts, e_total))
    self.assertTrue(masks[0].all())
    for e in range(1, e_total):
      self.assertTrue(np.all(masks[e] <= masks[e - 1]))  # nested
      self.assertTrue(masks[e].any())

  def test_three_expert_masks_by_hand(self):
    # Sorted by count: 1 (400), 3 (120), 6 (60), 0 (30), 4 (30), 2 (8), 5 (2);
    # starts 0, 2, 4.
    masks = np.asarray(losses.ace_class_masks(self.counts, 3))
    np.testing.assert_array_equal(masks[1], [1, 0, 1, 0, 1, 1, 1])
    np.testing.assert_array_equal(masks[2], [0, 0, 1, 0, 1, 1, 0])

  def test_lr_scales(self):
    masks = np_ace_masks(self.counts, 3)
    want = (masks * self.counts).sum(axis=1) / self.counts.sum()
    np.testing.assert_allclose(losses.ace_lr_scales(self.counts, 3), want,
                               rtol=1e-6)

  @parameterized.parameters(0.0, 1.0, 0.3)
  def test_loss_matches_numpy(self, weight):
    got = jax.jit(lambda z, y: losses.ace_loss(
        z, y, class_counts=self.counts, complementary_weight=weight))(
            jnp.asarray(self.z, jnp.float32), self.y)
    masks = np_ace_masks(self.counts, 3)
    want = 0.0
    for e in range(3):
      cls_terms, com_terms = [], []
      covered = np.flatnonzero(masks[e])
      for i, label in enumerate(self.y):
        if masks[e, label]:
          sub = self.z[e, i, covered]
          cls_terms.append(np.log(np.exp(sub).sum()) - self.z[e, i, label])
        else:
          com_terms.append(np.mean(self.z[e, i, covered] ** 2))
      want += np.mean(cls_terms) if cls_terms else 0.0
      want += weight * (np.mean(com_terms) if com_terms else 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5)

  def test_loss_gradient_is_finite_and_ignores_uncovered_logits(self):
    z = jnp.asarray(self.z, jnp.float32)
    g = jax.grad(lambda z: losses.ace_loss(z, self.y,
                                           class_counts=self.counts))(z)
    self.assertTrue(np.all(np.isfinite(g)))
    masks = np_ace_masks(self.counts, 3)
    # An expert's logits outside its classes never enter its loss.
    np.testing.assert_array_equal(np.asarray(g)[~np.repeat(
        masks[:, None, :], 14, axis=1)], 0.0)

  def test_aggregate_matches_numpy(self):
    masks = np_ace_masks(self.counts, 3)
    scales = np.array([1.0, 1.7, 0.6])
    got = jax.jit(lambda z, m, s: losses.ace_aggregate(z, m, scales=s))(
        jnp.asarray(self.z, jnp.float32), jnp.asarray(masks),
        jnp.asarray(scales))
    want = np.zeros((14, 7))
    for c in range(7):
      experts = [e for e in range(3) if masks[e, c]]
      want[:, c] = np.mean([scales[e] * self.z[e, :, c] for e in experts],
                           axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    plain = losses.ace_aggregate(self.z, masks)
    np.testing.assert_allclose(plain[:, 1], self.z[0, :, 1], rtol=1e-6)

  def test_logit_scales(self):
    masks = np_ace_masks(self.counts, 3)
    norms = np.random.default_rng(5).uniform(0.5, 2.0, size=(3, 7))
    want = [norms[0].mean() / norms[e][masks[e]].mean() for e in range(3)]
    np.testing.assert_allclose(losses.ace_logit_scales(norms, masks), want,
                               rtol=1e-6)

  def test_bad_arguments_raise(self):
    with self.assertRaisesRegex(ValueError, "num_experts"):
      losses.ace_class_masks(self.counts, 8)
    with self.assertRaisesRegex(ValueError, "covered by none"):
      losses.ace_aggregate(self.z, np.zeros((3, 7), bool))
    with self.assertRaisesRegex(ValueError, "masks must have shape"):
      losses.ace_aggregate(self.z, np.ones((2, 7), bool))


if __name__ == "__main__":
  absltest.main()
