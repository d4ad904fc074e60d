"""FDS statistics, smoothing and calibration against NumPy, on 1 and 8 devices.

Expected values are the per-bin mean / unbiased variance, the EMA and the
reflect-padded convolution written out in NumPy (Yang et al. 2021).
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import regression
from ltjax.train import _parallel

K, D = 7, 5


def _batch(seed, n=40, bins=(0, 1, 2, 4, 5)):
  rng = np.random.default_rng(seed)
  features = rng.normal(2.0, 3.0, (n, D)).astype(np.float32)
  bin_ids = rng.choice(np.array(bins), n).astype(np.int32)
  bin_ids[0] = bins[-1]
  bin_ids[1:] = np.where(bin_ids[1:] == bins[-1], bins[0], bin_ids[1:])
  return features, bin_ids  # bins[-1] has exactly one row


def _np_stats(features, bin_ids):
  """Per-bin count, mean, unbiased var (0 for n = 1) in float64."""
  count = np.zeros(K)
  mean = np.zeros((K, D))
  var = np.zeros((K, D))
  for b in range(K):
    rows = features[bin_ids == b].astype(np.float64)
    count[b] = len(rows)
    if len(rows):
      mean[b] = rows.mean(0)
      var[b] = rows.var(0, ddof=1) if len(rows) > 1 else 0.0
  return count, mean, var


def _np_smooth(values, window):
  half = len(window) // 2
  padded = np.pad(values, ((half, half), (0, 0)), mode="reflect")
  return np.stack([sum(window[j] * padded[k + j] for j in range(len(window)))
                   for k in range(values.shape[0])])


class UpdateTest(absltest.TestCase):

  def test_first_update_is_the_exact_batch_statistics(self):
    features, bin_ids = _batch(0)
    state = regression.update_fds(regression.init_fds(K, D), features,
                                  bin_ids, momentum=0.9)
    count, mean, var = _np_stats(features, bin_ids)
    seen = count > 0
    np.testing.assert_allclose(state.mean[seen], mean[seen], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(state.var[seen], var[seen], rtol=1e-5)
    # Unseen bins keep the initial mean 0 / variance 1; the bin seen once
    # has variance 0 (no unbiased estimate).
    np.testing.assert_array_equal(state.mean[~seen], 0.0)
    np.testing.assert_array_equal(state.var[~seen], 1.0)
    np.testing.assert_array_equal(state.var[5], 0.0)
    np.testing.assert_array_equal(state.num_updates, seen.astype(int))

  def test_ema_arithmetic(self):
    f1, b1 = _batch(1, bins=(0, 1, 2))
    f2, b2 = _batch(2, bins=(1, 2, 3))
    state = regression.init_fds(K, D)
    state = regression.update_fds(state, f1, b1, momentum=0.9)
    state = regression.update_fds(state, f2, b2, momentum=0.9)
    _, m1, v1 = _np_stats(f1, b1)
    _, m2, v2 = _np_stats(f2, b2)
    # Bin 0: batch 1 only; bins 1 and 2: 0.1 * new + 0.9 * old; bin 3: the
    # first update overwrites.
    for b, (mean, var) in {0: (m1[0], v1[0]),
                           1: (0.1 * m2[1] + 0.9 * m1[1],
                               0.1 * v2[1] + 0.9 * v1[1]),
                           2: (0.1 * m2[2] + 0.9 * m1[2],
                               0.1 * v2[2] + 0.9 * v1[2]),
                           3: (m2[3], v2[3])}.items():
      np.testing.assert_allclose(state.mean[b], mean, rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(state.var[b], var, rtol=1e-5)
    np.testing.assert_array_equal(state.num_updates, [1, 2, 2, 1, 0, 0, 0])

  def test_accumulated_epoch_equals_one_update_on_all_of_it(self):
    features, bin_ids = _batch(3, n=90)
    state = regression.init_fds(K, D)
    direct = regression.update_fds(state, features, bin_ids, momentum=0.9)
    # 4 batches of 25: the last 10 rows are masked-out repeats (as the
    # examples that fill an epoch's last batch), which must not count.
    padded = np.concatenate([features, features[:10] * 100.0])
    padded_bins = np.concatenate([bin_ids, bin_ids[:10]])
    full_mask = np.arange(100) < 90
    acc = jax.jit(regression.accumulate_fds)
    for start in range(0, 100, 25):
      part = slice(start, start + 25)
      state = acc(state, padded[part], padded_bins[part],
                  mask=full_mask[part])
    committed = regression.commit_fds(state, momentum=0.9)
    np.testing.assert_allclose(committed.mean, direct.mean, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(committed.var, direct.var, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_array_equal(committed.num_updates, direct.num_updates)
    np.testing.assert_array_equal(committed.epoch_count, 0.0)
    np.testing.assert_array_equal(committed.epoch_m2, 0.0)

  def test_variance_is_stable_for_large_means(self):
    rng = np.random.default_rng(4)
    features = (1e4 + rng.normal(0, 1e-1, (64, D))).astype(np.float32)
    bins = np.zeros(64, np.int32)
    state = regression.update_fds(regression.init_fds(K, D), features, bins)
    expected = features.astype(np.float64).var(0, ddof=1)
    np.testing.assert_allclose(state.var[0], expected, rtol=1e-2)


class SmoothCalibrateTest(parameterized.TestCase):

  def _state(self, seed=5):
    rng = np.random.default_rng(seed)
    state = regression.init_fds(K, D)
    return state.replace(
        mean=jnp.asarray(rng.normal(0, 2, (K, D)), jnp.float32),
        var=jnp.asarray(rng.uniform(0.2, 3, (K, D)), jnp.float32),
        num_updates=jnp.ones((K,), jnp.int32))

  @parameterized.product(kernel=("gaussian", "triangular", "laplace"),
                         parity=(False, True), ks=(3, 5))
  def test_smoothing_matches_numpy_reflect_convolution(self, kernel, parity,
                                                       ks):
    state = self._state()
    smoothed = regression.smooth_fds(state, kernel=kernel, ks=ks, sigma=2.0,
                                     scipy_parity=parity)
    window = regression.kernel_window(kernel, ks=ks, sigma=2.0,
                                      scipy_parity=parity, normalize="peak")
    window = window / window.sum()
    np.testing.assert_allclose(smoothed.smoothed_mean,
                               _np_smooth(np.asarray(state.mean), window),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(smoothed.smoothed_var,
                               _np_smooth(np.asarray(state.var), window),
                               rtol=1e-5)

  def test_calibration_is_identity_when_smoothed_equals_running(self):
    state = self._state()
    state = state.replace(smoothed_mean=state.mean + 0.0,
                          smoothed_var=state.var + 0.0)
    features, bin_ids = _batch(6, bins=tuple(range(K)))
    out = regression.calibrate_features(features, bin_ids, state)
    np.testing.assert_allclose(out, features, rtol=1e-6, atol=1e-5)

  def test_calibration_formula(self):
    state = regression.smooth_fds(self._state())
    var = np.asarray(state.var).copy()
    var[2, 1] = 0.0  # a dead dimension of bin 2: left unchanged
    state = state.replace(var=jnp.asarray(var),
                          num_updates=state.num_updates.at[6].set(0))
    features, bin_ids = _batch(7, bins=tuple(range(K)))
    out = np.asarray(regression.calibrate_features(
        features, bin_ids, state, clip=(0.5, 2.0)))
    m, sm, sv = (np.asarray(x, np.float64) for x in (
        state.mean, state.smoothed_mean, state.smoothed_var))
    for i, b in enumerate(bin_ids):
      if b == 6:
        expected = features[i]  # no statistics yet
      else:
        ratio = np.clip(sv[b] / np.where(var[b] > 0, var[b], 1), 0.5, 2.0)
        expected = (features[i] - m[b]) * np.sqrt(ratio) + sm[b]
        expected = np.where(var[b] > 0, expected, features[i])
      np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)

  def test_first_smoothing_epoch_is_not_the_identity(self):
    # Reference quirk 1: there, calibration in the first smoothing epoch
    # uses the initial buffers and changes nothing.
    features, bin_ids = _batch(8, n=200, bins=tuple(range(K)))
    state = regression.init_fds(K, D)
    state = regression.accumulate_fds(state, features, bin_ids)
    state = regression.smooth_fds(regression.commit_fds(state))
    out = regression.calibrate_features(features, bin_ids, state)
    self.assertGreater(float(jnp.max(jnp.abs(out - features))), 0.1)

  def test_gradient_is_finite_with_zero_variance(self):
    state = regression.smooth_fds(self._state())
    state = state.replace(var=state.var.at[0].set(0.0))
    features, bin_ids = _batch(9, bins=(0, 1))
    grad = jax.grad(lambda f: jnp.sum(regression.calibrate_features(
        f, bin_ids, state)))(jnp.asarray(features))
    self.assertTrue(bool(jnp.all(jnp.isfinite(grad))))


class DeviceTest(absltest.TestCase):

  def test_sharded_update_equals_unsharded(self):
    self.assertGreaterEqual(jax.device_count(), 8)
    mesh = _parallel.data_mesh(jax.devices()[:8])
    batch = _parallel.batch_sharded(mesh)
    replicated = _parallel.replicated(mesh)
    features, bin_ids = _batch(10, n=64, bins=(0, 1, 3, 6))
    state = regression.init_fds(K, D)

    def step(state, features, bin_ids):
      state = regression.update_fds(state, features, bin_ids, momentum=0.9)
      state = regression.accumulate_fds(state, features * 2.0, bin_ids)
      return regression.smooth_fds(state)

    sharded = jax.jit(step, in_shardings=(replicated, batch, batch),
                      out_shardings=replicated)(
                          jax.device_put(state, replicated),
                          jax.device_put(features, batch),
                          jax.device_put(bin_ids, batch))
    single = jax.jit(step)(state, features, bin_ids)
    for x, y in zip(jax.tree.leaves(sharded), jax.tree.leaves(single)):
      np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)

  def test_leaves_never_share_a_buffer_and_donation_works(self):
    def pointers(state):
      return [leaf.unsafe_buffer_pointer() for leaf in jax.tree.leaves(state)]

    for state in (regression.init_fds(K, D),
                  jax.jit(lambda: regression.init_fds(K, D))()):
      self.assertLen(set(pointers(state)), len(jax.tree.leaves(state)))
    features, bin_ids = _batch(11, bins=tuple(range(K)))

    @jax.jit
    def epoch_end(state, features, bin_ids):
      state = regression.accumulate_fds(state, features, bin_ids)
      return regression.smooth_fds(regression.commit_fds(state))

    step = jax.jit(epoch_end.__wrapped__, donate_argnums=0)
    state = regression.init_fds(K, D)
    for _ in range(3):
      state = step(state, features, bin_ids)
      self.assertLen(set(pointers(state)), len(jax.tree.leaves(state)))


if __name__ == "__main__":
  absltest.main()
