"""The benchmarks' batches are what the engine's train step takes.

benchmarks/step_speed.py and host_devices.py time `run.train_step` on
batches built from public names only (benchmarks/synthetic_batches.py);
when the engine's internals move, these still have to fit its step.
"""

from absl.testing import absltest
import jax
import numpy as np

from benchmarks import synthetic_batches
from experiments.configs import common
from ltjax import train
import recipes_test


class SyntheticBatchesTest(absltest.TestCase):

  def test_batches_hold_a_permutation_and_fit_the_step(self):
    dataset = synthetic_batches.cifar_lt()
    self.assertEqual(np.bincount(dataset.train.labels).tolist(),
                     list(synthetic_batches.COUNTS))
    config = common.build("cifar10_lt", "ce")
    config.model.name = "mnist_cnn"
    config.batch_size = 16
    run = train.build_run(config, dataset)
    batches = synthetic_batches.train_batches(run, dataset.train, 3, 16)
    # Steps 0..2 hold the first 48 positions of one permutation: no example
    # twice, and each row is the dataset's own image and label.
    order = np.random.default_rng(0).permutation(len(dataset.train.labels))
    images = np.concatenate([np.asarray(b["image"]) for b in batches])
    labels = np.concatenate([np.asarray(b["label"]) for b in batches])
    np.testing.assert_array_equal(images, dataset.train.images[order[:48]])
    np.testing.assert_array_equal(labels, dataset.train.labels[order[:48]])
    self.assertEqual(batches[0]["label"].dtype, np.int32)
    self.assertEqual(batches[0]["image"].sharding.mesh.shape, run.mesh.shape)
    # The step takes the batch (its entries, shapes and dtypes); traced
    # only, as compiling it would add nothing the engine's tests lack.
    state = run.init_state()
    new_state, metrics = jax.eval_shape(run.train_step, state, batches[0])
    self.assertEqual(jax.tree.structure(new_state),
                     jax.tree.structure(state))
    self.assertEqual(metrics["loss"].shape, ())

  def test_regression_batches_carry_the_fds_flags(self):
    dataset = synthetic_batches.cifar_lt()
    config = common.build("cifar10_lt", "ce")
    config.model.name = "mnist_cnn"
    run = train.build_run(config, dataset)  # Only its mesh is used.
    batch = synthetic_batches.train_batch(
        run, dataset.train, 2, 16, regression=True)
    self.assertEqual(set(batch), {"input", "target", "fresh"})
    self.assertEqual(batch["target"].dtype, np.float32)
    self.assertTrue(np.all(np.asarray(batch["fresh"])))


if __name__ == "__main__":
  absltest.main()


class TimeToAccuracyTest(absltest.TestCase):

  def test_every_variant_is_the_fast_recipe_with_one_trick_off(self):
    from absl import flags  # pylint: disable=g-import-not-at-top
    from benchmarks import time_to_accuracy  # pylint: disable=g-import-not-at-top
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    fast = time_to_accuracy.variant_config("cifar10_lt", "fast", 0)
    flat_fast = recipes_test.flatten(fast.to_dict())
    for variant, fields in time_to_accuracy.VARIANTS.items():
      config = time_to_accuracy.variant_config("cifar10_lt", variant, 3)
      train.validate_config(config, check_data=False)
      self.assertEqual(config.seed, 3)
      changed = {k for k, v in recipes_test.flatten(config.to_dict()).items()
                 if k != "seed" and v != flat_fast[k]}
      self.assertEqual(changed, set(fields), variant)
    reference = time_to_accuracy.variant_config(
        "cifar10_lt", "reference:ldam_drw:30", 0)
    self.assertEqual(reference.num_epochs, 30)
    self.assertEqual(reference.loss.name, "ldam")
