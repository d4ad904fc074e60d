"""Tests of ltjax.sampling's re-samplers: under, over, SMOTE, ADASYN.

Every synthetic point is checked against the rule written out here in NumPy:
it must be x + u (nn - x) for a base x of its class, nn one of x's k nearest
same-class neighbours (found here by brute force) and u in [0, 1]. ADASYN's
per-example counts are recomputed from its ratio formula.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from ltjax import sampling

COUNTS = (40, 12, 6, 3)


def _data(counts=COUNTS, dim=3, seed=0, dtype=np.float32):
  """Overlapping Gaussian blobs, class c centred at c (first coordinate)."""
  rng = np.random.default_rng(seed)
  y = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
  x = rng.normal(size=(len(y), dim))
  x[:, 0] += y
  return x.astype(dtype), y


def _knn(points, k):
  """Brute-force k nearest other rows (sets of indices) of each row."""
  d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
  np.fill_diagonal(d, np.inf)
  return [set(np.argsort(row)[:k]) for row in d]


def _on_some_segment(point, x_class, neighbours, atol=1e-5):
  """Whether point = x_i + u (x_j - x_i), j a neighbour of i, u in [0, 1]."""
  for i, near in enumerate(neighbours):
    for j in near:
      step = x_class[j] - x_class[i]
      u = np.dot(point - x_class[i], step) / np.dot(step, step)
      if (-1e-6 <= u <= 1 + 1e-6 and np.allclose(
          x_class[i] + u * step, point, atol=atol)):
        return True
  return False


class TargetCountsTest(absltest.TestCase):

  def test_profiles(self):
    counts = np.array([50, 10, 0, 3])
    np.testing.assert_array_equal(sampling.target_counts(counts),
                                  [50, 50, 0, 50])
    np.testing.assert_array_equal(
        sampling.target_counts(counts, level="min", mode="under"),
        [3, 3, 0, 3])
    np.testing.assert_array_equal(sampling.target_counts(counts, level=20),
                                  [50, 20, 0, 20])
    np.testing.assert_array_equal(
        sampling.target_counts(counts, level=20, mode="under"),
        [20, 10, 0, 3])

  def test_errors(self):
    for kwargs in (dict(level="median"), dict(level=0), dict(mode="both")):
      with self.assertRaises(ValueError):
        sampling.target_counts([5, 2], **kwargs)
    with self.assertRaises(ValueError):
      sampling.target_counts([0, 0])


class RandomSamplersTest(absltest.TestCase):

  def test_under_sampling_keeps_a_subset(self):
    x, y = _data()
    target = sampling.target_counts(np.bincount(y), level="min",
                                    mode="under")
    xs, ys = sampling.random_under_sample(x, y, jax.random.key(0),
                                          target_counts=target)
    np.testing.assert_array_equal(np.bincount(ys), [3, 3, 3, 3])
    rows = {tuple(r) for r in x}
    self.assertTrue(all(tuple(r) in rows for r in xs))
    self.assertLen({tuple(r) for r in xs}, len(xs))  # no repeats
    # Each kept row keeps its own label.
    lookup = {tuple(r): l for r, l in zip(x, y)}
    self.assertTrue(all(lookup[tuple(r)] == l for r, l in zip(xs, ys)))

  def test_over_sampling_appends_copies(self):
    x, y = _data()
    target = np.array([40, 20, 20, 5])
    xs, ys = sampling.random_over_sample(x, y, jax.random.key(1),
                                         target_counts=target)
    np.testing.assert_array_equal(np.bincount(ys), target)
    np.testing.assert_array_equal(xs[:len(x)], x)
    np.testing.assert_array_equal(ys[:len(y)], y)
    for row, label in zip(xs[len(x):], ys[len(y):]):
      self.assertTrue(np.any(np.all(x[y == label] == row, axis=1)))

  def test_wrong_direction_errors(self):
    x, y = _data()
    with self.assertRaisesRegex(ValueError, "under-sampler cannot add"):
      sampling.random_under_sample(x, y, jax.random.key(0),
                                   target_counts=np.array([40, 13, 6, 3]))
    with self.assertRaisesRegex(ValueError, "over-sampler cannot remove"):
      sampling.random_over_sample(x, y, jax.random.key(0),
                                  target_counts=np.array([39, 12, 6, 3]))


class SmoteTest(parameterized.TestCase):

  @parameterized.parameters(1, 3, 5)
  def test_points_on_neighbour_segments(self, k):
    x, y = _data(counts=(40, 12, 9, 7))
    target = sampling.target_counts(np.bincount(y))
    xs, ys = sampling.smote(x, y, jax.random.key(2), k_neighbors=k,
                            target_counts=target)
    np.testing.assert_array_equal(np.bincount(ys), target)
    np.testing.assert_array_equal(xs[:len(x)], x)
    np.testing.assert_array_equal(ys[:len(y)], y)
    self.assertEqual(xs.dtype, x.dtype)
    new_x, new_y = xs[len(x):], ys[len(y):]
    # Synthetic points come class by class.
    np.testing.assert_array_equal(new_y, np.sort(new_y))
    for c in (1, 2, 3):
      x_class = x[y == c].astype(np.float64)
      neighbours = _knn(x_class, k)
      for point in new_x[new_y == c]:
        self.assertTrue(_on_some_segment(point.astype(np.float64), x_class,
                                         neighbours))

  def test_only_the_k_nearest_are_used(self):
    # Class 1 on a line at 0, 1, 2, 10, 11; with k = 1 no segment spans the
    # gap between 2 and 10.
    x = np.array([[-50.0], [0.0], [1.0], [2.0], [10.0], [11.0]])
    y = np.array([0, 1, 1, 1, 1, 1])
    xs, _ = sampling.smote(x, y, jax.random.key(3), k_neighbors=1,
                           target_counts=np.array([1, 400]))
    new = xs[len(x):, 0]
    self.assertFalse(np.any((new > 2.0) & (new < 10.0)))
    self.assertTrue(np.all((new >= 0.0) & (new <= 11.0)))

  def test_determinism(self):
    x, y = _data()
    target = sampling.target_counts(np.bincount(y))
    run = lambda key: sampling.smote(x, y, key, target_counts=target)
    a, b, c = run(jax.random.key(5)), run(jax.random.key(5)), run(
        jax.random.key(6))
    np.testing.assert_array_equal(a[0], b[0])
    self.assertFalse(np.array_equal(a[0], c[0]))
    # Raw uint32 keys work as well.
    d = run(jax.random.PRNGKey(5))
    self.assertEqual(d[0].shape, a[0].shape)

  def test_small_class_clamps_k(self):
    # Class 3 has 3 examples < k + 1 = 6: its neighbours are the 2 others.
    x, y = _data()
    target = sampling.target_counts(np.bincount(y))
    xs, ys = sampling.smote(x, y, jax.random.key(7), k_neighbors=5,
                            target_counts=target)
    x_class = x[y == 3].astype(np.float64)
    for point in xs[len(x):][ys[len(y):] == 3]:
      self.assertTrue(_on_some_segment(point.astype(np.float64), x_class,
                                       _knn(x_class, 2)))

  def test_single_example_class_needs_no_synthesis_or_errors(self):
    x, y = _data(counts=(10, 1))
    with self.assertRaisesRegex(ValueError, "class 1 has 1 example"):
      sampling.smote(x, y, jax.random.key(0), target_counts=np.array([10,
                                                                       10]))
    xs, ys = sampling.smote(x, y, jax.random.key(0),
                            target_counts=np.array([10, 1]))
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)

  def test_errors(self):
    x, y = _data()
    target = sampling.target_counts(np.bincount(y))
    key = jax.random.key(0)
    cases = [
        (dict(features=x[:, 0]), "features must be"),
        (dict(labels=y[:-1]), "labels must be"),
        (dict(labels=y.astype(np.float32)), "integers"),
        (dict(target_counts=target[:3]), r"labels must be in \[0, 3\)"),
        (dict(target_counts=target - 1), "cannot remove"),
        (dict(k_neighbors=0), "k_neighbors"),
    ]
    for change, message in cases:
      kwargs = dict(features=x, labels=y, target_counts=target)
      kwargs.update(change)
      with self.assertRaisesRegex(ValueError, message):
        sampling.smote(kwargs.pop("features"), kwargs.pop("labels"), key,
                       **kwargs)
    with self.assertRaisesRegex(ValueError, "no examples"):
      sampling.smote(x, y, key, target_counts=np.append(target, 5))


class AdasynTest(absltest.TestCase):

  def test_counts_follow_the_ratio_and_points_interpolate(self):
    x, y = _data(counts=(60, 15, 8))
    k = 4
    target = sampling.target_counts(np.bincount(y))
    xs, ys = sampling.adasyn(x, y, jax.random.key(0), k_neighbors=k,
                             target_counts=target)
    np.testing.assert_array_equal(xs[:len(x)], x)
    x64 = x.astype(np.float64)
    everyone = _knn(x64, k)
    for c in (1, 2):
      members = np.flatnonzero(y == c)
      ratio = np.array([np.mean(y[list(everyone[i])] != c)
                        for i in members])
      n_new = target[c] - np.sum(y == c)
      expected = np.rint(ratio / ratio.sum() * n_new).astype(int).sum()
      self.assertEqual(np.sum(ys == c), np.sum(y == c) + expected)
      self.assertLessEqual(abs(np.sum(ys == c) - target[c]), len(members))
      x_class = x64[members]
      neighbours = _knn(x_class, k)
      for point in xs[len(x):][ys[len(y):] == c]:
        self.assertTrue(_on_some_segment(point.astype(np.float64), x_class,
                                         neighbours))
    self.assertEqual(np.sum(ys == 0), 60)

  def test_examples_far_from_other_classes_get_nothing(self):
    # k = 2. Class 1's 0.35 has neighbours 0.3 (class 0) and 0.45: r = 1/2;
    # 0.45, 0.55 and the three near 100 only have class-1 neighbours: r = 0.
    # So every new point starts at 0.35 and moves toward 0.45 or 0.55.
    x = np.array([[0.0], [0.1], [0.2], [0.3], [0.35], [0.45], [0.55],
                  [100.0], [100.1], [100.2]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    xs, ys = sampling.adasyn(x, y, jax.random.key(1), k_neighbors=2,
                             target_counts=np.array([4, 11]))
    np.testing.assert_array_equal(np.bincount(ys), [4, 11])
    new = xs[len(x):, 0]
    self.assertTrue(np.all((new >= 0.35) & (new <= 0.55)))

  def test_determinism_and_errors(self):
    x, y = _data(counts=(30, 10))
    target = sampling.target_counts(np.bincount(y))
    a = sampling.adasyn(x, y, jax.random.key(3), target_counts=target)
    b = sampling.adasyn(x, y, jax.random.key(3), target_counts=target)
    c = sampling.adasyn(x, y, jax.random.key(4), target_counts=target)
    np.testing.assert_array_equal(a[0], b[0])
    self.assertFalse(np.array_equal(a[0], c[0]))
    # Well separated classes: no other-class neighbours at all.
    far = np.array([[0.0], [0.1], [0.2], [50.0], [50.1], [50.2]])
    with self.assertRaisesRegex(ValueError, "ratio is undefined"):
      sampling.adasyn(far, np.array([0, 0, 0, 1, 1, 1]), jax.random.key(0),
                      k_neighbors=2, target_counts=np.array([3, 6]))
    with self.assertRaisesRegex(ValueError, "more than k_neighbors"):
      sampling.adasyn(x[:4], np.array([0, 0, 1, 1]), jax.random.key(0),
                      k_neighbors=5, target_counts=np.array([2, 3]))


if __name__ == "__main__":
  absltest.main()
