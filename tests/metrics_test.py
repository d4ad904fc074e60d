"""Tests for ltjax.metrics: mergeable counts, shot groups, calibration."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import metrics


def random_eval(seed, batch=200, num_classes=6):
  rng = np.random.default_rng(seed)
  logits = (2.0 * rng.standard_normal((batch, num_classes))).astype(
      np.float32)
  labels = rng.integers(0, num_classes, size=batch).astype(np.int32)
  # Make the classifier better than chance so accuracies differ per class.
  logits[np.arange(batch), labels] += rng.uniform(0, 3, size=batch)
  return logits, labels


def np_softmax(z):
  z = np.asarray(z, np.float64)
  e = np.exp(z - z.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def np_ece(logits, labels, num_bins):
  """Textbook ECE (Guo et al. 2017) from individual predictions."""
  probs = np_softmax(logits)
  conf = probs.max(axis=1)
  correct = probs.argmax(axis=1) == labels
  edges = np.linspace(0.0, 1.0, num_bins + 1)
  ece = 0.0
  for lo, hi in zip(edges[:-1], edges[1:]):
    in_bin = (conf > lo) & (conf <= hi)
    if in_bin.any():
      ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
  return ece


class CountsTest(parameterized.TestCase):

  def test_counts_match_numpy(self):
    logits, labels = random_eval(0)
    counts = metrics.ClassificationCounts.from_logits(logits, labels)
    predictions = logits.argmax(axis=1)
    for c in range(6):
      self.assertEqual(int(counts.total[c]), np.sum(labels == c))
      self.assertEqual(int(counts.correct[c]),
                       np.sum((labels == c) & (predictions == c)))
    np.testing.assert_allclose(
        metrics.per_class_accuracy(counts),
        [np.mean(predictions[labels == c] == c) for c in range(6)],
        rtol=1e-6)
    self.assertAlmostEqual(float(metrics.accuracy(counts)),
                           np.mean(predictions == labels), places=6)
    self.assertAlmostEqual(
        float(metrics.balanced_accuracy(counts)),
        np.mean([np.mean(predictions[labels == c] == c) for c in range(6)]),
        places=6)

  @parameterized.parameters(1, 10, 15)
  def test_ece_matches_textbook_definition(self, num_bins):
    logits, labels = random_eval(1)
    counts = metrics.ClassificationCounts.from_logits(logits, labels,
                                                      num_bins=num_bins)
    self.assertAlmostEqual(float(metrics.expected_calibration_error(counts)),
                           np_ece(logits, labels, num_bins), places=5)

  def test_merge_over_batches_equals_whole(self):
    logits, labels = random_eval(2)
    whole = metrics.ClassificationCounts.from_logits(logits, labels)
    step = jax.jit(metrics.ClassificationCounts.from_logits)
    merged = metrics.ClassificationCounts.empty(6)
    for start in range(0, 200, 64):  # uneven last batch
      merged = merged + step(logits[start:start + 64],
                             labels[start:start + 64])
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(merged)):
      np.testing.assert_allclose(a, b, rtol=1e-6)

  def test_mask_drops_padding(self):
    logits, labels = random_eval(3)
    padded_logits = np.concatenate([logits, np.zeros((56, 6), np.float32)])
    padded_labels = np.concatenate([labels, np.zeros(56, np.int32)])
    mask = np.arange(256) < 200
    masked = metrics.ClassificationCounts.from_logits(
        padded_logits, padded_labels, mask=mask)
    whole = metrics.ClassificationCounts.from_logits(logits, labels)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(masked)):
      np.testing.assert_allclose(a, b, rtol=1e-6)

  def test_sharded_jit_equals_single_device(self):
    self.assertGreaterEqual(jax.device_count(), 8)
    mesh = jax.make_mesh((8,), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))
    sharding = jax.sharding.NamedSharding(mesh,
                                          jax.sharding.PartitionSpec("data"))
    logits, labels = random_eval(4, batch=256)
    sharded = jax.jit(metrics.ClassificationCounts.from_logits)(
        jax.device_put(logits, sharding), jax.device_put(labels, sharding))
    whole = metrics.ClassificationCounts.from_logits(logits, labels)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(sharded)):
      np.testing.assert_allclose(a, b, rtol=1e-6)

  def test_psum_across_devices_under_shard_map(self):
    mesh = jax.make_mesh((8,), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))
    spec = jax.sharding.PartitionSpec

    def per_device(logits, labels):
      counts = metrics.ClassificationCounts.from_logits(logits, labels)
      return jax.lax.psum(counts, "data")

    fn = jax.jit(jax.shard_map(per_device, mesh=mesh,
                               in_specs=(spec("data"), spec("data")),
                               out_specs=spec()))
    logits, labels = random_eval(5, batch=256)
    summed = fn(logits, labels)
    whole = metrics.ClassificationCounts.from_logits(logits, labels)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(summed)):
      np.testing.assert_allclose(a, b, rtol=1e-5)

  def test_class_without_examples_is_nan_and_skipped(self):
    logits, labels = random_eval(6)
    keep = labels != 2
    counts = metrics.ClassificationCounts.from_logits(logits[keep],
                                                      labels[keep])
    per_class = np.asarray(metrics.per_class_accuracy(counts))
    self.assertTrue(np.isnan(per_class[2]))
    self.assertAlmostEqual(float(metrics.balanced_accuracy(counts)),
                           np.mean(np.delete(per_class, 2)), places=6)

  def test_merge_rejects_mismatched_classes(self):
    with self.assertRaisesRegex(ValueError, "cannot merge counts"):
      metrics.ClassificationCounts.empty(5).merge(
          metrics.ClassificationCounts.empty(6))

  def test_bad_inputs(self):
    logits, labels = random_eval(7, batch=8)
    with self.assertRaisesRegex(ValueError, "labels.*integer"):
      metrics.ClassificationCounts.from_logits(logits, labels * 1.0)
    with self.assertRaisesRegex(ValueError, "mask has shape"):
      metrics.ClassificationCounts.from_logits(logits, labels,
                                               mask=np.ones(7, bool))
    with self.assertRaisesRegex(TypeError, "ClassificationCounts"):
      metrics.per_class_accuracy(np.ones(6))


class UnscorableRowsTest(parameterized.TestCase):
  """Non-finite logits and out-of-range labels make every metric NaN."""

  def assert_all_nan(self, counts, train):
    summary = metrics.classification_summary(counts, train)
    for name, value in summary.items():
      self.assertTrue(np.isnan(value), f"{name} is {value}, not NaN")
    self.assertTrue(np.all(np.isnan(metrics.per_class_accuracy(counts))))

  @parameterized.parameters(np.nan, np.inf, -np.inf)
  def test_nonfinite_logit(self, bad):
    logits, labels = random_eval(20, batch=40)
    # Row 3 predicts its own class 0 with one non-finite entry elsewhere:
    # argmax would still read it as correct.
    labels[3] = 0
    logits[3] = 0.0
    logits[3, 0] = 5.0
    logits[3, 4] = bad
    step = jax.jit(metrics.ClassificationCounts.from_logits)
    counts = step(logits, labels)
    self.assertEqual(int(counts.nonfinite), 1)
    self.assertEqual(int(metrics.unscored(counts)), 1)
    # The row is counted nowhere.
    self.assertEqual(int(jnp.sum(counts.total)), 39)
    self.assertEqual(int(jnp.sum(counts.bin_total)), 39)
    train = np.array([1000, 300, 120, 60, 25, 10])
    self.assert_all_nan(counts, train)
    # Merged with clean batches, the result stays NaN.
    clean = step(*random_eval(21))
    self.assertTrue(np.isfinite(metrics.accuracy(clean)))
    self.assert_all_nan(clean + counts + clean, train)

  def test_masked_nonfinite_rows_are_ignored(self):
    # Padding of the last eval batch repeats example 0; a masked row never
    # counts, finite or not.
    logits, labels = random_eval(22, batch=30)
    padded = np.concatenate([logits, np.full((2, 6), np.nan, np.float32)])
    mask = np.arange(32) < 30
    got = metrics.ClassificationCounts.from_logits(
        padded, np.concatenate([labels, [0, 0]]).astype(np.int32), mask=mask)
    self.assertEqual(int(got.nonfinite), 0)
    self.assertAlmostEqual(float(metrics.accuracy(got)),
                           np.mean(logits.argmax(1) == labels), places=6)

  @parameterized.parameters(-1, 6)
  def test_out_of_range_label_under_jit(self, bad):
    logits, labels = random_eval(23, batch=40)
    labels[5] = bad
    counts = jax.jit(metrics.ClassificationCounts.from_logits)(logits, labels)
    self.assertEqual(int(counts.out_of_range), 1)
    self.assertEqual(int(jnp.sum(counts.total)), 39)
    self.assertEqual(int(jnp.sum(counts.bin_total)), 39)
    # Not counted as class 5 (what -1 wraps to) or any other class.
    keep = np.arange(40) != 5
    np.testing.assert_array_equal(
        counts.total, np.bincount(labels[keep], minlength=6))
    self.assert_all_nan(counts, np.array([1000, 300, 120, 60, 25, 10]))

  @parameterized.parameters(-1, 6)
  def test_out_of_range_concrete_label_raises(self, bad):
    logits, labels = random_eval(24, batch=8)
    labels[1] = bad
    with self.assertRaisesRegex(ValueError, r"labels must lie in \[0, 6\)"):
      metrics.ClassificationCounts.from_logits(logits, labels)

  def test_empty_counts_merge_with_scored(self):
    counts = metrics.ClassificationCounts.empty(6) + (
        metrics.ClassificationCounts.from_logits(*random_eval(25)))
    self.assertEqual(int(metrics.unscored(counts)), 0)
    self.assertTrue(np.isfinite(metrics.expected_calibration_error(counts)))


class ShotGroupsTest(parameterized.TestCase):

  def test_thresholds_are_strict(self):
    counts = np.array([500, 101, 100, 50, 20, 19, 5])
    groups = metrics.shot_groups(counts, many=100, few=20)
    np.testing.assert_array_equal(groups["many"], [1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(groups["medium"], [0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(groups["few"], [0, 0, 0, 0, 0, 1, 1])

  def test_shot_accuracy_group_means(self):
    train = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    acc = np.linspace(0.9, 0.1, 10)
    got = metrics.shot_accuracy(acc, train)
    # The CIFAR-10-LT rho = 100 profile has no class below 20 examples.
    self.assertAlmostEqual(float(got["many"]), acc[:8].mean(), places=6)
    self.assertAlmostEqual(float(got["medium"]), acc[8:].mean(), places=6)
    self.assertTrue(np.isnan(float(got["few"])))
    self.assertAlmostEqual(float(got["all"]), acc.mean(), places=6)

  def test_shot_accuracy_skips_unevaluated_classes(self):
    train = np.array([500, 500, 50, 5])
    acc = np.array([0.8, np.nan, 0.5, np.nan])
    got = metrics.shot_accuracy(acc, train)
    self.assertAlmostEqual(float(got["many"]), 0.8, places=6)
    self.assertAlmostEqual(float(got["medium"]), 0.5, places=6)
    self.assertTrue(np.isnan(float(got["few"])))
    self.assertAlmostEqual(float(got["all"]), 0.65, places=6)

  def test_shot_accuracy_under_jit(self):
    train = np.array([500, 500, 50, 5])
    got = jax.jit(lambda a: metrics.shot_accuracy(a, train))(
        jnp.array([1.0, 0.0, 0.5, 0.25]))
    self.assertAlmostEqual(float(got["many"]), 0.5, places=6)
    self.assertAlmostEqual(float(got["few"]), 0.25, places=6)

  def test_summary(self):
    logits, labels = random_eval(8)
    counts = metrics.ClassificationCounts.from_logits(logits, labels)
    train = np.array([1000, 300, 120, 60, 25, 10])
    summary = metrics.classification_summary(counts, train)
    self.assertEqual(set(summary),
                     {"top1", "balanced", "many", "medium", "few", "ece"})
    per_class = np.asarray(metrics.per_class_accuracy(counts))
    self.assertAlmostEqual(summary["many"], per_class[:3].mean(), places=6)
    self.assertAlmostEqual(summary["medium"], per_class[3:5].mean(), places=6)
    self.assertAlmostEqual(summary["few"], per_class[5], places=6)
    self.assertIsInstance(summary["ece"], float)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "few .* must not exceed many"):
      metrics.shot_groups(np.array([5, 50]), many=10, few=20)
    with self.assertRaisesRegex(ValueError, "per_class_acc has shape"):
      metrics.shot_accuracy(np.ones(3), np.ones(4))


if __name__ == "__main__":
  absltest.main()
