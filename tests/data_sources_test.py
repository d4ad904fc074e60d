"""Tests for the source readers: CIFAR pickles, image folders, IDX, lists, TFDS.

Every test writes its own small files in the official format (with the
writers of tests/testdata.py, not with ltjax's code) and checks that the reader gives back the
images and labels exactly (approximately for JPEG).
"""

import os
import pickle
import shutil
import socket
import time
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data

from testdata import CIFAR10_NAMES
from testdata import make_tempdir
from testdata import random_images
from testdata import cifar_rows
from testdata import dump_py2_style
from testdata import held_out_val_counts
from testdata import write_cifar10
from testdata import write_cifar100
from testdata import tar_folder
from testdata import write_idx
from testdata import write_image
from testdata import write_folder
from testdata import in_file_order


class CifarTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = make_tempdir(self)
    self.images = random_images(50, seed=1)
    self.labels = np.arange(50) % 10
    self.test_images = random_images(20, seed=2)
    self.test_labels = np.arange(20)[::-1] % 10

  def check(self, result, names):
    np.testing.assert_array_equal(result.splits["train"].images, self.images)
    np.testing.assert_array_equal(result.splits["train"].labels, self.labels)
    np.testing.assert_array_equal(result.splits["test"].images,
                                  self.test_images)
    np.testing.assert_array_equal(result.splits["test"].labels,
                                  self.test_labels)
    self.assertEqual(result.class_names, names)

  @parameterized.parameters("folder", "parent", "tarball")
  def test_cifar10(self, form):
    folder = os.path.join(self.tmp, "cifar-10-batches-py")
    write_cifar10(folder, self.images, self.labels, self.test_images,
                  self.test_labels)
    path = {"folder": folder, "parent": self.tmp,
            "tarball": os.path.join(self.tmp, "c.tar.gz")}[form]
    if form == "tarball":
      tar_folder(folder, path, "cifar-10-batches-py")
      shutil.rmtree(folder)  # Read from the tarball, not from a leftover.
    result = data.read_cifar(path)
    self.check(result, CIFAR10_NAMES)
    self.assertEqual(result.description["variant"], "cifar10")
    self.assertEqual(data.detect_format(path)[0], "pickle")

  def test_cifar100_fine_labels(self):
    names = tuple(f"class{k:02d}" for k in range(10))
    folder = os.path.join(self.tmp, "cifar-100-python")
    write_cifar100(folder, self.images, self.labels, self.test_images,
                   self.test_labels, names)
    tarball = os.path.join(self.tmp, "cifar-100-python.tar.gz")
    tar_folder(folder, tarball, "cifar-100-python")
    for path in (folder, tarball):
      result = data.read_cifar(path)
      self.check(result, names)
      self.assertEqual(result.description["variant"], "cifar100")

  def test_missing_batch_is_named(self):
    folder = os.path.join(self.tmp, "cifar-10-batches-py")
    write_cifar10(folder, self.images, self.labels, self.test_images,
                  self.test_labels)
    os.remove(os.path.join(folder, "data_batch_3"))
    with self.assertRaisesRegex(FileNotFoundError, "data_batch_3"):
      data.read_cifar(folder)

  def test_pickle_that_runs_code_is_refused(self):
    folder = os.path.join(self.tmp, "cifar-10-batches-py")
    write_cifar10(folder, self.images, self.labels, self.test_images,
                  self.test_labels)

    class Evil:

      def __reduce__(self):
        return (os.system, ("echo pwned",))

    with open(os.path.join(folder, "test_batch"), "wb") as f:
      pickle.dump({b"data": Evil()}, f, protocol=2)
    with self.assertRaisesRegex(ValueError, "test_batch.*only hold arrays"):
      data.read_cifar(folder)


class FolderTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = make_tempdir(self)
    self.names = ("zebra", "apple", "mango")  # Not in sorted order.
    self.train = (random_images(12, 16, 16, seed=3), np.arange(12) % 3)
    self.test = (random_images(6, 16, 16, seed=4), np.arange(6) % 3)

  def expected(self, split):
    return in_file_order(*split)

  @parameterized.parameters(False, True)
  def test_png_round_trip_with_class_names(self, as_tarball):
    root = os.path.join(self.tmp, "imgs")
    write_folder(root, {"train": self.train, "test": self.test}, self.names)
    path = root
    if as_tarball:
      path = os.path.join(self.tmp, "imgs.tar.gz")
      tar_folder(root, path, "wrapper")  # One common leading folder.
      shutil.rmtree(root)
    result = data.read_image_folder(path, class_names=self.names,
                                    num_workers=2)
    self.assertEqual(result.class_names, self.names)
    for split, arrays in (("train", self.train), ("test", self.test)):
      images, labels = self.expected(arrays)
      np.testing.assert_array_equal(result.splits[split].images, images)
      np.testing.assert_array_equal(result.splits[split].labels, labels)
    self.assertEqual(data.detect_format(path)[0], "folder")

  def test_sorted_folder_names_without_class_names(self):
    write_folder(self.tmp, {"train": self.train, "test": self.test},
                 self.names)
    result = data.read_image_folder(self.tmp)
    self.assertEqual(result.class_names, ("apple", "mango", "zebra"))
    # zebra (label 0 when written) is label 2 in sorted order.
    remap = np.array([2, 0, 1])
    images, labels = in_file_order(self.train[0], remap[self.train[1]])
    np.testing.assert_array_equal(result.splits["train"].images, images)
    np.testing.assert_array_equal(result.splits["train"].labels, labels)

  def test_jpeg_is_close(self):
    # Smooth colour ramps, which JPEG keeps to within a few levels.
    ramp = np.linspace(0, 1, 16)
    base = np.random.default_rng(5).uniform(30, 190, (12, 1, 1, 3))
    smooth = (base + 40 * ramp[None, :, None, None]
              + 20 * ramp[None, None, :, None]).astype(np.uint8)
    write_folder(self.tmp, {"train": (smooth, self.train[1]),
                            "test": (smooth[:6], self.test[1])},
                 self.names, fmt="JPEG", ext=".JPG")
    result = data.read_image_folder(self.tmp, class_names=self.names)
    images, _ = in_file_order(smooth, self.train[1])
    error = np.abs(result.splits["train"].images.astype(int) - images)
    self.assertLess(error.mean(), 3)
    self.assertLess(error.max(), 24)

  def test_grayscale_keeps_one_channel(self):
    gray = random_images(6, 8, 8, channels=1, seed=6)
    labels = np.arange(6) % 2
    write_folder(self.tmp, {"train": (gray, labels), "test": (gray, labels)},
                 ("0", "1"))
    result = data.read_image_folder(self.tmp)
    images, _ = in_file_order(gray, labels)
    np.testing.assert_array_equal(result.splits["train"].images, images)

  def test_unknown_class_folder_is_named(self):
    write_folder(self.tmp, {"train": self.train, "test": self.test},
                 self.names)
    with self.assertRaisesRegex(ValueError, "'mango' is not one of"):
      data.read_image_folder(self.tmp, class_names=("zebra", "apple", "kiwi"))

  def test_class_without_training_images(self):
    write_folder(self.tmp, {"train": self.train, "test": self.test},
                 self.names)
    with self.assertRaisesRegex(ValueError, "'kiwi' has no training images"):
      data.read_image_folder(self.tmp, class_names=self.names + ("kiwi",))

  def test_mixed_sizes_are_an_error(self):
    write_folder(self.tmp, {"train": self.train, "test": self.test},
                 self.names)
    write_image(os.path.join(self.tmp, "train", "apple", "big.png"),
                random_images(1, 20, 20)[0], "PNG")
    with self.assertRaisesRegex(ValueError, "big.png is 20x20"):
      data.read_image_folder(self.tmp)

  def test_missing_test_split(self):
    write_folder(self.tmp, {"train": self.train}, self.names)
    with self.assertRaisesRegex(FileNotFoundError, "test/<class>"):
      data.read_image_folder(self.tmp)


class IdxTest(parameterized.TestCase):

  @parameterized.parameters(
      ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
      ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
       "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"))
  def test_round_trip(self, *names):
    tmp = make_tempdir(self)
    train = random_images(30, 28, 28, channels=1, seed=7)[..., 0]
    test = random_images(10, 28, 28, channels=1, seed=8)[..., 0]
    train_labels = np.arange(30, dtype=np.uint8) % 10
    test_labels = np.arange(10, dtype=np.uint8)[::-1]
    for name, array in zip(names, (train, train_labels, test, test_labels)):
      write_idx(os.path.join(tmp, name), array)
    result = data.read_mnist(tmp)
    np.testing.assert_array_equal(result.splits["train"].images,
                                  train[..., None])
    np.testing.assert_array_equal(result.splits["train"].labels,
                                  train_labels)
    np.testing.assert_array_equal(result.splits["test"].images,
                                  test[..., None])
    np.testing.assert_array_equal(result.splits["test"].labels, test_labels)
    self.assertEqual(result.class_names, tuple("0123456789"))
    self.assertEqual(data.detect_format(tmp)[0], "idx")

  def test_truncated_file_is_named(self):
    tmp = make_tempdir(self)
    path = os.path.join(tmp, "train-images-idx3-ubyte")
    write_idx(path, np.zeros((3, 4, 4), np.uint8))
    with open(path, "ab") as f:
      f.write(b"\0")
    with self.assertRaisesRegex(ValueError, "train-images-idx3-ubyte holds"):
      data.read_idx_file(path)

  def test_missing_files_are_named(self):
    tmp = make_tempdir(self)
    write_idx(os.path.join(tmp, "train-images-idx3-ubyte"),
              np.zeros((3, 4, 4), np.uint8))
    with self.assertRaisesRegex(FileNotFoundError, "t10k-labels-idx1-ubyte"):
      data.read_mnist(tmp)


class ListFileTest(absltest.TestCase):

  def test_real_format(self):
    tmp = make_tempdir(self)
    path = os.path.join(tmp, "ImageNet_LT_val.txt")
    with open(path, "w") as f:
      f.write("train/n01440764/n01440764_762.JPEG 0\n"
              "train/n01443537/n01443537_10007.JPEG 1\n\n"
              "val/airfield/Places365_val_00003597.jpg 364\n")
    paths, labels = data.read_list_file(path)
    self.assertEqual(paths, ("train/n01440764/n01440764_762.JPEG",
                             "train/n01443537/n01443537_10007.JPEG",
                             "val/airfield/Places365_val_00003597.jpg"))
    np.testing.assert_array_equal(labels, [0, 1, 364])

  def test_malformed_line_is_located(self):
    tmp = make_tempdir(self)
    path = os.path.join(tmp, "list.txt")
    with open(path, "w") as f:
      f.write("a.jpg 0\nb.jpg zero\n")
    with self.assertRaisesRegex(ValueError, "list.txt:2"):
      data.read_list_file(path)

  def test_class_counts_file(self):
    tmp = make_tempdir(self)
    path = os.path.join(tmp, "counts.txt")
    with open(path, "w") as f:
      f.write("50\n250\n5\n")
    np.testing.assert_array_equal(data.read_class_counts_file(path),
                                  [50, 250, 5])


def fake_prepared_tfds(data_dir, name, version="3.0.2"):
  """The files find_prepared_tfds looks for (contents are never read)."""
  folder = os.path.join(data_dir, name, version)
  os.makedirs(folder)
  for file_name in ("dataset_info.json",
                    f"{name}-train.array_record-00000-of-00001"):
    with open(os.path.join(folder, file_name), "w") as f:
      f.write("{}")


def no_network(*args, **kwargs):
  raise AssertionError(f"network used: {args} {kwargs}")


class TfdsTest(absltest.TestCase):

  def test_reads_a_prepared_copy_through_data_source(self):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    tmp = make_tempdir(self)
    fake_prepared_tfds(tmp, "mnist", version="3.0.1")
    labels = np.arange(200) % 10
    images = random_images(200, 28, 28, channels=1, seed=21)

    def as_data_source(builder, split):
      del builder
      n = {"train": 200, "test": 10}
      return [[{"image": images[i], "label": np.int64(labels[i])}
               for i in range(n[s])] for s in split]

    with mock.patch.object(socket.socket, "connect", no_network), \
        tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                               as_data_source_fn=as_data_source):
      result = data.read_tfds("mnist", data_dir=tmp)
      config = data.default_data_config("mnist_lt")
      config.data_dir = tmp  # No path, nothing downloaded: auto picks TFDS.
      config.imbalance_ratio = 10.0
      config.val_per_class = 2
      ds = data.load_dataset(config)
    np.testing.assert_array_equal(result.splits["train"].images, images)
    np.testing.assert_array_equal(result.splits["train"].labels, labels)
    self.assertLen(result.splits["test"], 10)
    self.assertEqual(ds.metadata["source"]["source"], "tfds")
    np.testing.assert_array_equal(ds.train_class_counts,
                                  [int(20 * 10**(-i / 9)) for i in range(10)])

  def test_absent_data_fails_fast_without_network(self):
    tmp = make_tempdir(self)
    os.makedirs(os.path.join(tmp, "cifar10", "3.0.2"))  # Not prepared.
    start = time.monotonic()
    with mock.patch.object(socket.socket, "connect", no_network), \
        mock.patch.object(socket, "getaddrinfo", no_network):
      with self.assertRaisesRegex(data.DataNotFoundError,
                                  "'cifar10' is not prepared"):
        data.read_tfds("cifar10", data_dir=tmp)
      config = data.default_data_config("cifar10_lt")
      config.source = "tfds"
      config.data_dir = tmp
      with self.assertRaisesRegex(data.DataNotFoundError,
                                  "(?s)ArrayRecord.*config\\.data\\.path"):
        data.load_dataset(config)
    self.assertLess(time.monotonic() - start, 3.0)


if __name__ == "__main__":
  absltest.main()
