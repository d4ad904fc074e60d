"""`model.bn_axis`: BatchNorm statistics over the global batch or per
replica (`ltjax.models.GroupedBatchNorm`)."""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import data
from ltjax import models
from ltjax import recipes
from ltjax import train
import testdata


def _x(shape=(8, 4, 4, 3), seed=0):
  rng = np.random.default_rng(seed)
  # Two halves from different distributions: per-group statistics differ.
  x = rng.normal(size=shape)
  x[shape[0] // 2:] = 3.0 * x[shape[0] // 2:] + 2.0
  return jnp.asarray(x, jnp.float32)


class GroupedBatchNormTest(absltest.TestCase):

  def test_matches_the_formula_per_group(self):
    x = _x()
    bn = models.batch_norm(train=True, dtype=jnp.float32, groups=2)
    variables = bn.init(jax.random.key(0), x)
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    xs = np.asarray(x, np.float64).reshape(2, 4, 4, 4, 3)
    mean = xs.mean(axis=(1, 2, 3), keepdims=True)
    var = xs.var(axis=(1, 2, 3), keepdims=True)  # biased, as BatchNorm
    expected = ((xs - mean) / np.sqrt(var + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(updates["batch_stats"]["mean"],
                               0.1 * mean.reshape(2, 3).mean(0), rtol=1e-5)
    np.testing.assert_allclose(updates["batch_stats"]["var"],
                               0.9 + 0.1 * var.reshape(2, 3).mean(0),
                               rtol=1e-5)

  def test_one_group_is_batch_norm_and_evaluation_is_the_same(self):
    x = _x()
    grouped = models.GroupedBatchNorm(groups=1, use_running_average=False)
    plain = models.batch_norm(train=True, dtype=jnp.float32)
    variables = plain.init(jax.random.key(0), x)
    a, _ = grouped.apply(variables, x, mutable=["batch_stats"])
    b, _ = plain.apply(variables, x, mutable=["batch_stats"])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    stats = {"params": variables["params"], "batch_stats": {
        "mean": jnp.arange(3.0), "var": jnp.arange(1.0, 4.0)}}
    a = models.batch_norm(train=False, dtype=jnp.float32, groups=4).apply(
        stats, x)
    b = models.batch_norm(train=False, dtype=jnp.float32).apply(stats, x)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

  def test_same_variables_as_batch_norm(self):
    """A checkpoint loads with either axis: the same tree, the same init."""
    sample = jnp.zeros((2, 32, 32, 3))
    a = models.build_model("resnet32", num_classes=10, bn_groups=2).init(
        jax.random.key(0), sample, train=False)
    b = models.build_model("resnet32", num_classes=10).init(
        jax.random.key(0), sample, train=False)
    self.assertEqual(jax.tree.structure(a), jax.tree.structure(b))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(u, v)


class ConfigTest(absltest.TestCase):

  def test_replica_groups_by_device_and_trains(self):
    labels = np.repeat(np.arange(3), [24, 12, 8])
    images = testdata.random_images(labels.size, 8, 8, 1)
    ds = data.from_arrays((images, labels), test=(images, labels))
    config = recipes.build("mnist_lt", "ce", "1")
    config.model.bn_axis = "replica"
    config.batch_size = 16
    run = train.build_run(config, ds)
    self.assertEqual(run.model.bn_groups, jax.device_count())
    state = run.init_state()
    plans = train.epoch_plans(run.task, 0)
    state, metrics = run.train_step(state, train.train_batch(run, 0, plans))
    self.assertTrue(np.isfinite(float(metrics["loss"])))

  def test_refusals_name_the_field(self):
    config = recipes.build("csv_lt", "ce", "1")
    config.model.bn_axis = "replica"
    x = np.random.default_rng(0).normal(size=(30, 4))
    ds = data.from_arrays((x, np.arange(30) % 3), test=(x, np.arange(30) % 3))
    with self.assertRaisesRegex(ValueError, r"config\.model\.bn_axis: "
                                r"'replica' needs a model with grouped"):
      train.build_run(config, ds)
    config = recipes.build("abalone_dir", "vanilla", "1")
    config.model.bn_axis = "replica"
    with self.assertRaisesRegex(ValueError, r"config\.model\.bn_axis"):
      train.validate_config(config, check_data=False)


if __name__ == "__main__":
  absltest.main()
