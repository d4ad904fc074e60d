"""Tests for load_dataset: the protocol end to end, splits, metadata, errors."""

import json
import os
import types

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

import data_profiles_test as profiles
import data_sources_test as fixtures
from ltjax import data

PER_CLASS = 30  # Tiny CIFAR: 30 training images per class.


def tagged_images(n, seed):
  """Random images whose first pixel encodes their index (n < 65,536)."""
  images = fixtures.random_images(n, seed=seed)
  images[:, 0, 0, 0] = np.arange(n) % 256
  images[:, 0, 0, 1] = np.arange(n) // 256
  return images


def tags(images):
  return (images[:, 0, 0, 0].astype(int) +
          256 * images[:, 0, 0, 1].astype(int))


class CifarProtocolTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = fixtures.make_tempdir(self)
    self.labels = profiles.cifar_like_labels(PER_CLASS, 10, seed=11)
    self.images = tagged_images(self.labels.size, seed=12)
    fixtures.write_cifar10(
        os.path.join(self.tmp, "cifar-10-batches-py"), self.images,
        self.labels, fixtures.random_images(40, seed=13), np.arange(40) % 10)
    self.config = data.default_data_config("cifar10_lt")
    self.config.path = self.tmp
    self.config.imbalance_ratio = 10.0
    self.config.val_per_class = 10

  def test_training_set_is_the_original_subset(self):
    ds = data.load_dataset(self.config)
    counts = profiles.spec_counts(PER_CLASS, 10, 10)
    np.testing.assert_array_equal(ds.train_class_counts, counts)
    np.testing.assert_array_equal(
        tags(ds.train.images), profiles.original_subset(self.labels, counts))
    np.testing.assert_array_equal(ds.train.labels,
                                  np.repeat(np.arange(10), counts))
    self.assertEqual(ds.class_names, fixtures.CIFAR10_NAMES)
    self.assertEqual(ds.num_classes, 10)
    self.assertEqual(ds.image_shape, (32, 32, 3))
    self.assertLen(ds.test, 40)

  def test_val_is_balanced_disjoint_and_from_the_unused_images(self):
    ds = data.load_dataset(self.config)
    train, val = tags(ds.train.images), tags(ds.val.images)
    self.assertEmpty(np.intersect1d(train, val))
    self.assertLen(np.unique(val), val.size)
    np.testing.assert_array_equal(self.labels[val], ds.val.labels)
    unused = PER_CLASS - np.asarray(profiles.spec_counts(PER_CLASS, 10, 10))
    expected = np.minimum(10, unused)  # Class 0 keeps all 30: no val.
    np.testing.assert_array_equal(np.bincount(ds.val.labels, minlength=10),
                                  expected)
    self.assertEqual(ds.metadata["val"]["class_counts"], expected.tolist())
    self.assertEqual(ds.metadata["val"]["short_classes"],
                     np.flatnonzero(expected < 10).tolist())

  def test_val_shortfall_from_train_balances_val(self):
    self.config.val_shortfall = "from_train"
    ds = data.load_dataset(self.config)
    exact = data.load_dataset(self._exact_config())
    np.testing.assert_array_equal(np.bincount(ds.val.labels, minlength=10),
                                  np.full(10, 10))
    train, val = tags(ds.train.images), tags(ds.val.images)
    self.assertEmpty(np.intersect1d(train, val))
    # Only classes with fewer than 10 unused images gave the difference.
    counts = np.asarray(profiles.spec_counts(PER_CLASS, 10, 10))
    shortfall = np.maximum(0, 10 - (PER_CLASS - counts))
    self.assertEqual(shortfall[0], 10)  # the head class keeps all 30
    np.testing.assert_array_equal(ds.train_class_counts, counts - shortfall)
    self.assertTrue(np.all(np.isin(train, tags(exact.train.images))))
    self.assertEqual(ds.metadata["val"]["moved_from_train"],
                     {str(c): int(n) for c, n in enumerate(shortfall) if n})
    self.assertEmpty(ds.metadata["val"]["short_classes"])

  def _exact_config(self):
    config = data.default_data_config("cifar10_lt")
    config.path, config.imbalance_ratio = self.tmp, 10.0
    config.val_per_class = 10
    return config

  def test_seeds(self):
    first = data.load_dataset(self.config)
    again = data.load_dataset(self.config)
    np.testing.assert_array_equal(first.val.images, again.val.images)
    self.assertEqual(first.metadata, again.metadata)
    self.config.val_seed = 1
    other_val = data.load_dataset(self.config)
    np.testing.assert_array_equal(first.train.images, other_val.train.images)
    self.assertNotEqual(first.metadata["val"]["indices_sha256"],
                        other_val.metadata["val"]["indices_sha256"])
    self.config.subset_seed = 1
    other_train = data.load_dataset(self.config)
    self.assertNotEqual(first.metadata["train_indices_sha256"],
                        other_train.metadata["train_indices_sha256"])
    np.testing.assert_array_equal(first.train_class_counts,
                                  other_train.train_class_counts)

  def test_metadata_records_the_data(self):
    ds = data.load_dataset(self.config)
    meta = json.loads(json.dumps(ds.metadata))
    self.assertEqual(meta["name"], "cifar10_lt")
    self.assertEqual(meta["source"]["format"], "cifar-pickle")
    self.assertEqual(meta["source"]["path"],
                     os.path.join(self.tmp, "cifar-10-batches-py"))
    self.assertEqual(meta["imbalance_ratio"], 10.0)
    self.assertEqual(meta["imbalance_profile"], "exp")
    self.assertEqual(meta["subset_seed"], 0)
    self.assertEqual(meta["train_size"], len(ds.train))
    self.assertEqual(meta["val"]["per_class"], 10)
    self.assertEqual(meta["val"]["seed"], 0)
    self.assertLen(meta["train_indices_sha256"], 16)

  def test_step_profile(self):
    self.config.imbalance_profile = "step"
    ds = data.load_dataset(self.config)
    np.testing.assert_array_equal(ds.train_class_counts,
                                  [30] * 5 + [3] * 5)

  def test_wrong_dataset_for_the_files(self):
    config = data.default_data_config("cifar100_lt")
    config.path = self.tmp
    with self.assertRaisesRegex(ValueError,
                                "holds 10 classes but cifar100_lt has 100"):
      data.load_dataset(config)

  def test_class_names_are_checked_against_the_source(self):
    self.config.class_names = tuple("abcdefghij")
    with self.assertRaisesRegex(ValueError, "not config.data.class_names"):
      data.load_dataset(self.config)

  def test_dict_and_attribute_configs(self):
    fields = dict(name="cifar10_lt", path=self.tmp, imbalance_ratio=10.0)
    from_dict = data.load_dataset(fields)
    from_object = data.load_dataset(types.SimpleNamespace(**fields))
    self.assertEqual(from_dict.metadata, from_object.metadata)
    self.assertEqual(from_dict.metadata["val"]["per_class"], 50)


class ConfigErrorTest(parameterized.TestCase):

  def test_registry_names(self):
    self.assertContainsSubset(
        {"cifar10_lt", "cifar100_lt", "mnist_lt", "imagenet_lt", "places_lt",
         "folder"}, set(data.DATASETS))

  def test_unknown_name_lists_the_known_ones(self):
    with self.assertRaisesRegex(ValueError,
                                "unknown dataset name 'cifar10'.*cifar10_lt"):
      data.load_dataset({"name": "cifar10"})
    with self.assertRaisesRegex(ValueError, "places_lt"):
      data.default_data_config("imagenet")

  def test_unknown_field(self):
    config = data.default_data_config("cifar10_lt").to_dict()
    config["imbalance_ration"] = 10
    with self.assertRaisesRegex(ValueError, "'imbalance_ration'"):
      data.load_dataset(config)

  @parameterized.parameters(
      ("imbalance_ratio", 0.5, "imbalance_ratio"),
      ("imbalance_ratio", "100", "imbalance_ratio"),
      ("imbalance_profile", "expo", "imbalance_profile"),
      ("source", "idx", "source='idx' is not available for cifar10_lt"),
      ("val_per_class", -1, "val_per_class"),
      ("subset_seed", 1.5, "subset_seed"),
      ("download_timeout", 0, "download_timeout"),
  )
  def test_bad_field_is_named(self, field, value, message):
    config = data.default_data_config("cifar10_lt").to_dict()
    config[field] = value
    with self.assertRaisesRegex(ValueError, message):
      data.validate_data_config(config)
    with self.assertRaisesRegex(ValueError, message):
      data.load_dataset(config)

  def test_default_configs_are_valid(self):
    for name in data.DATASETS:
      data.validate_data_config(data.default_data_config(name))

  def test_missing_path_is_named(self):
    config = data.default_data_config("cifar10_lt")
    config.path = "/nonexistent/cifar"
    with self.assertRaisesRegex(FileNotFoundError,
                                "config.data.path: /nonexistent/cifar"):
      data.load_dataset(config)

  def test_local_source_needs_a_path(self):
    config = data.default_data_config("mnist_lt")
    config.source = "idx"
    with self.assertRaisesRegex(ValueError,
                                "(?s)path is empty.*train-images-idx3"):
      data.load_dataset(config)

  def test_download_with_path_conflicts(self):
    config = data.default_data_config("cifar10_lt")
    config.source = "download"
    config.path = "/somewhere"
    with self.assertRaisesRegex(ValueError, "conflict"):
      data.load_dataset(config)

  def test_folder_without_path(self):
    with self.assertRaisesRegex(ValueError, "path is empty"):
      data.load_dataset(data.default_data_config("folder"))


class MnistAndFolderTest(absltest.TestCase):

  def test_mnist_lt_from_idx(self):
    tmp = fixtures.make_tempdir(self)
    labels = profiles.cifar_like_labels(40, 10, seed=14).astype(np.uint8)
    images = fixtures.random_images(400, 28, 28, channels=1, seed=15)[..., 0]
    fixtures.write_idx(os.path.join(tmp, "train-images-idx3-ubyte.gz"),
                       images)
    fixtures.write_idx(os.path.join(tmp, "train-labels-idx1-ubyte.gz"),
                       labels)
    fixtures.write_idx(os.path.join(tmp, "t10k-images-idx3-ubyte.gz"),
                       images[:10])
    fixtures.write_idx(os.path.join(tmp, "t10k-labels-idx1-ubyte.gz"),
                       np.arange(10, dtype=np.uint8))
    config = data.default_data_config("mnist_lt")
    config.path = tmp
    config.val_per_class = 5
    config.imbalance_ratio = 10.0
    ds = data.load_dataset(config)
    counts = profiles.spec_counts(40, 10, 10)
    np.testing.assert_array_equal(ds.train_class_counts, counts)
    self.assertEqual(ds.image_shape, (28, 28, 1))
    self.assertEqual(ds.metadata["source"]["format"], "idx")
    np.testing.assert_array_equal(
        ds.train.images[..., 0],
        images[profiles.original_subset(labels, counts)])

  def test_folder_with_official_val_and_given_profile(self):
    tmp = fixtures.make_tempdir(self)
    names = ("cat", "dog")
    labels = np.array([0] * 6 + [1] * 2)
    fixtures.write_folder(tmp, {
        "train": (fixtures.random_images(8, 8, 8, seed=16), labels),
        "val": (fixtures.random_images(4, 8, 8, seed=17), [0, 0, 1, 1]),
        "test": (fixtures.random_images(4, 8, 8, seed=18), [0, 1, 0, 1])},
                          names)
    config = data.default_data_config("folder")
    config.path = tmp
    config.imbalance_profile = "given"
    ds = data.load_dataset(config)
    np.testing.assert_array_equal(ds.train_class_counts, [6, 2])
    self.assertLen(ds.val, 4)
    self.assertEqual(ds.metadata["imbalance_ratio"], 3.0)
    self.assertIn("official", ds.metadata["val"]["source"])

  def test_folder_given_profile_holds_out_val(self):
    tmp = fixtures.make_tempdir(self)
    labels = np.array([0] * 6 + [1] * 3)
    images = tagged_images(9, seed=19)
    fixtures.write_folder(tmp, {"train": (images, labels),
                                "test": (images, labels)}, ("a", "b"))
    config = data.default_data_config("folder")
    config.path = tmp
    config.imbalance_profile = "given"
    config.val_per_class = 2
    ds = data.load_dataset(config)
    # Each class keeps at least 80 % and 5 of its images: class a (6) gives
    # 1, class b (3) none.
    val = fixtures.held_out_val_counts([6, 3], 2)
    np.testing.assert_array_equal(val, [1, 0])
    np.testing.assert_array_equal(ds.train_class_counts, [6, 3] - val)
    np.testing.assert_array_equal(np.bincount(ds.val.labels, minlength=2),
                                  val)
    self.assertEmpty(np.intersect1d(tags(ds.train.images),
                                    tags(ds.val.images)))


class ListDatasetTest(parameterized.TestCase):
  """ImageNet-LT / Places-LT lists in the real format, on generated images."""

  def setUp(self):
    super().setUp()
    self.root = fixtures.make_tempdir(self)
    self.lists = fixtures.make_tempdir(self)  # Lists live apart from images.
    self.wnids = ("n01440764", "n01443537", "n01484850")
    rng = np.random.default_rng(20)
    self.train_counts = [5, 3, 1]
    self.write_list("ImageNet_LT_train.txt", "train", self.train_counts, rng)
    self.write_list("ImageNet_LT_val.txt", "train", [2, 2, 2], rng,
                    offset=100)
    self.write_list("ImageNet_LT_test.txt", "val", [2, 2, 2], rng)
    self.config = data.default_data_config("imagenet_lt")
    self.config.path = self.root
    self.config.image_size = 32
    for split in ("train", "val", "test"):
      self.config[f"{split}_list"] = os.path.join(
          self.lists, f"ImageNet_LT_{split}.txt")

  def write_list(self, name, folder, counts, rng, offset=0):
    lines = []
    for label, count in enumerate(counts):
      wnid = self.wnids[label]
      for k in range(count):
        rel = f"{folder}/{wnid}/{wnid}_{offset + k}.JPEG"
        size = rng.integers(40, 80, 2)
        fixtures.write_image(os.path.join(self.root, rel),
                             fixtures.random_images(1, *size)[0], "JPEG")
        lines.append(f"{rel} {label}\n")
    with open(os.path.join(self.lists, name), "w") as f:
      f.writelines(lines)

  def test_streamed_dataset(self):
    ds = data.load_dataset(self.config)
    self.assertIsInstance(ds.train, data.StreamedSplit)
    np.testing.assert_array_equal(ds.train_class_counts, self.train_counts)
    self.assertEqual(ds.class_names, self.wnids)
    self.assertLen(ds.val, 6)
    self.assertLen(ds.test, 6)
    self.assertEqual(ds.image_shape, (32, 32, 3))
    images, labels = ds.train.get_batch(np.arange(9),
                                        rng=np.random.default_rng(0))
    self.assertEqual(images.shape, (9, 32, 32, 3))
    np.testing.assert_array_equal(labels, [0] * 5 + [1] * 3 + [2])
    meta = json.loads(json.dumps(ds.metadata))
    self.assertEqual(meta["imbalance_profile"], "given")
    self.assertEqual(meta["imbalance_ratio"], 5.0)
    self.assertEqual(meta["val"]["source"], "the official val list")
    self.assertLen(meta["source"]["train_list_sha256"], 16)

  def test_lists_relative_to_path(self):
    for split in ("train", "val", "test"):
      os.rename(os.path.join(self.lists, f"ImageNet_LT_{split}.txt"),
                os.path.join(self.root, f"ImageNet_LT_{split}.txt"))
    config = data.default_data_config("imagenet_lt")
    config.path = self.root
    self.assertLen(data.load_dataset(config).train, 9)

  def test_class_counts_file(self):
    path = os.path.join(self.lists, "counts.txt")
    with open(path, "w") as f:
      f.write("5\n3\n1\n")
    self.config.class_counts_file = path
    data.load_dataset(self.config)
    with open(path, "w") as f:
      f.write("5\n4\n1\n")
    with self.assertRaisesRegex(ValueError,
                                "class_counts_file.*class 1 4 training"):
      data.load_dataset(self.config)

  def test_missing_images_are_named(self):
    gone = ["train/n01443537/n01443537_0.JPEG",
            "train/n01484850/n01484850_0.JPEG"]
    for rel in gone:
      os.remove(os.path.join(self.root, rel))
    with self.assertRaisesRegex(
        FileNotFoundError,
        "(?s)2 of the 9 images listed in .*ImageNet_LT_train.txt.*"
        "train_list.*n01443537_0.JPEG.*n01484850_0.JPEG"):
      data.load_dataset(self.config)

  def test_missing_list_is_named(self):
    self.config.test_list = "/nowhere/ImageNet_LT_test.txt"
    with self.assertRaisesRegex(FileNotFoundError,
                                "test_list.*/nowhere/ImageNet_LT_test.txt"):
      data.load_dataset(self.config)

  def test_profile_must_be_given(self):
    self.config.imbalance_profile = "exp"
    with self.assertRaisesRegex(ValueError, "already long-tailed"):
      data.load_dataset(self.config)


if __name__ == "__main__":
  absltest.main()
