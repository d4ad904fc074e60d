"""The O(N log N) epoch plan and re-samplers draw what the O(N C) ones drew.

`epoch_plan` and the re-samplers used to build each class's example indices
by scanning the labels once per class (`np.flatnonzero(labels == c)` for c
in range(C)), and the plan grouped its class draws the same way: 27.6 s per
epoch at 1M examples and 8,142 classes. They now sort once. The functions
prefixed `_reference_` below are verbatim copies of the code as it was
before that change (ltjax commit 073cf09), kept here as the pre-change
reference: every plan and every re-sampled set must be identical to theirs,
bit for bit, for the same seeds and keys (the same random stream consumed in
the same order), so a run resumed across the change draws the same batches.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from ltjax import sampling
from ltjax.sampling import _groups
from ltjax.sampling import _resample
import sampling_test

# ---------------------------------------------------------------------------
# Pre-change reference (ltjax/sampling/_plan.py and _resample.py at 073cf09).
# Do not "fix" or speed these up: they define the expected output.
# ---------------------------------------------------------------------------


def _reference_generator(seed, epoch):
  if seed < 0 or epoch < 0:
    raise ValueError(f"seed and epoch must be >= 0, got {seed} and {epoch}.")
  return np.random.Generator(np.random.PCG64([seed, epoch]))


def _reference_cycled_permutations(rng, items, length):
  reps = max(1, -(-length // items.size))
  return np.concatenate([rng.permutation(items)
                         for _ in range(reps)])[:length].astype(np.int64)


def _reference_epoch_plan(labels, *, seed, epoch, class_probabilities=None,
                          num_samples=None, group_size=1):
  """Pre-change reference: `sampling.epoch_plan` before the sort (O(N C))."""
  labels = np.asarray(labels)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
        f"labels must be an integer vector [N], got {labels.dtype} "
        f"{labels.shape}.")
  num_examples = labels.shape[0]
  num_samples = num_examples if num_samples is None else num_samples
  if num_samples < 0:
    raise ValueError(f"num_samples must be >= 0, got {num_samples}.")
  if group_size < 1:
    raise ValueError(f"group_size must be >= 1, got {group_size}.")
  if num_examples == 0:
    raise ValueError("labels is empty: there is nothing to sample.")
  rng = _reference_generator(seed, epoch)
  if class_probabilities is None:
    return _reference_cycled_permutations(rng, np.arange(num_examples),
                                          num_samples)

  probs = np.asarray(class_probabilities, np.float64)
  num_classes = probs.shape[0]
  if probs.ndim != 1 or not np.isclose(probs.sum(), 1.0) or np.any(probs < 0):
    raise ValueError(
        f"class_probabilities must be a non-negative vector summing to 1, "
        f"got {probs}.")
  if labels.size and labels.max() >= num_classes:
    raise ValueError(
        f"labels go up to {labels.max()} but class_probabilities has only "
        f"{num_classes} entries.")
  members = [np.flatnonzero(labels == c) for c in range(num_classes)]
  empty = [c for c in range(num_classes) if probs[c] > 0 and not members[c].size]
  if empty:
    raise ValueError(
        f"classes {empty} have sampling probability > 0 but no examples.")

  num_draws = -(-num_samples // group_size)
  drawn_classes = rng.choice(num_classes, size=num_draws, p=probs)
  plan = np.empty(num_draws * group_size, np.int64)
  for c in np.unique(drawn_classes):
    slots = np.flatnonzero(drawn_classes == c)
    queue = _reference_cycled_permutations(rng, members[c],
                                           slots.size * group_size)
    positions = (slots[:, None] * group_size
                 + np.arange(group_size)[None, :]).reshape(-1)
    plan[positions] = queue
  return plan[:num_samples]


def _reference_random_under_sample(features, labels, key, *, target_counts):
  """Pre-change reference: `sampling.random_under_sample`."""
  x, y, t, counts = _resample._check(features, labels, target_counts,
                                     grow=False)
  rng = _resample._generator(key)
  keep = np.zeros(len(y), bool)
  for c in np.flatnonzero(counts):
    members = np.flatnonzero(y == c)
    keep[rng.choice(members, size=int(t[c]), replace=False)] = True
  return x[keep], y[keep]


def _reference_random_over_sample(features, labels, key, *, target_counts):
  """Pre-change reference: `sampling.random_over_sample`."""
  x, y, t, counts = _resample._check(features, labels, target_counts,
                                     grow=True)
  rng = _resample._generator(key)
  extra = [rng.choice(np.flatnonzero(y == c), size=int(t[c] - counts[c]),
                      replace=True)
           for c in range(t.size) if t[c] > counts[c]]
  index = np.concatenate([np.arange(len(y))] + extra).astype(np.int64)
  return x[index], y[index]


def _reference_interpolated(features, labels, key, k_neighbors,
                            target_counts, bases):
  """Pre-change reference: `_resample._interpolated`."""
  if int(k_neighbors) != k_neighbors or k_neighbors < 1:
    raise ValueError(f"k_neighbors must be an integer >= 1, got "
                     f"{k_neighbors!r}.")
  x, y, t, counts = _resample._check(features, labels, target_counts,
                                     grow=True)
  rng = _resample._generator(key)
  new_x, new_y = [x], [y]
  for c in np.flatnonzero(t > counts):
    k = _resample._neighbours_used(int(counts[c]), int(k_neighbors), int(c))
    rows = bases(x, y, int(c), int(t[c] - counts[c]), rng)
    x_class = x[y == c]
    nns = _resample._class_neighbours(x_class, k)
    cols = rng.integers(0, k, size=len(rows))
    steps = rng.uniform(size=len(rows))[:, None]
    base = x_class[rows].astype(np.float64)
    new = base + steps * (x_class[nns[rows, cols]] - base)
    new_x.append(new.astype(x.dtype))
    new_y.append(np.full(len(rows), c, dtype=y.dtype))
  return np.concatenate(new_x), np.concatenate(new_y)


def _reference_smote(features, labels, key, *, k_neighbors=5, target_counts):
  """Pre-change reference: `sampling.smote`."""
  def bases(x, y, c, n_new, rng):
    return rng.integers(0, np.sum(y == c), size=n_new)

  return _reference_interpolated(features, labels, key, k_neighbors,
                                 target_counts, bases)


def _reference_adasyn(features, labels, key, *, k_neighbors=5,
                      target_counts):
  """Pre-change reference: `sampling.adasyn`."""
  if np.size(labels) <= k_neighbors:
    raise ValueError(f"adasyn needs more than k_neighbors = {k_neighbors} "
                     f"examples in all, got {np.size(labels)}.")

  def bases(x, y, c, n_new, rng):
    del rng
    members = np.flatnonzero(y == c)
    everyone = _resample._nearest(x[members], x, int(k_neighbors),
                                  self_index=members)
    ratio = np.sum(y[everyone] != c, axis=1) / k_neighbors
    if not np.sum(ratio):
      raise ValueError(f"class {c}: none of the {k_neighbors} nearest "
                       f"neighbours of its examples belongs to another "
                       f"class, so ADASYN's ratio is undefined; use smote.")
    per_example = np.rint(ratio / np.sum(ratio) * n_new).astype(np.int64)
    if not per_example.sum():
      raise ValueError(f"class {c}: ADASYN's rounding generates no example "
                       f"for {n_new} requested; raise its target.")
    return np.repeat(np.arange(len(members)), per_example)

  return _reference_interpolated(features, labels, key, k_neighbors,
                                 target_counts, bases)

# ---------------------------------------------------------------------------
# End of the pre-change reference.
# ---------------------------------------------------------------------------


def _outcome(fn, *args, **kwargs):
  """fn's result, or (exception type, message) if it raises ValueError."""
  try:
    return fn(*args, **kwargs)
  except ValueError as e:
    return (type(e), str(e))


def _assert_same(test, got, want):
  """Equal outcomes: arrays bit for bit (values and dtype), or errors."""
  if isinstance(want, tuple) and want and isinstance(want[0], type):
    test.assertEqual(got, want)
    return
  if isinstance(want, tuple):
    test.assertIsInstance(got, tuple)
    test.assertLen(got, len(want))
    for g, w in zip(got, want):
      _assert_same(test, g, w)
    return
  test.assertIsInstance(got, np.ndarray)
  test.assertEqual(got.dtype, want.dtype)
  test.assertEqual(got.shape, want.shape)
  np.testing.assert_array_equal(got, want)


def _random_labels(rng, *, max_classes=40, max_count=60):
  """Shuffled labels of a random C with counts that include 0 and 1."""
  num_classes = int(rng.integers(1, max_classes + 1))
  counts = rng.integers(0, max_count + 1, size=num_classes)
  # Force the small cases in: an empty class, a single example, two.
  for special in (0, 1, 2):
    if num_classes > 1 and rng.random() < 0.5:
      counts[rng.integers(num_classes)] = special
  if counts.sum() == 0:
    counts[rng.integers(num_classes)] = 1
  dtype = rng.choice([np.int8, np.int16, np.int32, np.int64, np.uint16])
  if num_classes > np.iinfo(dtype).max:
    dtype = np.int32
  labels = rng.permutation(np.repeat(np.arange(num_classes), counts))
  return labels.astype(dtype), counts


def _random_probabilities(rng, counts):
  """Random p over the classes with examples (some of those at 0 too)."""
  present = counts > 0
  kind = rng.integers(4)
  if kind == 0:
    weights = present.astype(np.float64)  # class-balanced
  elif kind == 1:
    weights = np.sqrt(counts.astype(np.float64))  # square-root
  else:
    weights = rng.dirichlet(np.full(counts.size, 0.5)) * present
    if kind == 3:  # also switch off some classes that have examples
      weights *= rng.random(counts.size) < 0.7
  if not weights.sum():
    weights = present.astype(np.float64)
  return weights / weights.sum()


class EpochPlanMatchesReferenceTest(parameterized.TestCase):

  @parameterized.product(
      sampler=sampling.SAMPLERS, group_size=(1, 4),
      num_samples=(None, 0, 1, 30_000))
  def test_every_sampler_on_the_cifar_profile(self, sampler, group_size,
                                               num_samples):
    labels = sampling_test.lt_labels()
    counts = sampling_test.COUNTS
    for seed, epoch in ((0, 0), (7, 3), (11, 9)):
      probs = sampling.sampling_probabilities(
          sampler, counts, epoch=epoch, num_epochs=10, start_epoch=5,
          beta=0.999)
      kwargs = dict(seed=seed, epoch=epoch, class_probabilities=probs,
                    num_samples=num_samples, group_size=group_size)
      _assert_same(self, sampling.epoch_plan(labels, **kwargs),
                   _reference_epoch_plan(labels, **kwargs))

  def test_the_settings_of_the_plan_tests(self):
    """The calls of sampling_test.EpochPlanTest and BatchIndicesTest."""
    labels = sampling_test.lt_labels()
    counts = sampling_test.COUNTS
    calls = [
        dict(seed=0, epoch=0),
        dict(seed=0, epoch=1),
        dict(seed=7, epoch=3),
        dict(seed=7, epoch=4),
        dict(seed=8, epoch=3),
        dict(seed=0, epoch=0, num_samples=30_000),
        dict(seed=2, epoch=0, class_probabilities=np.full(10, 0.1)),
        dict(seed=3, epoch=0, class_probabilities=np.full(10, 0.1),
             num_samples=400, group_size=4),
    ]
    for sampler in ("class_balanced", "square_root", "effective_number"):
      calls.append(dict(seed=1, epoch=0, num_samples=200_000,
                        class_probabilities=sampling.sampling_probabilities(
                            sampler, counts, epoch=0, beta=0.999)))
    for epoch in range(3):
      calls.append(dict(seed=11, epoch=epoch,
                        class_probabilities=sampling.sampling_probabilities(
                            "progressive", counts, epoch=5, num_epochs=10)))
    for kwargs in calls:
      _assert_same(self, sampling.epoch_plan(labels, **kwargs),
                   _reference_epoch_plan(labels, **kwargs))

  def test_random_label_sets(self):
    rng = np.random.default_rng(20261208)
    for trial in range(300):
      labels, counts = _random_labels(rng)
      probs = None if trial % 5 == 0 else _random_probabilities(rng, counts)
      if probs is not None and rng.random() < 0.2:
        # More classes in p than labels reach (trailing empty classes).
        probs = np.append(probs, np.zeros(int(rng.integers(1, 4))))
      kwargs = dict(
          seed=int(rng.integers(0, 2**31)), epoch=int(rng.integers(0, 300)),
          class_probabilities=probs,
          num_samples=(None if rng.random() < 0.3
                       else int(rng.integers(0, 3 * labels.size + 2))),
          group_size=int(rng.integers(1, 6)))
      with self.subTest(trial=trial):
        _assert_same(self, _outcome(sampling.epoch_plan, labels, **kwargs),
                     _outcome(_reference_epoch_plan, labels, **kwargs))

  def test_many_classes_and_single_example_classes(self):
    rng = np.random.default_rng(3)
    counts = np.maximum(1, (200 * 0.99 ** np.arange(600)).astype(int))
    counts[::50] = 0
    labels = rng.permutation(np.repeat(np.arange(600), counts))
    probs = (counts > 0) / np.sum(counts > 0)
    for group_size in (1, 3):
      for epoch in (0, 1):
        kwargs = dict(seed=5, epoch=epoch, class_probabilities=probs,
                      group_size=group_size)
        _assert_same(self, sampling.epoch_plan(labels, **kwargs),
                     _reference_epoch_plan(labels, **kwargs))

  def test_inaturalist_class_count(self):
    # 8,142 classes (iNaturalist 2018) with 1 to 30 examples, at 50k
    # examples: the reference's per-class scans still take well under 1 s.
    rng = np.random.default_rng(8142)
    counts = rng.integers(1, 12, size=8142)
    counts[rng.integers(8142, size=300)] = 1
    labels = rng.permutation(np.repeat(np.arange(8142), counts))
    probs = sampling.class_probabilities(counts, q=0.0)
    for group_size in (1, 4):
      kwargs = dict(seed=1, epoch=2, class_probabilities=probs,
                    group_size=group_size)
      _assert_same(self, sampling.epoch_plan(labels, **kwargs),
                   _reference_epoch_plan(labels, **kwargs))

  def test_same_errors(self):
    labels = sampling_test.lt_labels()
    cases = [
        (labels[labels != 4], dict(class_probabilities=np.full(10, 0.1))),
        (labels[(labels != 4) & (labels != 7)],
         dict(class_probabilities=np.full(10, 0.1))),
        (labels, dict(class_probabilities=np.full(5, 0.2))),
        (labels, dict(class_probabilities=np.full(10, 0.2))),
        (labels.astype(float), {}),
        (labels[:0], {}),
        (labels, dict(num_samples=-1)),
        (labels, dict(group_size=0)),
    ]
    for labels_in, kwargs in cases:
      got = _outcome(sampling.epoch_plan, labels_in, seed=0, epoch=0,
                     **kwargs)
      want = _outcome(_reference_epoch_plan, labels_in, seed=0, epoch=0,
                      **kwargs)
      self.assertIsInstance(want, tuple)
      self.assertEqual(got, want)

  def test_negative_labels_are_never_drawn_as_before(self):
    labels = np.array([-1, 0, 1, -3, 1, 0, 2, -1])
    for probs in (None, np.full(3, 1 / 3)):
      kwargs = dict(seed=4, epoch=2, class_probabilities=probs,
                    num_samples=50, group_size=2)
      _assert_same(self, sampling.epoch_plan(labels, **kwargs),
                   _reference_epoch_plan(labels, **kwargs))


class GroupPositionsTest(parameterized.TestCase):

  @parameterized.parameters(
      (np.int8, 7), (np.uint8, 200), (np.int32, 1000), (np.int64, 70_000),
      (np.uint64, 70_000))
  def test_groups_are_the_per_group_scans(self, dtype, num_groups):
    rng = np.random.default_rng(num_groups)
    high = min(np.iinfo(dtype).max, num_groups + 5)
    low = max(np.iinfo(dtype).min, -5)
    keys = rng.integers(low, high, size=3000).astype(dtype)
    order, bounds = _groups.group_positions(keys, num_groups)
    self.assertLen(bounds, num_groups + 1)
    self.assertEqual(bounds[0], 0)
    checked = sorted({0, num_groups - 1, *keys[:50].tolist()})
    for g in (g for g in checked if 0 <= g < num_groups):
      np.testing.assert_array_equal(order[bounds[g]:bounds[g + 1]],
                                    np.flatnonzero(keys == g))
    inside = np.sum((keys >= 0) & (keys < num_groups))
    self.assertEqual(bounds[-1], inside)

  def test_empty_keys(self):
    order, bounds = _groups.group_positions(np.zeros(0, np.int32), 3)
    self.assertEqual(order.size, 0)
    np.testing.assert_array_equal(bounds, [0, 0, 0, 0])


class ResamplersMatchReferenceTest(absltest.TestCase):

  def _data(self, rng, *, max_classes=8, max_count=25):
    labels, counts = _random_labels(rng, max_classes=max_classes,
                                    max_count=max_count)
    features = rng.normal(size=(labels.size, 2)).astype(
        rng.choice([np.float32, np.float64]))
    features[:, 0] += labels
    return features, labels, counts

  def test_random_under_and_over_sampling(self):
    rng = np.random.default_rng(1)
    for trial in range(150):
      x, y, counts = self._data(rng)
      key = jax.random.key(trial)
      under = (rng.random(counts.size) * (counts + 1)).astype(np.int64)
      over = np.where(counts > 0,
                      counts + rng.integers(0, 30, size=counts.size), 0)
      with self.subTest(trial=trial):
        _assert_same(
            self,
            _outcome(sampling.random_under_sample, x, y, key,
                     target_counts=under),
            _outcome(_reference_random_under_sample, x, y, key,
                     target_counts=under))
        _assert_same(
            self,
            _outcome(sampling.random_over_sample, x, y, key,
                     target_counts=over),
            _outcome(_reference_random_over_sample, x, y, key,
                     target_counts=over))

  def test_smote_and_adasyn(self):
    rng = np.random.default_rng(2)
    for trial in range(60):
      x, y, counts = self._data(rng, max_classes=6, max_count=20)
      key = jax.random.key(trial)
      level = int(rng.integers(1, counts.max() + 10))
      target = np.where(counts > 0, np.maximum(counts, level), 0)
      if rng.random() < 0.8:  # mostly no single-example class to grow
        target = np.where(counts == 1, 1, target)
      k = int(rng.integers(1, 6))
      with self.subTest(trial=trial):
        for new, old in ((sampling.smote, _reference_smote),
                         (sampling.adasyn, _reference_adasyn)):
          _assert_same(
              self,
              _outcome(new, x, y, key, k_neighbors=k, target_counts=target),
              _outcome(old, x, y, key, k_neighbors=k, target_counts=target))


class ScaleBenchmarkTest(absltest.TestCase):
  """benchmarks/scale.py's labels and baseline are what its table says."""

  def test_labels_and_the_benchmarks_copy_of_the_old_plan(self):
    from absl import flags  # pylint: disable=g-import-not-at-top
    from benchmarks import scale  # pylint: disable=g-import-not-at-top
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    for num_classes, num_examples in ((1, 10), (50, 2000), (812, 10_000)):
      labels = scale.long_tail_labels(num_classes, num_examples,
                                      imbalance=500.0)
      counts = np.bincount(labels, minlength=num_classes)
      self.assertEqual(labels.dtype, np.int64)
      self.assertEqual(counts.sum(), num_examples)
      self.assertGreaterEqual(counts.min(), 1)
      self.assertTrue(np.all(np.diff(counts[1:]) <= 0))
      for probs in (None, sampling.class_probabilities(counts, q=0.0)):
        kwargs = dict(seed=3, epoch=1, class_probabilities=probs)
        _assert_same(self, scale.per_class_scan_plan(labels, **kwargs),
                     _reference_epoch_plan(labels, **kwargs))
    rows = scale.plan_part([(50, 2000)])
    self.assertLen(rows, 3)
    self.assertEndsWith(rows[-1], "| yes |")


if __name__ == "__main__":
  absltest.main()
