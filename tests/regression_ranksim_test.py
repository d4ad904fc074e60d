"""Tests for RankSim (`ltjax.regression.ranksim_regularizer`).

Expected values come from the definition written out here in NumPy: the
official `rank_normalised` and the blackbox backward
(rk(s + lambda g) - rk(s)) / lambda, chained by hand through the cosine
similarities to the features.
"""

import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import regression
from ltjax import train
import regression_data_test


def np_rank(s):
  """The official rank_normalised of each row, a stable argsort:
  argsort(argsort(s).flip(1)) + 1, over n (the largest gets 1 / n; of two
  equal values the later one ranks first)."""
  s = np.atleast_2d(s)
  order = np.flip(np.argsort(s, axis=1, kind="stable"), axis=1)
  return (np.argsort(order, axis=1, kind="stable") + 1) / s.shape[1]


def np_regularizer_and_grad(x, y, lam):
  """The regulariser of distinct labels and its gradient, in NumPy.

  The rows are taken in increasing label order, as the official subsample
  (`torch.unique`) orders them; the gradient is returned in the input order.
  """
  back = np.argsort(np.argsort(y, kind="stable"))
  x, y = x[np.argsort(y, kind="stable")], np.sort(y)
  m = len(y)
  norm = np.linalg.norm(x, axis=1, keepdims=True)
  z = x / norm
  s = z @ z.T
  label = np_rank(-np.abs(y[:, None] - y[None, :]))
  feat = np_rank(s)
  value = np.sum((feat - label) ** 2) / m
  upstream = 2 * (feat - label) / m
  grad_s = (np_rank(s + lam * upstream) - feat) / lam
  grad_z = (grad_s + grad_s.T) @ z
  grad_x = (grad_z - z * np.sum(z * grad_z, axis=1, keepdims=True)) / norm
  return value, grad_x[back]


def arc(y, scale=0.1):
  """Unit features whose cosine similarity decreases with |y_i - y_j|."""
  angle = np.asarray(y, np.float64) * scale
  return np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)


class RegularizerTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2)
  def test_zero_when_feature_and_label_rankings_agree(self, seed):
    y = np.array([0., 1., 3., 7., 15., 3., 0.], np.float32)  # duplicates
    x = arc(y) * np.array([[1.], [2.], [.5], [3.], [1.], [1.], [4.]])
    value = regression.ranksim_regularizer(jnp.asarray(x), jnp.asarray(y),
                                           jax.random.key(seed))
    self.assertEqual(float(value), 0.0)

  def test_positive_when_rankings_disagree(self):
    y = np.array([0., 1., 3., 7., 15.], np.float32)
    x = arc(np.array([15., 0., 7., 1., 3.]))
    value = float(regression.ranksim_regularizer(
        jnp.asarray(x), jnp.asarray(y), jax.random.key(0)))
    self.assertGreater(value, 0.0)
    expected, _ = np_regularizer_and_grad(x.astype(np.float64), y, 2.0)
    self.assertAlmostEqual(value, expected, places=6)

  @parameterized.parameters(0.5, 2.0, 10.0)
  def test_gradient_is_the_blackbox_formula(self, lam):
    rng = np.random.default_rng(0)
    y = rng.permutation(12).astype(np.float32) * 1.5
    x = rng.normal(size=(12, 5)).astype(np.float32)
    value, grad = jax.value_and_grad(
        lambda f: regression.ranksim_regularizer(
            f, jnp.asarray(y), jax.random.key(1), interpolation_lambda=lam))(
                jnp.asarray(x))
    expected_value, expected_grad = np_regularizer_and_grad(
        x.astype(np.float64), y.astype(np.float64), lam)
    self.assertAlmostEqual(float(value), expected_value, places=5)
    self.assertGreater(np.abs(expected_grad).max(), 0)
    np.testing.assert_allclose(grad, expected_grad, atol=2e-5)

  def test_ranker_vjp(self):
    rng = np.random.default_rng(3)
    s = rng.normal(size=(4, 9)).astype(np.float32)
    g = rng.normal(size=(4, 9)).astype(np.float32)
    valid = np.ones((4, 9), bool)
    ranks, pullback = jax.vjp(
        lambda v: regression.blackbox_rank(v, jnp.asarray(valid), 3.0),
        jnp.asarray(s))
    np.testing.assert_allclose(ranks, np_rank(s), atol=1e-7)
    np.testing.assert_allclose(pullback(jnp.asarray(g))[0],
                               (np_rank(s + 3.0 * g) - np_rank(s)) / 3.0,
                               atol=1e-6)

  def test_masked_entries_rank_last(self):
    s = jnp.array([[0.3, 0.9, -0.2, 0.5]])
    valid = jnp.array([[True, False, True, True]])
    ranks = regression.blackbox_rank(s, valid, 2.0)
    np.testing.assert_allclose(ranks[0, [0, 2, 3]],
                               np_rank(np.array([0.3, -0.2, 0.5]))[0])

  def test_one_per_label(self):
    y = jnp.array([2., 5., 2., 2., 7., 5., 9.])
    keys = jax.random.split(jax.random.key(0), 300)
    kept = np.asarray(jax.vmap(lambda k: regression.one_per_label(y, k))(
        keys))
    for label in (2., 5., 7., 9.):
      np.testing.assert_array_equal(kept[:, np.asarray(y) == label].sum(1), 1)
    # Each of the three 2s is the kept one about a third of the time.
    share = kept[:, [0, 2, 3]].mean(0)
    np.testing.assert_allclose(share, 1 / 3, atol=0.1)
    masked = regression.one_per_label(
        y, jax.random.key(1), jnp.array([1, 1, 1, 1, 0, 1, 1], bool))
    self.assertFalse(bool(masked[4]))
    self.assertEqual(int(masked.sum()), 3)


def tiny_abalone_config(folder, method, epochs, rows=120):
  """`method`'s abalone_dir config on a small generated abalone file."""
  path = os.path.join(folder, "abalone.data")
  rng = np.random.default_rng(0)
  regression_data_test.write_abalone(
      path, np.clip(np.round(rng.gamma(5.0, 2.0, rows)), 1, 29))
  config = regression.build_config("abalone_dir", method, epochs)
  config.data.path = path
  config.data.val_per_label = 4
  config.model.widths = (16,)
  config.batch_size = 16
  return config


class CompiledStepTest(parameterized.TestCase):

  def test_one_trace_with_ranksim_lds_and_fds(self):
    with tempfile.TemporaryDirectory() as tmp:
      config = tiny_abalone_config(tmp, "lds_fds_ranksim", "3")
      self.assertTrue(config.fds.enabled and config.reweight.lds)
      run = regression.build_run(
          config, regression.load_regression_dataset(config.data))
      state = run.init_state()
      per_epoch = run.steps_per_epoch
      for step in range(2 * per_epoch + 1):  # across FDS's start_smooth
        plan = run.task.epoch_plan(step // per_epoch)
        state, metrics = run.train_step(state,
                                        train.train_batch(run, step, plan))
        self.assertTrue(np.isfinite(float(metrics["loss"])))
        self.assertGreaterEqual(float(metrics["ranksim"]), 0.0)
      # pylint: disable-next=protected-access
      self.assertEqual(run.train_step._cache_size(), 1)


class ConfigTest(parameterized.TestCase):

  @parameterized.parameters(("weight", -1.0, "ranksim.weight"),
                            ("interpolation_lambda", 0.0,
                             "ranksim.interpolation_lambda"))
  def test_bad_fields_are_named(self, field, value, name):
    config = regression.build_config("abalone_dir", "ranksim")
    config.ranksim[field] = value
    with self.assertRaisesRegex(ValueError, name.replace(".", r"\.")):
      regression.validate_config(config, check_data=False)


if __name__ == "__main__":
  absltest.main()
