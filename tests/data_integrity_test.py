"""Truncated or corrupt archives and short copies of the official splits."""

import os
import tarfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data
from tests import testdata

_NAMES = ("ant", "bee", "cat")


def _member_offsets(path):
  with tarfile.open(path) as tar:
    return [(m.name, m.offset, m.offset_data, m.size) for m in tar]


def _cut(path, size, out):
  with open(path, "rb") as f:
    payload = f.read()[:size]
  with open(out, "wb") as f:
    f.write(payload)
  return out


class ArchiveIntegrityTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = testdata.make_tempdir(self)
    self.root = os.path.join(self.tmp, "images")
    labels = np.repeat(np.arange(3), 4)
    testdata.write_folder(self.root, {
        "train": (testdata.random_images(12, 8, 8, 3, seed=0), labels),
        "test": (testdata.random_images(12, 8, 8, 3, seed=1), labels)},
                          _NAMES)

  def tarball(self, mode="w", name="images.tar"):
    path = os.path.join(self.tmp, name)
    with tarfile.open(path, mode) as tar:
      for split in ("train", "test"):  # Test images come last.
        tar.add(os.path.join(self.root, split), arcname=split)
    return path

  @parameterized.parameters(("w", "a.tar"), ("w:gz", "a.tar.gz"),
                            ("w:bz2", "a.tar.bz2"), ("w:xz", "a.tar.xz"))
  def test_whole_archives_read(self, mode, name):
    result = data.read_image_folder(self.tarball(mode, name))
    np.testing.assert_array_equal(
        np.bincount(result.splits["test"].labels), [4, 4, 4])

  def test_tar_cut_at_a_member_boundary(self):
    path = self.tarball()
    members = _member_offsets(path)
    # Cut before the header of the last test image of class "cat": tarfile
    # alone reads that as the end of the archive, one image short.
    name, offset, _, _ = [m for m in members if m[0].startswith("test/cat/")
                         ][-1]
    cut = _cut(path, offset, os.path.join(self.tmp, "cut.tar"))
    with self.assertRaisesRegex(
        data.CorruptArchiveError,
        r"cut\.tar is truncated or corrupt.*without the end-of-archive"):
      data.read_image_folder(cut)
    config = data.default_data_config("folder")
    config.path = cut
    with self.assertRaisesRegex(data.CorruptArchiveError, r"cut\.tar"):
      data.load_dataset(config)
    del name

  def test_tar_without_end_marker(self):
    path = self.tarball()
    _, _, data_offset, size = _member_offsets(path)[-1]
    end = data_offset + -(-size // 512) * 512  # Last member, padded.
    cut = _cut(path, end, os.path.join(self.tmp, "noend.tar"))
    with self.assertRaisesRegex(data.CorruptArchiveError, r"noend\.tar"):
      data.read_image_folder(cut)

  def test_tar_cut_inside_a_member(self):
    path = self.tarball()
    _, _, data_offset, _ = _member_offsets(path)[-1]
    cut = _cut(path, data_offset + 10, os.path.join(self.tmp, "mid.tar"))
    with self.assertRaisesRegex(data.CorruptArchiveError, r"mid\.tar"):
      data.read_image_folder(cut)

  def test_gzip_with_corrupt_bytes(self):
    path = self.tarball("w:gz", "images.tar.gz")
    with open(path, "rb") as f:
      payload = bytearray(f.read())
    start = len(payload) * 3 // 4
    payload[start:start + 32] = bytes(b ^ 0xFF for b in
                                      payload[start:start + 32])
    bad = os.path.join(self.tmp, "bad.tar.gz")
    with open(bad, "wb") as f:
      f.write(bytes(payload))
    with self.assertRaisesRegex(data.CorruptArchiveError,
                                r"bad\.tar\.gz is truncated or corrupt"):
      data.read_image_folder(bad)
    config = data.default_data_config("folder")
    config.path = bad
    with self.assertRaisesRegex(data.CorruptArchiveError, r"bad\.tar\.gz"):
      data.load_dataset(config)

  def test_gzip_cut_short(self):
    path = self.tarball("w:gz", "images.tar.gz")
    cut = _cut(path, os.path.getsize(path) - 30,
               os.path.join(self.tmp, "short.tar.gz"))
    with self.assertRaisesRegex(data.CorruptArchiveError,
                                r"short\.tar\.gz"):
      data.read_image_folder(cut)

  def test_cifar_pickle_tarball_cut_short(self):
    folder = os.path.join(self.tmp, "cifar-10-batches-py")
    labels = np.arange(20) % 10
    testdata.write_cifar10(folder, testdata.random_images(20, seed=2), labels,
                           testdata.random_images(20, seed=3), labels)
    path = os.path.join(self.tmp, "cifar.tar")
    with tarfile.open(path, "w") as tar:
      tar.add(folder, arcname="cifar-10-batches-py")
    _, _, data_offset, size = _member_offsets(path)[-1]
    cut = _cut(path, data_offset + -(-size // 512) * 512,
               os.path.join(self.tmp, "cifar-cut.tar"))
    self.assertEqual(data.read_cifar(path).splits["train"].labels.size, 20)
    with self.assertRaisesRegex(data.CorruptArchiveError, r"cifar-cut\.tar"):
      data.read_cifar(cut)


class SplitSizesTest(parameterized.TestCase):
  """MNIST-format copies: whole test split, tiny train split."""

  def write_mnist(self, test_counts, train_per_class=6):
    folder = os.path.join(testdata.make_tempdir(self), "mnist")
    os.makedirs(folder)
    train = np.repeat(np.arange(10), train_per_class)
    test = np.repeat(np.arange(10), test_counts)
    for prefix, labels in (("train", train), ("t10k", test)):
      testdata.write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"),
                         np.zeros((labels.size, 28, 28), np.uint8))
      testdata.write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"),
                         labels.astype(np.uint8))
    config = data.default_data_config("mnist_lt")
    config.path = folder
    config.imbalance_ratio = 2.0
    config.val_per_class = 1
    return config

  # MNIST's published test images per digit.
  _MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

  def test_partial_official_split_is_an_error(self):
    counts = list(self._MNIST_TEST)
    counts[9] = 400  # Digit 9's images cut short.
    config = self.write_mnist(counts)
    with self.assertRaisesRegex(
        ValueError, r"(?s)mnist: the test split has 9391 images, not the "
        r"official 10000.*'9': 400 \(expected 1009\).*split_sizes='any'"):
      data.load_dataset(config)
    config.split_sizes = "any"
    ds = data.load_dataset(config)
    self.assertEqual(ds.metadata["source"]["split_sizes"], "not checked")

  def test_whole_official_split_and_subset(self):
    config = self.write_mnist(self._MNIST_TEST)
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      ds = data.load_dataset(config)
    self.assertIn("not the official split sizes", "\n".join(logs.output))
    self.assertEqual(ds.metadata["source"]["split_sizes"],
                     "subset: train 60 of 60000")
    config.split_sizes = "official"
    with self.assertRaisesRegex(ValueError, r"the train split has 60 images"):
      data.load_dataset(config)

  def test_official_counts_are_the_known_sizes(self):
    specs = data.DATASETS
    self.assertEqual(
        {k: (sum(specs[k].official_counts["train"]),
             sum(specs[k].official_counts["test"]))
         for k in ("cifar10_lt", "cifar100_lt", "mnist_lt")},
        {"cifar10_lt": (50000, 10000), "cifar100_lt": (50000, 10000),
         "mnist_lt": (60000, 10000)})
    self.assertEqual(set(specs["cifar10_lt"].official_counts["test"]),
                     {1000})
    self.assertEqual(set(specs["cifar100_lt"].official_counts["train"]),
                     {500})

  def test_split_sizes_field_is_checked(self):
    config = data.default_data_config("mnist_lt")
    config.split_sizes = "exact"
    with self.assertRaisesRegex(ValueError, "split_sizes must be one of"):
      data.validate_data_config(config)
    config = data.default_data_config("folder")
    config.split_sizes = "official"
    with self.assertRaisesRegex(ValueError, "folder has no official split"):
      data.validate_data_config(config)


if __name__ == "__main__":
  absltest.main()
