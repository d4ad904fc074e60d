"""Tests for ltjax.sampling: probabilities, epoch plans, host slices."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import sampling

COUNTS = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])


def lt_labels(counts=COUNTS):
  return np.repeat(np.arange(len(counts)), counts).astype(np.int32)


class ProbabilitiesTest(parameterized.TestCase):

  @parameterized.parameters(0.0, 0.5, 1.0, 2.0)
  def test_power_rule(self, q):
    expected = COUNTS.astype(float) ** q
    np.testing.assert_allclose(sampling.class_probabilities(COUNTS, q=q),
                               expected / expected.sum(), rtol=1e-12)

  def test_named_rules(self):
    self.assertIsNone(sampling.sampling_probabilities("instance", COUNTS,
                                                      epoch=3))
    np.testing.assert_allclose(
        sampling.sampling_probabilities("class_balanced", COUNTS, epoch=0),
        np.full(10, 0.1))
    sqrt = np.sqrt(COUNTS)
    np.testing.assert_allclose(
        sampling.sampling_probabilities("square_root", COUNTS, epoch=0),
        sqrt / sqrt.sum())

  def test_empty_class_never_drawn(self):
    counts = np.array([10, 0, 5])
    for q in (0.0, 0.5, 1.0):
      self.assertEqual(sampling.class_probabilities(counts, q=q)[1], 0.0)

  def test_progressive_endpoints_and_midpoint(self):
    ib = COUNTS / COUNTS.sum()
    cb = np.full(10, 0.1)
    get = lambda e: sampling.progressive_probabilities(  # pylint: disable=g-long-lambda
        COUNTS, epoch=e, num_epochs=90)
    np.testing.assert_allclose(get(0), ib, rtol=1e-12)
    np.testing.assert_allclose(get(45), 0.5 * ib + 0.5 * cb, rtol=1e-12)
    np.testing.assert_allclose(get(90), cb, rtol=1e-12)
    np.testing.assert_allclose(get(200), cb, rtol=1e-12)

  def test_effective_number(self):
    beta = 0.999
    w = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    expected = COUNTS * w / np.sum(COUNTS * w)
    np.testing.assert_allclose(
        sampling.effective_number_probabilities(COUNTS, beta=beta), expected,
        rtol=1e-10)
    np.testing.assert_allclose(
        sampling.effective_number_probabilities(COUNTS, beta=0.0),
        COUNTS / COUNTS.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        sampling.effective_number_probabilities(COUNTS, beta=1 - 1e-12),
        np.full(10, 0.1), rtol=1e-4)

  def test_deferred_switches_at_start_epoch(self):
    get = lambda e, **kw: sampling.sampling_probabilities(  # pylint: disable=g-long-lambda
        "deferred", COUNTS, epoch=e, start_epoch=160, **kw)
    self.assertIsNone(get(159))
    np.testing.assert_allclose(get(160), np.full(10, 0.1))
    np.testing.assert_allclose(
        get(170, balanced="effective_number", beta=0.9999),
        sampling.effective_number_probabilities(COUNTS, beta=0.9999))

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "unknown sampler 'balanced'"):
      sampling.sampling_probabilities("balanced", COUNTS, epoch=0)
    with self.assertRaisesRegex(ValueError, "q must be >= 0"):
      sampling.class_probabilities(COUNTS, q=-1)
    with self.assertRaisesRegex(ValueError, "beta"):
      sampling.effective_number_probabilities(COUNTS, beta=1.0)
    with self.assertRaisesRegex(ValueError, "class_counts"):
      sampling.class_probabilities(np.array([3, -1]), q=1)


class EpochPlanTest(parameterized.TestCase):

  def test_instance_plan_is_a_permutation(self):
    labels = lt_labels()
    plan = sampling.epoch_plan(labels, seed=0, epoch=0)
    np.testing.assert_array_equal(np.sort(plan), np.arange(len(labels)))

  def test_plan_is_a_pure_function_of_seed_and_epoch(self):
    labels = lt_labels()
    probs = sampling.class_probabilities(COUNTS, q=0.0)
    for p in (None, probs):
      a = sampling.epoch_plan(labels, seed=7, epoch=3, class_probabilities=p)
      b = sampling.epoch_plan(labels, seed=7, epoch=3, class_probabilities=p)
      np.testing.assert_array_equal(a, b)
      c = sampling.epoch_plan(labels, seed=7, epoch=4, class_probabilities=p)
      d = sampling.epoch_plan(labels, seed=8, epoch=3, class_probabilities=p)
      self.assertFalse(np.array_equal(a, c))
      self.assertFalse(np.array_equal(a, d))

  @parameterized.parameters("class_balanced", "square_root",
                            "effective_number")
  def test_empirical_class_frequencies(self, sampler):
    labels = lt_labels()
    probs = sampling.sampling_probabilities(sampler, COUNTS, epoch=0,
                                            beta=0.999)
    n = 200_000
    plan = sampling.epoch_plan(labels, seed=1, epoch=0,
                               class_probabilities=probs, num_samples=n)
    freq = np.bincount(labels[plan], minlength=10) / n
    # Each class frequency is a binomial proportion: within 5 sigma.
    sigma = np.sqrt(probs * (1 - probs) / n)
    self.assertTrue(np.all(np.abs(freq - probs) < 5 * sigma),
                    (freq, probs))

  def test_within_class_draws_cycle_without_repeats(self):
    labels = lt_labels()
    plan = sampling.epoch_plan(labels, seed=2, epoch=0,
                               class_probabilities=np.full(10, 0.1))
    tail = plan[labels[plan] == 9]  # 50 examples drawn ~1240 times
    uses = np.bincount(tail, minlength=len(labels))[labels == 9]
    self.assertLessEqual(uses.max() - uses.min(), 1)
    first = tail[:50]
    self.assertLen(np.unique(first), 50)

  def test_group_size_draws_consecutive_examples_of_a_class(self):
    labels = lt_labels()
    plan = sampling.epoch_plan(labels, seed=3, epoch=0,
                               class_probabilities=np.full(10, 0.1),
                               num_samples=400, group_size=4)
    groups = labels[plan].reshape(-1, 4)
    self.assertTrue(np.all(groups == groups[:, :1]))
    self.assertGreater(len(np.unique(groups[:, 0])), 5)

  def test_plan_length(self):
    labels = lt_labels()
    self.assertLen(sampling.epoch_plan(labels, seed=0, epoch=0), len(labels))
    self.assertLen(sampling.epoch_plan(labels, seed=0, epoch=0,
                                       num_samples=30_000), 30_000)

  def test_errors(self):
    labels = lt_labels()
    with self.assertRaisesRegex(ValueError, "summing to 1"):
      sampling.epoch_plan(labels, seed=0, epoch=0,
                          class_probabilities=np.full(10, 0.2))
    with self.assertRaisesRegex(ValueError, "no examples"):
      sampling.epoch_plan(labels[labels != 4], seed=0, epoch=0,
                          class_probabilities=np.full(10, 0.1))
    with self.assertRaisesRegex(ValueError, "integer"):
      sampling.epoch_plan(labels.astype(float), seed=0, epoch=0)


class BatchIndicesTest(parameterized.TestCase):

  def test_steps_per_epoch(self):
    self.assertEqual(sampling.steps_per_epoch(12406, 128), 97)
    self.assertEqual(sampling.steps_per_epoch(256, 128), 2)

  def test_batches_cover_the_plan_with_fixed_shapes(self):
    plan = np.arange(1000, 1300)  # 300 examples, batch 128: 3 steps
    batches = [sampling.batch_indices(plan, s, global_batch_size=128)
               for s in range(sampling.steps_per_epoch(300, 128))]
    self.assertTrue(all(b.shape == (128,) for b in batches))
    used = np.concatenate(batches)
    np.testing.assert_array_equal(used[:300], plan)
    np.testing.assert_array_equal(used[300:], plan[:84])  # wrap-around fill

  @parameterized.parameters(2, 4, 8)
  def test_process_slices_are_disjoint_and_cover(self, processes):
    plan = sampling.epoch_plan(lt_labels(), seed=0, epoch=1)
    for step in (0, 5, 96):
      whole = sampling.batch_indices(plan, step, global_batch_size=128)
      slices = [sampling.batch_indices(plan, step, global_batch_size=128,
                                       process_index=p,
                                       process_count=processes)
                for p in range(processes)]
      self.assertTrue(all(s.shape == (128 // processes,) for s in slices))
      np.testing.assert_array_equal(np.concatenate(slices), whole)
      if step < 96:  # the last batch wraps, but positions stay distinct
        self.assertLen(np.unique(np.concatenate(slices)), 128)

  def test_resumed_job_draws_identical_batches(self):
    labels = lt_labels()
    probs = sampling.sampling_probabilities("progressive", COUNTS, epoch=5,
                                            num_epochs=10)

    def batches(first_step, last_step):
      out = []
      for step in range(first_step, last_step):
        epoch, in_epoch = divmod(step, 97)
        plan = sampling.epoch_plan(labels, seed=11, epoch=epoch,
                                   class_probabilities=probs)
        out.append(sampling.batch_indices(plan, in_epoch,
                                          global_batch_size=128))
      return out

    straight = batches(0, 200)
    resumed = batches(0, 120) + batches(120, 200)
    for a, b in zip(straight, resumed):
      np.testing.assert_array_equal(a, b)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "divisible"):
      sampling.batch_indices(np.arange(10), 0, global_batch_size=10,
                             process_count=3)
    with self.assertRaisesRegex(ValueError, "process_index"):
      sampling.batch_indices(np.arange(10), 0, global_batch_size=10,
                             process_index=2, process_count=2)


if __name__ == "__main__":
  absltest.main()
