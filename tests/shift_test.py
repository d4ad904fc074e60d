"""Shifted test sets: SADE's forward / backward-LT profiles and LDAM's prior."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data


def _profile(n, num_classes, kind, ratio, train=None):
  """SADE's `get_img_num_per_cls`, written out: int(n * f^(i / (C - 1)))."""
  if kind == "uniform":
    return np.full(num_classes, n)
  if kind == "train":
    return np.floor(n * np.asarray(train) / np.max(train)).astype(int)
  f = 1.0 / ratio
  out = []
  for c in range(num_classes):
    i = c if kind == "forward" else num_classes - 1 - c
    out.append(int(n * f**(i / (num_classes - 1.0))))
  return np.asarray(out)


def _balanced_labels(per_class, num_classes, seed=0):
  labels = np.repeat(np.arange(num_classes), per_class)
  return np.random.default_rng(seed).permutation(labels)


class CountsTest(parameterized.TestCase):

  @parameterized.product(kind=("forward", "backward"),
                         ratio=(2, 5, 10, 25, 50), num_classes=(10, 100))
  def test_profile_matches_formula(self, kind, ratio, num_classes):
    got = data.shifted_class_counts(100, num_classes, kind=kind, ratio=ratio)
    np.testing.assert_array_equal(
        got, _profile(100, num_classes, kind, ratio))

  def test_forward_head_is_class_zero_backward_reverses(self):
    fwd = data.shifted_class_counts(100, 10, kind="forward", ratio=50)
    bwd = data.shifted_class_counts(100, 10, kind="backward", ratio=50)
    self.assertEqual(fwd[0], 100)
    self.assertEqual(fwd[-1], 2)  # int(100 / 50)
    np.testing.assert_array_equal(bwd, fwd[::-1])
    self.assertTrue(np.all(np.diff(fwd) <= 0))

  def test_uniform_and_train(self):
    np.testing.assert_array_equal(
        data.shifted_class_counts(7, 5, kind="uniform"), [7] * 5)
    train = data.long_tail_counts(500, 10, ratio=100)
    got = data.shifted_class_counts(100, 10, kind="train",
                                    train_class_counts=train)
    np.testing.assert_array_equal(got, _profile(100, 10, "train", None,
                                                train))
    self.assertEqual(got[0], 100)

  def test_weights_are_the_unrounded_profile(self):
    w = data.shifted_class_weights(11, kind="forward", ratio=10)
    np.testing.assert_allclose(w, 0.1**(np.arange(11) / 10.0))
    self.assertAlmostEqual(w[-1], 0.1)

  def test_protocol(self):
    names = [name for name, _, _ in data.SHIFT_PROTOCOL]
    self.assertEqual(names, ["forward50", "forward25", "forward10",
                             "forward5", "forward2", "uniform", "backward2",
                             "backward5", "backward10", "backward25",
                             "backward50"])
    for name, kind, ratio in data.SHIFT_PROTOCOL:
      self.assertTrue(name.startswith(kind))
      data.shifted_class_counts(100, 100, kind=kind, ratio=ratio)

  @parameterized.parameters(
      (dict(kind="sideways", ratio=2.0), "kind must be one of"),
      (dict(kind="forward"), "ratio"),
      (dict(kind="forward", ratio=0.5), ">= 1"),
      (dict(kind="backward", ratio=float("inf")), "finite"),
      (dict(kind="uniform", ratio=10.0), "None"),
      (dict(kind="train"), "train_class_counts"),
      (dict(kind="train", train_class_counts=[1, 2]), "10 positive counts"),
  )
  def test_bad_arguments(self, kwargs, message):
    with self.assertRaisesRegex(ValueError, message):
      data.shifted_class_counts(10, 10, **kwargs)

  def test_bad_per_class(self):
    with self.assertRaisesRegex(ValueError, "per_class"):
      data.shifted_class_counts(0, 10, kind="uniform")


class IndicesTest(parameterized.TestCase):

  @parameterized.parameters(*[(k, r) for _, k, r in data.SHIFT_PROTOCOL])
  def test_requested_counts(self, kind, ratio):
    labels = _balanced_labels(20, 10)
    idx = data.shifted_test_indices(labels, kind=kind, ratio=ratio, seed=3)
    self.assertEqual(idx.dtype, np.int64)
    self.assertLen(np.unique(idx), len(idx))  # without replacement
    np.testing.assert_array_equal(np.bincount(labels[idx], minlength=10),
                                  _profile(20, 10, kind, ratio))

  def test_train_prior(self):
    labels = _balanced_labels(50, 10)
    train = data.long_tail_counts(200, 10, ratio=10)
    idx = data.shifted_test_indices(labels, kind="train",
                                    train_class_counts=train, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[idx], minlength=10),
                                  _profile(50, 10, "train", None, train))

  def test_deterministic_per_seed_and_differs_across_seeds(self):
    labels = _balanced_labels(30, 10)
    a = data.shifted_test_indices(labels, kind="forward", ratio=5, seed=1)
    b = data.shifted_test_indices(labels, kind="forward", ratio=5, seed=1)
    c = data.shifted_test_indices(labels, kind="forward", ratio=5, seed=2)
    np.testing.assert_array_equal(a, b)
    self.assertEqual(len(a), len(c))
    self.assertFalse(np.array_equal(np.sort(a), np.sort(c)))

  def test_sades_subset(self):
    # SADE's IMBALANCECIFAR100: np.random.seed(0), then per class in label
    # order shuffle its indices and keep the first n_c.
    labels = _balanced_labels(10, 5, seed=4)
    counts = _profile(10, 5, "backward", 10.0)
    np.random.seed(0)
    expected = []
    for c, n in enumerate(counts):
      idx = np.where(labels == c)[0]
      np.random.shuffle(idx)
      expected.append(idx[:n])
    got = data.shifted_test_indices(labels, kind="backward", ratio=10, seed=0)
    np.testing.assert_array_equal(got, np.concatenate(expected))

  def test_per_class_is_the_smallest_class(self):
    labels = np.concatenate([_balanced_labels(5, 4), [0, 0, 1]])
    idx = data.shifted_test_indices(labels, kind="uniform")
    np.testing.assert_array_equal(np.bincount(labels[idx]), [5, 5, 5, 5])

  def test_bad_labels(self):
    with self.assertRaisesRegex(ValueError, "no example of class"):
      data.shifted_test_indices(np.array([0, 0, 2]), kind="uniform")
    with self.assertRaisesRegex(ValueError, "1-D integer"):
      data.shifted_test_indices(np.zeros((2, 2), int), kind="uniform")
    with self.assertRaisesRegex(ValueError, "must lie in"):
      data.shifted_test_indices(np.arange(3), kind="uniform", num_classes=2)


if __name__ == "__main__":
  absltest.main()
