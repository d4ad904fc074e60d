"""Tests for ltjax.mixing.transfer_head_variation (feature-space tail aug).

Checked by properties computed here in NumPy: every new tail feature minus
a base of its class is exactly strength times one head deviation f_h - mu_h;
strength 0 gives the bases; the new features' mean tends to the tail mean;
counts reach the targets; head classes and originals stay as they were.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from ltjax import mixing

COUNTS = (50, 30, 6, 3)
HEADS = (0, 1)


def _data(counts=COUNTS, dim=4, seed=0):
  rng = np.random.default_rng(seed)
  y = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
  x = rng.normal(size=(len(y), dim)) * (1 + y[:, None]) + 3 * y[:, None]
  return x, y


def _head_deviations(x, y, heads=HEADS):
  rows = [x[y == h] - x[y == h].mean(axis=0) for h in heads]
  return np.concatenate(rows)


def _matches_a_row(vector, rows, atol=1e-9):
  return bool(np.any(np.all(np.abs(rows - vector) <= atol, axis=1)))


class TransferHeadVariationTest(parameterized.TestCase):

  def _run(self, x, y, **kwargs):
    kwargs.setdefault("target_counts", np.array([50, 50, 50, 50]))
    kwargs.setdefault("head_classes", np.array(HEADS))
    return mixing.transfer_head_variation(x, y, jax.random.key(0), **kwargs)

  @parameterized.parameters(0.5, 1.0, 2.0)
  def test_new_point_is_base_plus_head_deviation(self, strength):
    x, y = _data()
    xs, ys = self._run(x, y, strength=strength)
    deviations = strength * _head_deviations(x, y)
    for c in (2, 3):
      bases = x[y == c]
      for point in xs[len(x):][ys[len(y):] == c]:
        self.assertTrue(any(_matches_a_row(point - b, deviations)
                            for b in bases))

  def test_mean_base(self):
    x, y = _data()
    xs, ys = self._run(x, y, base="mean")
    deviations = _head_deviations(x, y)
    for c in (2, 3):
      mean = x[y == c].mean(axis=0)
      for point in xs[len(x):][ys[len(y):] == c]:
        self.assertTrue(_matches_a_row(point - mean, deviations))

  def test_zero_strength_gives_the_bases(self):
    x, y = _data()
    xs, ys = self._run(x, y, strength=0.0)
    for point, label in zip(xs[len(x):], ys[len(y):]):
      self.assertTrue(_matches_a_row(point, x[y == label], atol=0.0))
    xs, ys = self._run(x, y, strength=0.0, base="mean")
    for c in (2, 3):
      new = xs[len(x):][ys[len(y):] == c]
      self.assertLen(new, 50 - COUNTS[c])
      np.testing.assert_allclose(
          new, np.broadcast_to(x[y == c].mean(axis=0), new.shape))

  def test_counts_originals_and_heads(self):
    x, y = _data()
    xs, ys = self._run(x, y, target_counts=np.array([60, 50, 40, 20]))
    # Head targets are ignored; tails reach theirs.
    np.testing.assert_array_equal(np.bincount(ys), [50, 30, 40, 20])
    np.testing.assert_array_equal(xs[:len(x)], x)
    np.testing.assert_array_equal(ys[:len(y)], y)
    self.assertFalse(np.any(np.isin(ys[len(y):], HEADS)))
    self.assertEqual(xs.dtype, x.dtype)

  def test_class_mean_preserved_in_expectation(self):
    x, y = _data(counts=(400, 300, 5))
    xs, ys = mixing.transfer_head_variation(
        x, y, jax.random.key(1), target_counts=np.array([400, 300, 20005]),
        head_classes=np.array([0, 1]), base="mean")
    new = xs[len(x):]
    # Each new point is mu_t + a head deviation; the head deviations pooled
    # have mean 0, so the average tends to mu_t (std ~ 1.5 / sqrt(2e4)).
    np.testing.assert_allclose(new.mean(axis=0), x[y == 2].mean(axis=0),
                               atol=0.05)

  def test_determinism(self):
    x, y = _data()
    a = mixing.transfer_head_variation(
        x, y, jax.random.key(3), target_counts=np.array([50, 50, 50, 50]),
        head_classes=[0, 1])
    b = mixing.transfer_head_variation(
        x, y, jax.random.key(3), target_counts=np.array([50, 50, 50, 50]),
        head_classes=[0, 1])
    c = mixing.transfer_head_variation(
        x, y, jax.random.key(4), target_counts=np.array([50, 50, 50, 50]),
        head_classes=[0, 1])
    np.testing.assert_array_equal(a[0], b[0])
    self.assertFalse(np.array_equal(a[0], c[0]))

  def test_errors(self):
    x, y = _data()
    cases = [
        (dict(strength=-1.0), "strength"),
        (dict(base="median"), "base"),
        (dict(head_classes=np.array([7])), "head_classes must be"),
        (dict(target_counts=np.array([50, 50, 50])), r"labels must be in"),
        (dict(features=x[:, 0]), "features must be"),
    ]
    for change, message in cases:
      kwargs = dict(features=x)
      kwargs.update(change)
      with self.assertRaisesRegex(ValueError, message):
        self._run(kwargs.pop("features"), y, **kwargs)
    x2, y2 = _data(counts=(10, 0, 3))
    with self.assertRaisesRegex(ValueError, "no example"):
      mixing.transfer_head_variation(
          x2, y2, jax.random.key(0), target_counts=np.array([10, 10, 10]),
          head_classes=np.array([0]))
    with self.assertRaisesRegex(ValueError, "no variation"):
      mixing.transfer_head_variation(
          x2, y2, jax.random.key(0), target_counts=np.array([10, 0, 10]),
          head_classes=np.array([1]))


if __name__ == "__main__":
  absltest.main()
