"""Tests for ltjax.mixing: mixup, CutMix, Remix, soft targets and GLMC."""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import mixing


def np_cosine(x, y, eps=1e-8):
  nx = np.maximum(np.linalg.norm(x, axis=-1), eps)
  ny = np.maximum(np.linalg.norm(y, axis=-1), eps)
  return np.sum(x * y, axis=-1) / (nx * ny)


def np_log_softmax(z):
  z = z - z.max(-1, keepdims=True)
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def box_of(mask):
  """(top, bottom, left, right) of a bool mask [H, W]; asserts a rectangle."""
  rows = np.flatnonzero(mask.any(1))
  cols = np.flatnonzero(mask.any(0))
  if rows.size == 0:
    assert not mask.any()
    return None
  top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
  expected = np.zeros_like(mask)
  expected[top:bottom, left:right] = True
  np.testing.assert_array_equal(mask, expected)  # one filled rectangle
  return top, bottom, left, right


def feasible_extents(size, cut):
  """Every clipped [c - cut//2, c + cut//2) for a centre c in [0, size)."""
  return {(int(np.clip(c - cut // 2, 0, size)),
           int(np.clip(c + cut // 2, 0, size))) for c in range(size)}


@jax.jit
def draw_lambdas(keys, alpha):
  """sample_lambda for each key with a traced alpha: one compile in all."""
  return jax.vmap(lambda k: mixing.sample_lambda(k, alpha=alpha))(keys)


class SampleLambdaTest(parameterized.TestCase):

  def test_nonpositive_alpha_is_no_mixing(self):
    for alpha in (0.0, -1.0):
      self.assertEqual(float(mixing.sample_lambda(jax.random.key(0),
                                                  alpha=alpha)), 1.0)
      traced = draw_lambdas(jax.random.split(jax.random.key(1), 2000),
                            jnp.float32(alpha))
      np.testing.assert_array_equal(traced, np.ones(2000))

  def test_beta_draws_in_open_unit_interval(self):
    keys = jax.random.split(jax.random.key(3), 2000)
    for alpha in (0.5, 1.0, 2.0):
      lam = np.asarray(draw_lambdas(keys, jnp.float32(alpha)))
      self.assertEqual(lam.dtype, np.float32)
      self.assertTrue(np.all((lam > 0) & (lam < 1)))
      # Beta(a, a) is symmetric about 1/2 with variance 1 / (4 (2a + 1)).
      self.assertAlmostEqual(lam.mean(), 0.5, delta=0.04)
      self.assertAlmostEqual(lam.var(), 1 / (4 * (2 * alpha + 1)),
                             delta=0.03)


class MixupTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.a = rng.normal(size=(4, 5, 6, 3)).astype(np.float32)
    self.b = rng.normal(size=(4, 5, 6, 3)).astype(np.float32)

  def test_lambda_one_is_no_mixing(self):
    np.testing.assert_array_equal(mixing.mixup(self.a, self.b, 1.0), self.a)

  def test_scalar_lambda_against_numpy(self):
    np.testing.assert_allclose(mixing.mixup(self.a, self.b, 0.3),
                               0.3 * self.a + 0.7 * self.b, rtol=1e-6,
                               atol=1e-6)

  def test_per_example_lambda_against_numpy(self):
    lam = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    expected = (lam[:, None, None, None] * self.a
                + (1 - lam[:, None, None, None]) * self.b)
    np.testing.assert_allclose(mixing.mixup(self.a, self.b, lam), expected,
                               rtol=1e-6, atol=1e-6)

  def test_dtype_kept(self):
    out = mixing.mixup(self.a.astype(jnp.bfloat16),
                       self.b.astype(jnp.bfloat16), 0.5)
    self.assertEqual(out.dtype, jnp.bfloat16)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "inputs_b"):
      mixing.mixup(self.a, self.b[:3], 0.5)
    with self.assertRaisesRegex(ValueError, "floating"):
      mixing.mixup(self.a.astype(np.int32), self.b.astype(np.int32), 0.5)
    with self.assertRaisesRegex(ValueError, "lam"):
      mixing.mixup(self.a, self.b, np.ones(3))


class CutMixTest(parameterized.TestCase):

  H, W = 6, 10  # Non-square, so a swapped axis would show.

  def setUp(self):
    super().setUp()
    self.a = np.zeros((2, self.H, self.W, 3), np.float32)
    self.b = np.ones((2, self.H, self.W, 3), np.float32)
    self.calls = 0

    def fn(lam, key):
      self.calls += 1  # Counts traces.
      return mixing.cutmix(self.a, self.b, lam, key)

    self.jitted = jax.jit(fn)

  def test_lambda_one_is_an_empty_box(self):
    for seed in range(5):
      out, lam_box = self.jitted(jnp.float32(1.0), jax.random.key(seed))
      np.testing.assert_array_equal(out, self.a)
      self.assertEqual(float(lam_box), 1.0)

  def test_box_area_matches_returned_lambda_and_rand_bbox(self):
    lams = (0.0, 0.1, 0.3, 0.5, 0.77, 0.95)
    for i, lam in enumerate(lams):
      for seed in range(6):
        out, lam_box = self.jitted(jnp.float32(lam),
                                   jax.random.key(100 * i + seed))
        out = np.asarray(out)
        # One box for the whole batch, across all channels.
        np.testing.assert_array_equal(out[0], out[1])
        for c in range(1, 3):
          np.testing.assert_array_equal(out[..., 0], out[..., c])
        mask = out[0, ..., 0] == 1.0
        self.assertEqual(mask.sum(),
                         round((1 - float(lam_box)) * self.H * self.W))
        np.testing.assert_allclose(
            float(lam_box), 1 - mask.sum() / (self.H * self.W), rtol=1e-6)
        # rand_bbox: side floor(S sqrt(1 - lam)) on each axis, clipped.
        r = np.sqrt(1 - lam)
        cut_h, cut_w = int(self.H * r), int(self.W * r)
        box = box_of(mask)
        if box is None:  # Empty only when a half side rounds to 0.
          self.assertTrue(cut_h // 2 == 0 or cut_w // 2 == 0)
          continue
        top, bottom, left, right = box
        self.assertIn((top, bottom), feasible_extents(self.H, cut_h))
        self.assertIn((left, right), feasible_extents(self.W, cut_w))
    self.assertEqual(self.calls, 1)  # Traced lambda and key: one compile.

  def test_lambda_must_be_scalar(self):
    with self.assertRaisesRegex(ValueError, "lam"):
      mixing.cutmix(self.a, self.b, np.array([0.5, 0.5]), jax.random.key(0))


class RemixTest(parameterized.TestCase):

  COUNTS = np.array([100, 10, 30])

  @staticmethod
  def expected(lam, n_a, n_b, kappa, tau):
    """The Bag-of-Tricks rule, one example at a time."""
    w = lam
    if n_a / n_b >= kappa and lam < tau:
      w = 0.0
    if n_a * kappa / n_b <= 1 and 1 - lam < tau:
      w = 1.0
    return w

  @parameterized.named_parameters(
      # (labels_a, labels_b, lam, expected weight)
      ("head_with_tail_small_lambda_goes_to_tail", 0, 1, 0.3, 0.0),
      ("ratio_at_kappa_counts", 2, 1, 0.3, 0.0),
      ("head_with_tail_large_lambda_keeps_lambda", 0, 1, 0.7, 0.7),
      ("tail_with_head_large_lambda_goes_to_tail", 1, 0, 0.7, 1.0),
      ("tail_with_head_small_lambda_keeps_lambda", 1, 0, 0.3, 0.3),
      ("balanced_pair_keeps_lambda", 0, 0, 0.3, 0.3),
      ("ratio_below_kappa_keeps_lambda", 2, 0, 0.7, 1.0),
  )
  def test_three_cases(self, label_a, label_b, lam, want):
    counts = self.COUNTS
    self.assertAlmostEqual(
        self.expected(lam, counts[label_a], counts[label_b], 3.0, 0.5), want)
    got = mixing.remix_targets(lam, np.array([label_a]), np.array([label_b]),
                               class_counts=counts)
    np.testing.assert_allclose(got, [want], rtol=1e-6)

  def test_second_rule_wins_when_both_hold(self):
    # kappa <= 1 and tau > 1/2 let both rules hold for a balanced pair.
    lam, kappa, tau = 0.5, 1.0, 0.6
    self.assertEqual(self.expected(lam, 10, 10, kappa, tau), 1.0)
    got = mixing.remix_targets(lam, np.array([1]), np.array([1]),
                               class_counts=self.COUNTS, kappa=kappa, tau=tau)
    np.testing.assert_array_equal(got, [1.0])

  def test_scalar_and_vector_lambda(self):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 32)
    b = rng.integers(0, 3, 32)
    lam = rng.uniform(size=32).astype(np.float32)
    fn = jax.jit(functools.partial(mixing.remix_targets, labels_a=a,
                                   labels_b=b, class_counts=self.COUNTS))
    want = [self.expected(l, self.COUNTS[i], self.COUNTS[j], 3.0, 0.5)
            for l, i, j in zip(lam, a, b)]
    np.testing.assert_allclose(fn(lam), want, rtol=1e-6)
    for l in (0.2, 0.8):
      np.testing.assert_array_equal(
          mixing.remix_targets(l, a, b, class_counts=self.COUNTS),
          fn(np.full(32, l, np.float32)))

  def test_bad_labels(self):
    with self.assertRaisesRegex(ValueError, "labels_b"):
      mixing.remix_targets(0.5, np.array([0]), np.array([3]),
                           class_counts=self.COUNTS)
    traced = jax.jit(functools.partial(
        mixing.remix_targets, 0.5, jnp.array([0, 0]),
        class_counts=self.COUNTS))
    got = np.asarray(traced(jnp.array([3, 1])))
    self.assertTrue(np.isnan(got[0]))
    self.assertEqual(got[1], 0.5)


class MixedTargetsTest(absltest.TestCase):

  def test_against_numpy(self):
    a, b = np.array([0, 2, 1]), np.array([1, 2, 0])
    w = np.array([0.25, 0.5, 1.0], np.float32)
    eye = np.eye(4)
    want = w[:, None] * eye[a] + (1 - w[:, None]) * eye[b]
    np.testing.assert_allclose(mixing.mixed_targets(a, b, w, 4), want,
                               rtol=1e-6)
    np.testing.assert_allclose(mixing.mixed_targets(a, b, 1.0, 4), eye[a])
    s = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        mixing.mixed_targets(a, b, w, 4, class_weights=s), want * s,
        rtol=1e-6)

  def test_cross_entropy_on_soft_targets_is_the_mixed_loss(self):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(5, 4))
    a, b = rng.integers(0, 4, 5), rng.integers(0, 4, 5)
    lam = 0.35
    logp = np_log_softmax(z)
    rows = np.arange(5)
    mixed = -(lam * logp[rows, a] + (1 - lam) * logp[rows, b])
    soft = -np.sum(np.asarray(mixing.mixed_targets(a, b, lam, 4)) * logp, -1)
    np.testing.assert_allclose(soft, mixed, rtol=1e-6)


class SimSiamTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(3)
    self.p = rng.normal(size=(6, 8)).astype(np.float32)
    self.z = rng.normal(size=(6, 8)).astype(np.float32)

  def test_against_numpy(self):
    np.testing.assert_allclose(mixing.simsiam_loss(self.p, self.z),
                               -np_cosine(self.p, self.z), rtol=1e-5)
    np.testing.assert_allclose(mixing.simsiam_loss(self.p, 3.0 * self.p),
                               -np.ones(6), rtol=1e-6)

  def test_stop_gradient_on_z(self):
    loss = lambda p, z: jnp.mean(mixing.simsiam_loss(p, z))
    grad_p, grad_z = jax.grad(loss, argnums=(0, 1))(self.p, self.z)
    np.testing.assert_array_equal(grad_z, np.zeros_like(self.z))
    self.assertGreater(float(jnp.abs(grad_p).sum()), 0.0)
    # The gradient of -cos wrt p is orthogonal to p (scale invariance).
    np.testing.assert_allclose(np.sum(np.asarray(grad_p) * self.p, -1), 0.0,
                               atol=1e-6)

  def test_consistency_is_the_symmetric_sum(self):
    pg, zg, pl, zl = self.p, self.z, self.z[::-1], self.p[::-1]
    np.testing.assert_allclose(
        mixing.mixture_consistency_loss(pg, zg, pl, zl),
        -np_cosine(pg, zl) - np_cosine(pl, zg), rtol=1e-5)


class CumulativeWeightTest(absltest.TestCase):

  def test_values(self):
    for epoch, want in ((0, 1.0), (100, 0.75), (199, 1 - (199 / 200) ** 2),
                        (200, 0.0)):
      self.assertAlmostEqual(float(mixing.cumulative_weight(epoch, 200)),
                             want, places=6)
    traced = jax.jit(mixing.cumulative_weight)
    self.assertAlmostEqual(float(traced(50.0, 200)), 1 - 0.25 ** 2, places=6)
    with self.assertRaisesRegex(ValueError, "num_epochs"):
      mixing.cumulative_weight(0, 0)


class GLMCTest(absltest.TestCase):

  B, H, W = 3, 8, 8

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(4)
    shape = (self.B, self.H, self.W, 2)
    self.v1 = rng.uniform(1, 2, shape).astype(np.float32)
    self.v2 = rng.uniform(3, 4, shape).astype(np.float32)
    self.b1 = rng.uniform(-2, -1, shape).astype(np.float32)
    self.b2 = rng.uniform(-4, -3, shape).astype(np.float32)
    self.y = np.array([0, 1, 2])
    self.yb = np.array([2, 2, 0])

  def test_alpha_zero_is_no_mixing(self):
    views = mixing.glmc_mix(jax.random.key(0), (self.v1, self.v2),
                            (self.b1, self.b2), self.y, self.yb, alpha=0.0)
    np.testing.assert_array_equal(views.mixup_images, self.v1)
    np.testing.assert_array_equal(views.cutmix_images, self.v2)
    self.assertEqual(float(views.mixup_weight), 1.0)
    self.assertEqual(float(views.cutmix_weight), 1.0)

  def test_views_follow_the_original(self):
    fn = jax.jit(functools.partial(
        mixing.glmc_mix, images=(self.v1, self.v2),
        images_balanced=(self.b1, self.b2), labels=self.y,
        labels_balanced=self.yb))
    lams = []
    for seed in range(8):
      views = fn(jax.random.key(seed))
      lam = float(views.mixup_weight)
      lams.append(lam)
      # Global: view 1 mixed with the balanced batch's view 1.
      np.testing.assert_allclose(views.mixup_images,
                                 lam * self.v1 + (1 - lam) * self.b1,
                                 rtol=1e-5, atol=1e-5)
      # Local: view 2, with one box of the balanced batch's view 2.
      local = np.asarray(views.cutmix_images)
      from_b = local < 0
      np.testing.assert_array_equal(local, np.where(from_b, self.b2, self.v2))
      mask = from_b[0, ..., 0]
      np.testing.assert_array_equal(from_b, np.broadcast_to(
          mask[None, ..., None], from_b.shape))
      # One lambda; the box side is ceil(S sqrt(1 - lambda)).
      self.assertEqual(float(views.cutmix_weight), lam)
      cut = int(np.ceil(self.H * np.sqrt(1 - lam)))
      box = box_of(mask)
      if box is not None:
        self.assertIn((box[0], box[1]), feasible_extents(self.H, cut))
        self.assertIn((box[2], box[3]), feasible_extents(self.W, cut))
      else:
        self.assertEqual(cut // 2, 0)
      np.testing.assert_array_equal(views.labels, self.y)
      np.testing.assert_array_equal(views.labels_balanced, self.yb)
    self.assertGreater(np.std(lams), 0.05)  # Beta(1, 1) draws differ.

  def test_exact_box_lambda_is_the_area_fraction(self):
    views = mixing.glmc_mix(jax.random.key(5), (self.v1, self.v2),
                            (self.b1, self.b2), self.y, self.yb,
                            exact_box_lambda=True)
    from_b = np.asarray(views.cutmix_images)[0, ..., 0] < 0
    np.testing.assert_allclose(float(views.cutmix_weight),
                               1 - from_b.mean(), rtol=1e-6)

  def test_loss_against_numpy(self):
    rng = np.random.default_rng(6)
    c, k = 3, 4
    out = {}
    for view in ("g", "l"):
      out[view] = {name: rng.normal(size=(self.B, dim)).astype(np.float32)
                   for name, dim in (("logits", c), ("logits_cb", c),
                                     ("z", k), ("p", k))}
    views = mixing.GLMCViews(self.v1, self.v2, jnp.float32(0.7),
                             jnp.float32(0.4), self.y, self.yb)
    s = np.array([0.5, 1.0, 1.5])
    a, beta = 0.8, 4.0
    eye = np.eye(c)
    t_g = 0.7 * eye[self.y] + 0.3 * eye[self.yb]
    t_l = 0.4 * eye[self.y] + 0.6 * eye[self.yb]

    def ce(z, t):
      return -np.sum(np_log_softmax(z) * t, -1)

    g, l = out["g"], out["l"]
    want = (a * (ce(g["logits"], t_g) + ce(l["logits"], t_l))
            + (1 - a) * (ce(g["logits_cb"], t_g * s)
                         + ce(l["logits_cb"], t_l * s))
            - beta * (np_cosine(g["p"], l["z"]) + np_cosine(l["p"], g["z"])))
    got = mixing.glmc_loss(g, l, views, class_weights=s, weight=a,
                           contrast_weight=beta)
    np.testing.assert_allclose(got, want, rtol=1e-5)

  def test_heads(self):
    heads = mixing.GLMCHeads(num_classes=5, proj_dim=16)
    feats = np.random.default_rng(7).normal(size=(4, 12)).astype(np.float32)
    variables = heads.init(jax.random.key(0), feats)
    shapes = jax.tree.map(jnp.shape, variables["params"])
    self.assertEqual(shapes, {
        "classifier_cb": {"kernel": (12, 5), "bias": (5,)},
        "projector": {"kernel": (12, 16), "bias": (16,)},
        "predictor": {"kernel": (16, 16), "bias": (16,)},
    })
    out = heads.apply(variables, feats)
    prm = jax.tree.map(np.asarray, variables["params"])

    def dense(x, name):
      return x @ prm[name]["kernel"] + prm[name]["bias"]

    z = dense(feats, "projector")
    np.testing.assert_allclose(out["z"], z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["p"], dense(z, "predictor"), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(out["logits_cb"], dense(feats,
                                                       "classifier_cb"),
                               rtol=1e-5, atol=1e-5)
    # PyTorch's default bias init: |b| <= 1 / sqrt(fan-in).
    self.assertLessEqual(np.abs(prm["projector"]["bias"]).max(),
                         1 / np.sqrt(12))


if __name__ == "__main__":
  absltest.main()
