"""Contrastive losses against per-anchor NumPy loops written from the papers.

The references loop over anchors and terms in float64 (no masks, no matrix
tricks), so they share nothing with the implementation but the formula.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import losses


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _views(rng, batch, views, dim):
  return _unit(rng.normal(size=(batch, views, dim)))


def np_supcon(features, labels, temperature, base_temperature):
  """SupCon, anchor by anchor: [B, V] (labels None: SimCLR)."""
  batch, views, _ = features.shape
  items = [(b, v) for v in range(views) for b in range(batch)]
  out = np.zeros((batch, views))
  for (b, v) in items:
    anchor = features[b, v]
    others = [(c, w) for (c, w) in items if (c, w) != (b, v)]
    denominator = sum(np.exp(anchor @ features[c, w] / temperature)
                      for (c, w) in others)
    positives = [(c, w) for (c, w) in others
                 if (c == b if labels is None else labels[c] == labels[b])]
    if not positives:
      continue
    total = sum(np.log(np.exp(anchor @ features[c, w] / temperature)
                       / denominator) for (c, w) in positives)
    out[b, v] = -(temperature / base_temperature) * total / len(positives)
  return out


def np_bcl(features, labels, prototypes, temperature):
  """BCL's `BalSCL`, anchor by anchor: [B, V]."""
  batch, views, _ = features.shape
  members = [(features[b, v], labels[b], (b, v)) for v in range(views)
             for b in range(batch)]
  if prototypes is not None:
    members += [(prototypes[c], c, ("proto", c))
                for c in range(len(prototypes))]
  count = {}
  for _, y, _ in members:
    count[y] = count.get(y, 0) + 1
  out = np.zeros((batch, views))
  for b in range(batch):
    for v in range(views):
      anchor, y = features[b, v], labels[b]
      others = [(z, c) for (z, c, name) in members if name != (b, v)]
      denominator = sum(
          np.exp(anchor @ z / temperature) / (count[c] - (c == y))
          for (z, c) in others)
      positives = [z for (z, c) in others if c == y]
      out[b, v] = -np.mean([np.log(np.exp(anchor @ z / temperature)
                                   / denominator) for z in positives])
  return out


def np_paco(features, labels, logits, priors, alpha, beta, gamma,
            temperature):
  batch, classes = logits.shape
  out = np.zeros(batch)
  for i in range(batch):
    scores, weights, in_denominator = [], [], []
    for c in range(classes):
      scores.append(logits[i, c] + np.log(priors[c] + 1e-9))
      weights.append(beta * (labels[i] == c))
      in_denominator.append(1.0)
    for j in range(len(features)):
      scores.append(features[i] @ features[j] / temperature)
      weights.append(alpha * (labels[j] == labels[i] and j != i))
      in_denominator.append(gamma * (j != i))
    scores, weights = np.array(scores), np.array(weights)
    log_z = np.log(np.sum(np.exp(scores) * np.array(in_denominator)))
    out[i] = -np.sum(weights * (scores - log_z)) / np.sum(weights)
  return out


class SupConTest(parameterized.TestCase):

  @parameterized.parameters((2, 0.1, 0.07), (3, 0.5, 0.5))
  def test_matches_the_formula(self, views, temperature, base):
    rng = np.random.default_rng(0)
    features = _views(rng, 8, views, 5)
    labels = np.array([0, 1, 0, 2, 1, 1, 3, 0])
    got = losses.supervised_contrastive_loss(
        jnp.asarray(features, jnp.float32), jnp.asarray(labels),
        temperature=temperature, base_temperature=base)
    self.assertEqual(got.shape, (8, views))
    np.testing.assert_allclose(
        got, np_supcon(features, labels, temperature, base), rtol=1e-5,
        atol=1e-5)

  def test_simclr_when_no_labels(self):
    rng = np.random.default_rng(1)
    features = _views(rng, 6, 2, 4)
    got = losses.supervised_contrastive_loss(
        jnp.asarray(features, jnp.float32), temperature=0.2)
    np.testing.assert_allclose(
        got, np_supcon(features, None, 0.2, 0.07), rtol=1e-5, atol=1e-5)
    # All-distinct labels are SimCLR too.
    distinct = losses.supervised_contrastive_loss(
        jnp.asarray(features, jnp.float32), jnp.arange(6), temperature=0.2)
    np.testing.assert_allclose(got, distinct, rtol=1e-6)

  def test_no_positive_gives_zero_not_nan(self):
    features = _views(np.random.default_rng(2), 3, 1, 4)
    got = losses.supervised_contrastive_loss(
        jnp.asarray(features, jnp.float32), jnp.array([0, 1, 1]),
        temperature=0.1)
    self.assertEqual(float(got[0, 0]), 0.0)
    self.assertTrue(np.all(np.isfinite(got)))

  def test_gradient_pulls_positives_together(self):
    # One step down the gradient raises the similarity of the positive pair.
    rng = np.random.default_rng(3)
    features = jnp.asarray(_views(rng, 4, 2, 6), jnp.float32)
    labels = jnp.array([0, 1, 2, 3])

    def loss(f):
      f = f / jnp.linalg.norm(f, axis=-1, keepdims=True)
      return jnp.mean(losses.supervised_contrastive_loss(
          f, labels, temperature=0.1))

    grad = jax.grad(loss)(features)
    moved = features - 0.05 * grad
    moved = moved / jnp.linalg.norm(moved, axis=-1, keepdims=True)
    before = jnp.sum(features[:, 0] * features[:, 1], -1)
    after = jnp.sum(moved[:, 0] * moved[:, 1], -1)
    self.assertGreater(float(jnp.mean(after)), float(jnp.mean(before)))

  def test_bad_shapes(self):
    with self.assertRaisesRegex(ValueError, r"\[B, V, D\]"):
      losses.supervised_contrastive_loss(jnp.ones((4, 3)), temperature=0.1)
    with self.assertRaisesRegex(ValueError, "labels must be"):
      losses.supervised_contrastive_loss(jnp.ones((4, 2, 3)), jnp.arange(3),
                                         temperature=0.1)


class BalancedContrastiveTest(parameterized.TestCase):

  @parameterized.parameters(True, False)
  def test_matches_the_official_formula(self, with_prototypes):
    rng = np.random.default_rng(4)
    features = _views(rng, 7, 2, 5)
    labels = np.array([0, 0, 0, 0, 1, 1, 2])  # a long-tailed batch
    prototypes = _unit(rng.normal(size=(4, 5))) if with_prototypes else None
    got = losses.balanced_contrastive_loss(
        jnp.asarray(features, jnp.float32), jnp.asarray(labels),
        None if prototypes is None else jnp.asarray(prototypes, jnp.float32),
        temperature=0.1)
    np.testing.assert_allclose(
        got, np_bcl(features, labels, prototypes, 0.1), rtol=1e-5, atol=1e-5)

  def test_uniform_counts_no_prototypes_is_supcon_up_to_averaging(self):
    # With n members of every class among the views and no prototypes,
    # class-averaging divides the anchor's own class by n - 1 and every
    # other class by n. Scaling the features of the other classes'
    # similarity terms by that ratio is the same as SupCon with those
    # terms' exponentials multiplied by (n - 1) / n: check the identity
    # l_BCL = l_SupCon(T_base = T) - log(n - 1) + log(1 + (r - 1) * q),
    # q the share of the other classes in SupCon's denominator, r = (n-1)/n.
    rng = np.random.default_rng(5)
    features = _views(rng, 6, 2, 4)
    labels = np.array([0, 0, 0, 1, 1, 1])  # n = 6 per class over 2 views
    n, t = 6, 0.2
    bcl = np.asarray(losses.balanced_contrastive_loss(
        jnp.asarray(features, jnp.float32), jnp.asarray(labels), None,
        temperature=t))
    supcon = np_supcon(features, labels, t, t)
    for b in range(6):
      for v in range(2):
        anchor = features[b, v]
        other = sum(np.exp(anchor @ features[c, w] / t)
                    for c in range(6) for w in range(2)
                    if labels[c] != labels[b])
        total = sum(np.exp(anchor @ features[c, w] / t)
                    for c in range(6) for w in range(2) if (c, w) != (b, v))
        q, r = other / total, (n - 1) / n
        expected = supcon[b, v] - np.log(n - 1) + np.log(
            1 + (r - 1) * q)
        self.assertAlmostEqual(bcl[b, v], expected, places=4)

  def test_every_class_weighs_the_same(self):
    # Without prototypes, duplicating the examples of another class does
    # not change an anchor's loss (class-averaging); SupCon's changes.
    rng = np.random.default_rng(6)
    base = _views(rng, 3, 2, 4)
    labels = np.array([0, 0, 1])
    doubled = np.concatenate([base, base[2:]], axis=0)
    doubled_labels = np.array([0, 0, 1, 1])
    one = losses.balanced_contrastive_loss(
        jnp.asarray(base, jnp.float32), jnp.asarray(labels), None,
        temperature=0.1)
    two = losses.balanced_contrastive_loss(
        jnp.asarray(doubled, jnp.float32), jnp.asarray(doubled_labels),
        None, temperature=0.1)
    np.testing.assert_allclose(one[:2], two[:2], rtol=1e-5)
    supcon_one = np_supcon(base, labels, 0.1, 0.1)
    supcon_two = np_supcon(doubled, doubled_labels, 0.1, 0.1)
    self.assertGreater(np.abs(supcon_one[:2] - supcon_two[:2]).max(), 1e-3)

  def test_label_outside_prototypes(self):
    with self.assertRaisesRegex(ValueError, r"\[0, 2\)"):
      losses.balanced_contrastive_loss(
          jnp.ones((2, 2, 3)), jnp.array([0, 2]), jnp.ones((2, 3)),
          temperature=0.1)


class PacoTest(absltest.TestCase):

  def test_matches_the_official_formula(self):
    rng = np.random.default_rng(7)
    batch, queue, classes = 5, 6, 3
    query = _unit(rng.normal(size=(batch, 4)))
    keys = _unit(rng.normal(size=(batch, 4)))
    queued = _unit(rng.normal(size=(queue, 4)))
    features = np.concatenate([query, keys, queued])
    labels = np.concatenate([[0, 1, 0, 2, 0], [0, 1, 0, 2, 0],
                             rng.integers(0, classes, queue)])
    logits = rng.normal(size=(batch, classes))
    priors = np.array([0.6, 0.3, 0.1])
    got = losses.paco_loss(
        jnp.asarray(features, jnp.float32), jnp.asarray(labels),
        jnp.asarray(logits, jnp.float32), class_priors=priors, alpha=0.05,
        beta=1.0, gamma=0.5, temperature=0.2)
    self.assertEqual(got.shape, (batch,))
    np.testing.assert_allclose(
        got, np_paco(features, labels, logits, priors, 0.05, 1.0, 0.5, 0.2),
        rtol=1e-5, atol=1e-5)

  def test_alpha_zero_is_balanced_softmax_over_centres_and_contrast(self):
    # alpha = 0, gamma = 0: only the class centres count: CE of z + log pi,
    # the balanced-softmax loss.
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(4, 3))
    labels = np.array([0, 1, 2, 0])
    features = _unit(rng.normal(size=(4, 5)))
    priors = np.array([0.7, 0.2, 0.1])
    got = losses.paco_loss(
        jnp.asarray(features, jnp.float32), jnp.asarray(labels),
        jnp.asarray(logits, jnp.float32), class_priors=priors, alpha=0.0,
        gamma=0.0, temperature=0.1)
    shifted = logits + np.log(priors + 1e-9)
    expected = -(shifted[np.arange(4), labels]
                 - np.log(np.exp(shifted).sum(1)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


if __name__ == "__main__":
  absltest.main()
