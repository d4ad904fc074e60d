"""Tests for VS, LADE and label-aware smoothing against independent NumPy."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np

from ltjax import losses

COUNTS = np.array([500, 300, 120, 40, 10])


# ---------------------------------------------------------------------------
# Reference formulas, written out in float64 NumPy from the papers and the
# official codes.
# ---------------------------------------------------------------------------
def np_log_softmax(z):
  z = np.asarray(z, np.float64)
  shifted = z - z.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_ce(z, y):
  return -np_log_softmax(z)[np.arange(len(y)), y]


def np_vs(z, y, n, gamma, tau, w=None):
  """VSLoss: CE(z / Delta + iota), Delta = (1/n)^g / min((1/n)^g)."""
  n = np.asarray(n, np.float64)
  temp = (1.0 / n) ** gamma
  delta = temp / temp.min()
  iota = tau * np.log(n / n.sum())
  loss = np_ce(np.asarray(z, np.float64) / delta + iota, y)
  return loss if w is None else np.asarray(w, np.float64)[y] * loss


def np_lade(z, y, n, lam, keep=None):
  """LADELoss, one class at a time, as the paper's definition reads."""
  z = np.asarray(z, np.float64)
  if keep is not None:
    z, y = z[keep], y[keep]
  n = np.asarray(n, np.float64)
  prior = n / n.sum()
  num_rows, num_classes = z.shape
  total = 0.0
  for c in range(num_classes):
    rows = [i for i in range(num_rows) if y[i] == c]
    first = np.mean(z[rows, c]) if rows else 0.0
    values = [np.exp(z[i, c] - np.log(prior[c]) + np.log(1.0 / num_classes))
              for i in range(num_rows)]
    second = np.log(np.sum(values) / num_rows)
    total += prior[c] * (first - second - lam * second ** 2)
  return -total


def np_las_eps(n, head, tail, shape, power=None):
  n = np.asarray(n, np.float64)
  r = (n - n.min()) / (n.max() - n.min())
  if shape == "concave":
    return tail + (head - tail) * np.sin(r * np.pi / 2)
  if shape == "linear":
    return tail + (head - tail) * r
  if shape == "convex":
    return head + (head - tail) * np.sin(1.5 * np.pi + r * np.pi / 2)
  return tail + (head - tail) * r ** power


def np_las(z, y, eps):
  log_p = np_log_softmax(z)
  e = np.asarray(eps, np.float64)[y]
  nll = -log_p[np.arange(len(y)), y]
  return (1 - e) * nll + e * (-log_p.mean(axis=-1))


def problem(batch=8, classes=5, seed=0, scale=3.0):
  rng = np.random.default_rng(seed)
  z = (scale * rng.standard_normal((batch, classes))).astype(np.float32)
  y = rng.integers(0, classes, batch)
  return z, y


# ---------------------------------------------------------------------------
# VS loss.
# ---------------------------------------------------------------------------
class VSLossTest(parameterized.TestCase):

  @parameterized.parameters((0.2, 1.0), (0.3, 1.2), (0.5, 0.0))
  def test_matches_numpy(self, gamma, tau):
    z, y = problem()
    got = losses.vs_loss(z, y, class_counts=COUNTS, gamma=gamma, tau=tau)
    self.assertEqual(got.shape, (8,))
    np.testing.assert_allclose(got, np_vs(z, y, COUNTS, gamma, tau),
                               rtol=1e-5, atol=1e-6)

  def test_gamma_zero_is_logit_adjusted(self):
    z, y = problem(seed=1)
    got = losses.vs_loss(z, y, class_counts=COUNTS, gamma=0.0, tau=1.3)
    want = losses.logit_adjusted_loss(
        z, y, class_priors=COUNTS / COUNTS.sum(), tau=1.3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

  def test_class_weights_multiply(self):
    z, y = problem(seed=2)
    w = np.array([0.1, 0.5, 1.0, 2.0, 4.0])
    plain = losses.vs_loss(z, y, class_counts=COUNTS)
    weighted = losses.vs_loss(z, y, class_counts=COUNTS, class_weights=w)
    np.testing.assert_allclose(weighted, w[y] * plain, rtol=1e-6)
    np.testing.assert_allclose(weighted, np_vs(z, y, COUNTS, 0.2, 1.0, w),
                               rtol=1e-5, atol=1e-6)

  def test_torch_weighted_reduction(self):
    # PyTorch's cross_entropy(weight=w) = sum w_y l / sum w_y.
    z, y = problem(seed=3)
    w = np.array([0.2, 0.4, 1.0, 3.0, 5.0])
    want = np.sum(np_vs(z, y, COUNTS, 0.2, 1.0, w)) / np.sum(w[y])
    got = losses.weighted_mean(losses.vs_loss(z, y, class_counts=COUNTS), y,
                               class_weights=w)
    np.testing.assert_allclose(got, want, rtol=1e-5)

  def test_gradient(self):
    z, y = problem(batch=3, classes=5, seed=4, scale=1.0)
    with jax.enable_x64(True):
      fn = jax.jit(lambda x: losses.vs_loss(x, y, class_counts=COUNTS))
      check_grads(fn, (np.float64(z),), order=1, modes=("rev",), atol=1e-4,
                  rtol=1e-4)

  def test_traced_out_of_range_label_is_nan(self):
    z, _ = problem(batch=2)
    got = jax.jit(lambda y: losses.vs_loss(z, y, class_counts=COUNTS))(
        jnp.array([1, -1]))
    self.assertTrue(np.isfinite(got[0]))
    self.assertTrue(np.isnan(got[1]))

  @parameterized.named_parameters(
      ("negative_gamma", dict(gamma=-0.1), "gamma"),
      ("negative_tau", dict(tau=-1.0), "tau"),
      ("zero_count", dict(class_counts=np.array([5, 0, 1, 1, 1])),
       "class_counts"),
      ("wrong_length", dict(class_counts=np.array([5, 1])), "class_counts"),
      ("negative_weight", dict(class_weights=-np.ones(5)), "class_weights"),
  )
  def test_rejects(self, kwargs, name):
    z, y = problem()
    kwargs = dict(dict(class_counts=COUNTS), **kwargs)
    with self.assertRaisesRegex(ValueError, name):
      losses.vs_loss(z, y, **kwargs)


# ---------------------------------------------------------------------------
# LADE.
# ---------------------------------------------------------------------------
class LadeLossTest(parameterized.TestCase):

  @parameterized.parameters(0.0, 0.1, 0.5)
  def test_matches_per_class_loop(self, lam):
    z, _ = problem(batch=7)
    y = np.array([0, 0, 1, 2, 2, 2, 4])  # class 3 absent from the batch
    got = losses.lade_loss(z, y, class_counts=COUNTS, remine_lambda=lam)
    self.assertEqual(got.shape, ())
    np.testing.assert_allclose(got, np_lade(z, y, COUNTS, lam), rtol=1e-5)

  def test_mask_drops_rows(self):
    z, y = problem(batch=8, seed=5)
    keep = np.array([1, 1, 0, 1, 1, 0, 1, 1], bool)
    y_padded = np.where(keep, y, -1)  # padding labels are never read
    got = losses.lade_loss(z, y_padded, class_counts=COUNTS, mask=keep)
    np.testing.assert_allclose(got, np_lade(z, y, COUNTS, 0.1, keep),
                               rtol=1e-5)
    jitted = jax.jit(lambda z, y, m: losses.lade_loss(
        z, y, class_counts=COUNTS, mask=m))(z, y_padded, keep)
    np.testing.assert_allclose(jitted, got, rtol=1e-5)

  def test_empty_mask_is_zero_with_finite_gradient(self):
    z, y = problem(batch=4)
    keep = np.zeros(4, bool)
    fn = lambda x: losses.lade_loss(x, y, class_counts=COUNTS, mask=keep)
    value, grad = jax.jit(jax.value_and_grad(fn))(z)
    self.assertEqual(float(value), 0.0)
    np.testing.assert_array_equal(grad, np.zeros_like(z))

  def test_gradient_matches_finite_differences(self):
    z, _ = problem(batch=4, classes=3, seed=6, scale=1.0)
    y = np.array([0, 0, 2, 2])  # class 1 absent
    counts = np.array([30, 10, 3])
    with jax.enable_x64(True):
      fn = jax.jit(lambda x: losses.lade_loss(x, y, class_counts=counts))
      check_grads(fn, (np.float64(z),), order=1, modes=("rev",), atol=1e-5,
                  rtol=1e-5)

  def test_traced_bad_label_is_nan(self):
    z, _ = problem(batch=3)
    got = jax.jit(lambda y: losses.lade_loss(z, y, class_counts=COUNTS))(
        jnp.array([0, 7, 1]))
    self.assertTrue(np.isnan(got))

  def test_prior_ce_is_balanced_softmax(self):
    # LADE's PriorCELoss, CE(z + log(pi + 1e-9)), is balanced_softmax_loss.
    z, y = problem(seed=7)
    prior = COUNTS / COUNTS.sum()
    np.testing.assert_allclose(
        losses.balanced_softmax_loss(z, y, class_counts=COUNTS),
        np_ce(z + np.log(prior + 1e-9), y), rtol=1e-5, atol=1e-6)

  @parameterized.named_parameters(
      ("negative_lambda", dict(remine_lambda=-0.1), "remine_lambda"),
      ("3d_logits", dict(logits=np.zeros((2, 4, 5), np.float32),
                         labels=np.zeros((2, 4), int)), "logits"),
      ("mask_shape", dict(mask=np.ones(3, bool)), "mask"),
      ("bad_label", dict(labels=np.array([0, 1, 9, 0, 1, 1, 2, 3])),
       "labels"),
      ("zero_count", dict(class_counts=np.array([5, 0, 1, 1, 1])),
       "class_counts"),
  )
  def test_rejects(self, kwargs, name):
    z, y = problem()
    args = dict(logits=z, labels=y, class_counts=COUNTS)
    args.update(kwargs)
    logits, labels = args.pop("logits"), args.pop("labels")
    with self.assertRaisesRegex(ValueError, name):
      losses.lade_loss(logits, labels, **args)


# ---------------------------------------------------------------------------
# Label-aware smoothing.
# ---------------------------------------------------------------------------
class LabelAwareSmoothingTest(parameterized.TestCase):

  @parameterized.parameters(("concave", None), ("linear", None),
                            ("convex", None), ("exp", 2.0), ("exp", 0.5))
  def test_epsilons_match_numpy(self, shape, power):
    got = losses.label_aware_smoothing_epsilons(
        COUNTS, smooth_head=0.4, smooth_tail=0.1, shape=shape, power=power)
    want = np_las_eps(COUNTS, 0.4, 0.1, shape, power)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # Head (most frequent) gets the larger epsilon, tail the smaller.
    self.assertAlmostEqual(float(got[0]), 0.4, places=6)
    self.assertAlmostEqual(float(got[-1]), 0.1, places=6)
    self.assertTrue(np.all(np.diff(np.asarray(got)) <= 1e-7))

  def test_equal_counts_get_head_value(self):
    got = losses.label_aware_smoothing_epsilons(
        np.array([7, 7, 7]), smooth_head=0.3, smooth_tail=0.0)
    np.testing.assert_allclose(got, [0.3, 0.3, 0.3], rtol=1e-6)

  def test_zero_smoothing_is_cross_entropy(self):
    z, y = problem(seed=8)
    got = losses.label_aware_smoothing_loss(
        z, y, class_counts=COUNTS, smooth_head=0.0, smooth_tail=0.0)
    np.testing.assert_allclose(got, losses.weighted_cross_entropy(z, y),
                               rtol=1e-6, atol=1e-6)

  @parameterized.parameters("concave", "convex")
  def test_loss_matches_numpy(self, shape):
    z, y = problem(seed=9)
    got = losses.label_aware_smoothing_loss(
        z, y, class_counts=COUNTS, smooth_head=0.4, smooth_tail=0.1,
        shape=shape)
    want = np_las(z, y, np_las_eps(COUNTS, 0.4, 0.1, shape))
    self.assertEqual(got.shape, (8,))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

  def test_gradient_is_target_mixture(self):
    # d loss / dz = softmax(z) - ((1 - eps_y) e_y + eps_y / C).
    z, y = problem(batch=4, seed=10)
    eps = np_las_eps(COUNTS, 0.3, 0.0, "concave")
    g = jax.grad(lambda x: jnp.sum(losses.label_aware_smoothing_loss(
        x, y, class_counts=COUNTS, smooth_head=0.3, smooth_tail=0.0)))(z)
    p = np.exp(np_log_softmax(z))
    target = np.eye(5)[y] * (1 - eps[y])[:, None] + eps[y][:, None] / 5
    np.testing.assert_allclose(g, p - target, atol=1e-5)

  @parameterized.named_parameters(
      ("unknown_shape", dict(shape="cubic"), "shape"),
      ("exp_without_power", dict(shape="exp"), "power"),
      ("power_without_exp", dict(power=2.0), "power"),
      ("negative_power", dict(shape="exp", power=-1.0), "power"),
      ("head_above_one", dict(smooth_head=1.5), "smooth_head"),
      ("negative_tail", dict(smooth_tail=-0.1), "smooth_tail"),
      ("negative_count", dict(class_counts=np.array([5, -1, 1, 1, 1])),
       "class_counts"),
      ("count_length", dict(class_counts=np.array([5, 1])), "class_counts"),
  )
  def test_rejects(self, kwargs, name):
    z, y = problem()
    args = dict(class_counts=COUNTS, smooth_head=0.3, smooth_tail=0.0)
    args.update(kwargs)
    with self.assertRaisesRegex(ValueError, name):
      losses.label_aware_smoothing_loss(z, y, **args)


if __name__ == "__main__":
  absltest.main()
