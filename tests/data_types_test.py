"""Tests for ArraySplit, StreamedSplit, LongTailedDataset and the crops."""

import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from PIL import Image

from ltjax import data
from ltjax.data import _images


def random_images(n, height=8, width=8, channels=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, height, width, channels), dtype=np.uint8)


def make_tempdir(test):
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path)
  return path


def write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path, format="PNG")


class ArraySplitTest(absltest.TestCase):

  def test_get_batch_gathers_rows(self):
    images = random_images(6)
    labels = np.array([0, 1, 2, 0, 1, 2], np.int64)
    split = data.ArraySplit(images=images, labels=labels)
    self.assertLen(split, 6)
    self.assertEqual(split.num_examples, 6)
    self.assertEqual(split.image_shape, (8, 8, 3))
    batch_images, batch_labels = split.get_batch(np.array([4, 0, 4]))
    np.testing.assert_array_equal(batch_images, images[[4, 0, 4]])
    np.testing.assert_array_equal(batch_labels, [1, 0, 1])
    self.assertEqual(batch_images.dtype, np.uint8)
    self.assertEqual(batch_labels.dtype, np.int32)

  def test_read_only_and_batches_are_copies(self):
    split = data.ArraySplit(images=random_images(2), labels=[0, 1])
    with self.assertRaises(ValueError):
      split.images[0, 0, 0, 0] = 1
    batch, _ = split.get_batch([0])
    batch[0] = 0  # A batch is the caller's to modify.

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "images must be uint8"):
      data.ArraySplit(images=np.zeros((2, 4, 4, 3), np.float32),
                      labels=[0, 1])
    with self.assertRaisesRegex(ValueError, "3 entries for 2 images"):
      data.ArraySplit(images=random_images(2), labels=[0, 1, 1])
    split = data.ArraySplit(images=random_images(2), labels=[0, 1])
    with self.assertRaisesRegex(ValueError, r"indices must lie in \[0, 2\)"):
      split.get_batch([2])
    with self.assertRaisesRegex(ValueError, r"indices must lie in \[0, 2\)"):
      split.get_batch([-1])


class CropBoxTest(parameterized.TestCase):

  @parameterized.parameters((375, 500), (500, 375), (32, 32), (40, 900))
  def test_random_resized_crop_box_is_in_range(self, height, width):
    rng = np.random.default_rng(0)
    for _ in range(200):
      top, left, h, w = _images.random_resized_crop_box(height, width, rng)
      self.assertTrue(0 <= top and top + h <= height)
      self.assertTrue(0 <= left and left + w <= width)
      self.assertGreater(h * w, 0)

  def test_random_resized_crop_box_matches_scale_and_ratio(self):
    rng = np.random.default_rng(1)
    height, width = 1000, 1000  # Large: rounding barely moves the box.
    for _ in range(200):
      _, _, h, w = _images.random_resized_crop_box(height, width, rng)
      self.assertBetween(h * w / (height * width), 0.08 - 0.005, 1.0)
      self.assertBetween(w / h, 0.75 * 0.99, 4 / 3 * 1.01)

  def test_fallback_for_extreme_aspect(self):
    # No box of ratio >= 3/4 with area >= 8% fits 1000 x 10; torchvision
    # then centre-crops the whole width with the largest allowed ratio.
    _, _, h, w = _images.random_resized_crop_box(
        1000, 10, np.random.default_rng(0))
    self.assertEqual((h, w), (round(10 / 0.75), 10))

  def test_center_crop_box(self):
    # 256 x 320 at size 224: the shorter side is already 256, so the crop is
    # the central 224 x 224 pixels.
    self.assertEqual(_images.center_crop_box(256, 320, 224),
                     (16.0, 48.0, 224.0, 224.0))
    top, left, h, w = _images.center_crop_box(500, 400, 112)
    self.assertAlmostEqual(h, 112 * 400 / 128)
    self.assertAlmostEqual(top + h / 2, 250)
    self.assertAlmostEqual(left + w / 2, 200)


class StreamedSplitTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = make_tempdir(self)
    rng = np.random.default_rng(0)
    self.big = rng.integers(0, 256, (256, 300, 3), dtype=np.uint8)
    write_png(os.path.join(self.root, "a", "big.png"), self.big)
    self.flat = np.full((60, 90, 3), (10, 200, 30), np.uint8)
    write_png(os.path.join(self.root, "b", "flat.png"), self.flat)
    gray = np.tile(np.arange(64, dtype=np.uint8), (48, 1))
    write_png(os.path.join(self.root, "b", "gray.png"), gray)
    self.split = data.StreamedSplit(
        paths=("a/big.png", "b/flat.png", "b/gray.png"), labels=[2, 0, 1],
        root=self.root, image_size=224, num_workers=2)

  def test_eval_crop_is_the_centre(self):
    images, labels = self.split.get_batch([0])
    self.assertEqual(images.shape, (1, 224, 224, 3))
    np.testing.assert_array_equal(labels, [2])
    # Shorter side 256 = 256/224 * 224: no rescaling, an exact centre crop.
    np.testing.assert_array_equal(images[0], self.big[16:240, 38:262])

  def test_random_crops_are_seeded_and_varied(self):
    a, _ = self.split.get_batch([0, 0, 1], rng=np.random.default_rng(3))
    b, _ = self.split.get_batch([0, 0, 1], rng=np.random.default_rng(3))
    c, _ = self.split.get_batch([0, 0, 1], rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    self.assertFalse(np.array_equal(a[0], a[1]))
    self.assertFalse(np.array_equal(a, c))
    # A flat image stays flat under any crop, resize and flip.
    np.testing.assert_array_equal(a[2], np.broadcast_to(self.flat[0, 0],
                                                        (224, 224, 3)))

  def test_flips_happen_about_half_the_time(self):
    split = data.StreamedSplit(paths=("b/gray.png",) * 200, labels=[0] * 200,
                               root=self.root, image_size=16)
    images, _ = split.get_batch(np.arange(200), rng=np.random.default_rng(0))
    self.assertEqual(images.shape, (200, 16, 16, 3))
    # The source increases left to right; a flipped crop decreases.
    flipped = np.mean(images[:, 8, 0, 0] > images[:, 8, -1, 0])
    self.assertBetween(flipped, 0.35, 0.65)

  def test_missing_image_names_the_path(self):
    split = data.StreamedSplit(paths=("a/none.jpg",), labels=[0],
                               root=self.root)
    with self.assertRaisesRegex(FileNotFoundError, "a/none.jpg"):
      split.get_batch([0])

  def test_corrupt_image_names_the_path(self):
    with open(os.path.join(self.root, "bad.jpg"), "wb") as f:
      f.write(b"not an image")
    split = data.StreamedSplit(paths=("bad.jpg",), labels=[0],
                               root=self.root)
    with self.assertRaisesRegex(ValueError, "bad.jpg"):
      split.get_batch([0])


class LongTailedDatasetTest(absltest.TestCase):

  def make(self, counts):
    train = data.ArraySplit(images=random_images(4), labels=[0, 0, 0, 1])
    return data.LongTailedDataset(
        name="toy", train=train, val=None, test=train,
        class_names=("a", "b"), train_class_counts=np.array(counts),
        metadata={})

  def test_properties(self):
    ds = self.make([3, 1])
    self.assertEqual(ds.num_classes, 2)
    self.assertEqual(ds.image_shape, (8, 8, 3))
    self.assertEqual(ds.train_class_counts.dtype, np.int64)

  def test_counts_must_match_the_labels(self):
    with self.assertRaisesRegex(ValueError, r"do not match .* \[3, 1\]"):
      self.make([2, 2])
    with self.assertRaisesRegex(ValueError, "one count per class"):
      self.make([3, 1, 0])


if __name__ == "__main__":
  absltest.main()
