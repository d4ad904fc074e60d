"""Tests for on-device augmentation (ltjax.data._augment)."""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.data import _augment as augment


def random_images(seed, batch=16, size=8, channels=3):
  rng = np.random.default_rng(seed)
  return rng.integers(1, 256, size=(batch, size, size, channels),
                      dtype=np.uint8)


class RandomCropFlipTest(absltest.TestCase):

  def test_shapes_dtypes_and_determinism(self):
    images = random_images(0)
    key = jax.random.key(0)
    a = augment.random_crop_flip(images, key)
    b = jax.jit(augment.random_crop_flip)(images, key)
    self.assertEqual(a.shape, images.shape)
    self.assertEqual(a.dtype, jnp.uint8)
    np.testing.assert_array_equal(a, b)
    c = augment.random_crop_flip(images, jax.random.key(1))
    self.assertFalse(np.array_equal(a, c))

  def test_each_output_is_a_window_of_the_padded_image(self):
    images = random_images(1, batch=32)
    out = np.asarray(augment.random_crop_flip(images, jax.random.key(2),
                                              padding=2))
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    offsets_seen = set()
    for i in range(len(images)):
      matches = [(y, x, f) for y in range(5) for x in range(5)
                 for f in (False, True)
                 if np.array_equal(
                     out[i],
                     (padded[i, y:y + 8, x:x + 8][:, ::-1] if f
                      else padded[i, y:y + 8, x:x + 8]))]
      self.assertNotEmpty(matches, f"image {i} is not a padded window")
      offsets_seen.update(matches)
    self.assertGreater(len(offsets_seen), 10)  # offsets really vary

  def test_identity_without_padding_or_flip(self):
    images = random_images(2)
    np.testing.assert_array_equal(
        augment.random_crop_flip(images, jax.random.key(0), padding=0,
                                 flip=False), images)

  def test_flip_rate(self):
    images = random_images(3, batch=2000, size=4, channels=1)
    out = np.asarray(augment.random_crop_flip(images, jax.random.key(4),
                                              padding=0))
    flipped = np.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == images, axis=(1, 2, 3))
    self.assertTrue(np.all(flipped | kept))
    self.assertBetween(flipped.mean(), 0.45, 0.55)

  def test_sharded_equals_unsharded(self):
    mesh = jax.make_mesh((8,), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))
    sharding = jax.sharding.NamedSharding(mesh,
                                          jax.sharding.PartitionSpec("data"))
    images = random_images(5, batch=64)
    key = jax.random.key(9)
    fn = jax.jit(lambda x, k: augment.augment(
        x, k, mean=augment.CIFAR_MEAN, std=augment.CIFAR_STD))
    np.testing.assert_allclose(fn(jax.device_put(images, sharding), key),
                               fn(images, key), rtol=1e-6)


class NormalizeTest(absltest.TestCase):

  def test_formula(self):
    images = random_images(6)
    got = augment.normalize(images, mean=augment.CIFAR_MEAN,
                            std=augment.CIFAR_STD)
    expected = ((images / 255.0 - np.array(augment.CIFAR_MEAN))
                / np.array(augment.CIFAR_STD))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    self.assertEqual(got.dtype, jnp.float32)
    half = augment.normalize(images, mean=augment.CIFAR_MEAN,
                             std=augment.CIFAR_STD, dtype=jnp.bfloat16)
    self.assertEqual(half.dtype, jnp.bfloat16)

  def test_eval_transform_is_normalize_only(self):
    images = random_images(7, channels=1)
    np.testing.assert_array_equal(
        augment.augment(images, None, mean=augment.MNIST_MEAN,
                        std=augment.MNIST_STD),
        augment.normalize(images, mean=augment.MNIST_MEAN,
                          std=augment.MNIST_STD))

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "one entry per channel"):
      augment.normalize(random_images(8), mean=(0.5,), std=(0.5,))
    with self.assertRaisesRegex(ValueError, r"\[B, H, W, K\]"):
      augment.random_crop_flip(np.zeros((8, 8, 3), np.uint8),
                               jax.random.key(0))


if __name__ == "__main__":
  absltest.main()
