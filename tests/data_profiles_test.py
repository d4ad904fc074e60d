"""Tests for the long-tail profiles, the seeded subset and held-out splits."""

import hashlib
import struct

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data


def spec_counts(n_max, num_classes, rho):
  """n_i = int(n_max * rho^(-i / (C - 1))), as METHODS.md writes it."""
  return [int(n_max * rho**(-i / (num_classes - 1)))
          for i in range(num_classes)]


def original_subset(labels, counts):
  """IMBALANCECIFAR10.gen_imbalanced_data of LDAM-DRW, on the global RNG."""
  state = np.random.get_state()
  try:
    np.random.seed(0)
    targets_np = np.array(labels, dtype=np.int64)
    classes = np.unique(targets_np)
    selected = []
    for the_class, the_img_num in zip(classes, counts):
      idx = np.where(targets_np == the_class)[0]
      np.random.shuffle(idx)
      selected.extend(idx[:the_img_num].tolist())
    return np.asarray(selected)
  finally:
    np.random.set_state(state)


def cifar_like_labels(per_class, num_classes, seed):
  """Balanced labels in a random order, like the official training batches."""
  labels = np.repeat(np.arange(num_classes), per_class)
  return np.random.default_rng(seed).permutation(labels)


class LongTailCountsTest(parameterized.TestCase):

  def test_cifar10_rho100_published_counts(self):
    counts = data.long_tail_counts(5000, 10, ratio=100)
    self.assertEqual(counts.dtype, np.int64)
    np.testing.assert_array_equal(
        counts, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])

  @parameterized.parameters(
      # (n_max, C, rho, published training-set size or None)
      (5000, 10, 10, 20431), (5000, 10, 50, 13996), (5000, 10, 100, 12406),
      (5000, 10, 200, 11203), (500, 100, 10, 19573), (500, 100, 50, None),
      (500, 100, 100, 10847), (500, 100, 200, None))
  def test_exp_profile(self, n_max, num_classes, rho, published_total):
    counts = data.long_tail_counts(n_max, num_classes, ratio=rho)
    np.testing.assert_array_equal(counts,
                                  spec_counts(n_max, num_classes, rho))
    self.assertEqual(counts[0], n_max)
    self.assertEqual(counts[-1], int(n_max / rho))
    self.assertTrue(np.all(np.diff(counts) <= 0))
    if published_total is not None:
      self.assertEqual(counts.sum(), published_total)

  @parameterized.parameters((10, 100), (100, 10), (5, 10), (1, 7))
  def test_step_profile(self, num_classes, rho):
    counts = data.long_tail_counts(5000, num_classes, ratio=rho,
                                   profile="step")
    head = num_classes // 2
    np.testing.assert_array_equal(
        counts, [5000] * head + [int(5000 / rho)] * (num_classes - head))

  def test_ratio_one_is_balanced(self):
    for profile in data.PROFILES:
      np.testing.assert_array_equal(
          data.long_tail_counts(30, 4, ratio=1, profile=profile), [30] * 4)

  def test_one_class(self):
    np.testing.assert_array_equal(data.long_tail_counts(7, 1, ratio=10), [7])

  @parameterized.parameters(0.5, 0.0, -3.0, float("nan"), float("inf"))
  def test_bad_ratio(self, ratio):
    with self.assertRaisesRegex(ValueError, "ratio"):
      data.long_tail_counts(100, 10, ratio=ratio)

  def test_unknown_profile(self):
    with self.assertRaisesRegex(ValueError, "profile.*'exp', 'step'"):
      data.long_tail_counts(100, 10, ratio=10, profile="linear")

  def test_ratio_that_empties_a_class(self):
    first_empty = spec_counts(10, 10, 1000).index(0)  # 10 * 1000^(-4/9) < 1
    with self.assertRaisesRegex(ValueError,
                                f"class {first_empty} with no examples"):
      data.long_tail_counts(10, 10, ratio=1000)

  def test_bad_sizes(self):
    with self.assertRaisesRegex(ValueError, "n_max"):
      data.long_tail_counts(0, 10, ratio=10)
    with self.assertRaisesRegex(ValueError, "num_classes"):
      data.long_tail_counts(10, 0, ratio=10)


class MakeLongTailedTest(parameterized.TestCase):

  @parameterized.parameters((5000, 10, 100), (5000, 10, 10), (500, 100, 100))
  def test_seed0_reproduces_the_original(self, n_max, num_classes, rho):
    labels = cifar_like_labels(n_max, num_classes, seed=1)
    counts = spec_counts(n_max, num_classes, rho)
    indices = data.make_long_tailed(labels, np.asarray(counts), seed=0)
    self.assertEqual(indices.dtype, np.int64)
    np.testing.assert_array_equal(indices, original_subset(labels, counts))

  def test_grouped_by_class_with_the_counts(self):
    labels = cifar_like_labels(50, 5, seed=2)
    counts = np.array([50, 20, 9, 4, 1])
    indices = data.make_long_tailed(labels, counts, seed=3)
    np.testing.assert_array_equal(labels[indices],
                                  np.repeat(np.arange(5), counts))
    self.assertLen(np.unique(indices), counts.sum())

  def test_same_seed_same_subset_other_seed_differs(self):
    labels = cifar_like_labels(100, 4, seed=4)
    counts = np.array([100, 40, 10, 5])
    a = data.make_long_tailed(labels, counts, seed=7)
    b = data.make_long_tailed(labels.astype(np.int32), counts, seed=7)
    c = data.make_long_tailed(labels, counts, seed=8)
    np.testing.assert_array_equal(a, b)
    self.assertFalse(np.array_equal(np.sort(a), np.sort(c)))

  def test_too_many_requested_names_the_class(self):
    labels = np.array([0, 0, 0, 1, 1, 2])
    with self.assertRaisesRegex(ValueError, "class 1 needs 3 .* only 2"):
      data.make_long_tailed(labels, np.array([3, 3, 1]), seed=0)

  def test_bad_labels(self):
    with self.assertRaisesRegex(ValueError, r"labels must lie in \[0, 2\)"):
      data.make_long_tailed(np.array([0, 1, 2]), np.array([1, 1]), seed=0)
    with self.assertRaisesRegex(ValueError, "labels must be a 1-D integer"):
      data.make_long_tailed(np.array([0.0, 1.0]), np.array([1, 1]), seed=0)


class HoldoutTest(absltest.TestCase):

  def test_balanced_disjoint_and_seeded(self):
    labels = cifar_like_labels(40, 4, seed=5)
    train = data.make_long_tailed(labels, np.array([40, 20, 10, 5]), seed=0)
    val = data.balanced_holdout(labels, num_classes=4, per_class=8, seed=1,
                                exclude=train)
    # Class 0 keeps all 40 images for training, so it has none to spare.
    np.testing.assert_array_equal(np.bincount(labels[val], minlength=4),
                                  [0, 8, 8, 8])
    self.assertEmpty(np.intersect1d(val, train))
    np.testing.assert_array_equal(
        val, data.balanced_holdout(labels, num_classes=4, per_class=8,
                                   seed=1, exclude=train))
    other = data.balanced_holdout(labels, num_classes=4, per_class=8, seed=2,
                                  exclude=train)
    self.assertFalse(np.array_equal(np.sort(val), np.sort(other)))

  def test_short_class_gives_what_it_has(self):
    labels = np.array([0] * 10 + [1] * 3)
    val = data.balanced_holdout(labels, num_classes=2, per_class=5, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[val]), [5, 3])

  def test_bad_per_class(self):
    with self.assertRaisesRegex(ValueError, "per_class"):
      data.balanced_holdout(np.array([0]), num_classes=1, per_class=-1,
                            seed=0)


class DigestTest(absltest.TestCase):

  def test_digest_is_sha256_of_little_endian_int64(self):
    indices = [3, 1, 4, 1, 5, 9, 2, 6]
    expected = hashlib.sha256(
        struct.pack(f"<{len(indices)}q", *indices)).hexdigest()[:16]
    self.assertEqual(data.index_digest(np.array(indices, np.int32)),
                     expected)
    self.assertNotEqual(data.index_digest(np.array(indices[::-1])), expected)


if __name__ == "__main__":
  absltest.main()
