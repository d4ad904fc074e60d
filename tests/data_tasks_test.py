"""One registry for both tasks: DIR entries, NumPy files, the split contract."""

import hashlib
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from PIL import Image

from ltjax import data
from ltjax import regression
from ltjax.regression import _data as regression_data
import regression_data_test
import testdata


def _splits_equal(test, a, b):
  for split in ("train", "val", "test"):
    x, y = getattr(a, split), getattr(b, split)
    test.assertLen(x, len(y))
    for name in ("targets", "inputs", "source_lines", "paths"):
      if hasattr(x, name):
        np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


class DirRegistryTest(absltest.TestCase):

  def test_abalone_through_ltjax_data(self):
    rings = np.repeat(np.arange(1, 12), [1, 2, 5, 9, 20, 40, 60, 50, 30, 8, 2])
    path = os.path.join(testdata.make_tempdir(self), "abalone.data")
    regression_data_test.write_abalone(path, rings)
    config = data.default_data_config("abalone")
    self.assertEqual(config.to_dict(),
                     regression.default_data_config("abalone").to_dict())
    config.path = path
    config.val_per_label = 5
    config.split_seed = 3
    data.validate_data_config(config)
    got = data.load_dataset(config)
    want = regression.load_regression_dataset(config)
    self.assertIsInstance(got, regression.RegressionDataset)
    _splits_equal(self, got, want)
    self.assertEqual(got.metadata, want.metadata)
    self.assertFalse(got.is_image)
    self.assertEqual(got.input_shape, (10,))
    # The DIR rule written out: ring r (n rows, shuffled by one
    # default_rng(seed) in ring order) gives min(5, n // 3) to val, as many
    # to test, the rest to training.
    rng = np.random.default_rng(3)
    val, test = [], []
    for r in np.unique(rings):
      rows = rng.permutation(np.flatnonzero(rings == r))
      m = min(5, rows.size // 3)
      val += list(rows[:m])
      test += list(rows[m:2 * m])
    np.testing.assert_array_equal(got.val.source_lines, np.sort(val) + 1)
    np.testing.assert_array_equal(got.test.source_lines, np.sort(test) + 1)
    np.testing.assert_array_equal(got.val.targets, rings[np.sort(val)])
    self.assertEqual(
        got.metadata["digests"]["val"],
        hashlib.sha256(np.sort(val).astype("<i8").tobytes()).hexdigest()[:16])

  def test_age_dataset_through_ltjax_data(self):
    folder = testdata.make_tempdir(self)
    path = regression_data_test.write_age_folder(
        folder, [20, 30, 40, 50, 60], ["train", "train", "val", "test",
                                       "train"])
    config = data.default_data_config("agedb_dir")
    config.path = path
    config.image_size = 8
    got = data.load_dataset(config)
    want = regression.load_regression_dataset(config)
    _splits_equal(self, got, want)
    self.assertTrue(got.is_image)
    images, targets = got.train.get_batch(np.array([2, 0]))
    self.assertEqual(images.shape, (2, 8, 8, 3))
    np.testing.assert_array_equal(targets, [60.0, 20.0])
    self.assertEqual(got.train.input_dtype, np.uint8)

  def test_regression_csv_needs_the_task(self):
    path = regression_data_test.write_table(
        os.path.join(testdata.make_tempdir(self), "t.csv"),
        np.arange(60) % 7)
    config = data.default_data_config("csv", task="regression")
    self.assertEqual(config.to_dict(),
                     regression.default_data_config("csv").to_dict())
    config.path = path
    config.target = "y"
    config.split = "balanced"
    got = data.load_dataset(config, task="regression")
    _splits_equal(self, got, regression.load_regression_dataset(config))
    with self.assertRaisesRegex(ValueError, "task='regression'"):
      data.load_dataset(config)  # csv alone is the classification table

  def test_field_errors_name_the_field(self):
    with self.assertRaisesRegex(ValueError, "config.data.val_per_label"):
      data.validate_data_config({"name": "abalone", "val_per_label": -1})
    with self.assertRaisesRegex(ValueError, "config.data.path: set it"):
      data.load_dataset({"name": "abalone"})
    with self.assertRaisesRegex(ValueError, "config.data.path: set it"):
      data.validate_data_config({"name": "abalone"}, check_files=True)
    with self.assertRaisesRegex(ValueError, "config.data.image_size"):
      data.validate_data_config({"name": "agedb_dir", "image_size": 0})
    with self.assertRaisesRegex(ValueError, "config.data.split"):
      data.validate_data_config(
          {"name": "npz", "split": "stratified"}, task="regression")
    with self.assertRaisesRegex(ValueError, "config.data.test_fraction"):
      data.validate_data_config({"name": "npz", "test_fraction": 1.5})
    with self.assertRaisesRegex(ValueError, "config.data.inputs_key"):
      data.validate_data_config({"name": "npz", "inputs_key": ""})
    with self.assertRaisesRegex(ValueError,
                                "unknown regression dataset name 'cifar"):
      data.default_data_config("cifar10_lt", task="regression")

  def test_regression_module_keeps_its_names(self):
    for name in ("ABALONE_COLUMNS", "ABALONE_SEXES", "AGE_CSV_COLUMNS",
                 "CSV_SPLITS", "DATASETS", "ImageRegressionSplit",
                 "RegressionDataset", "RegressionSplit", "balanced_val_test",
                 "default_data_config", "digest", "load_abalone",
                 "load_age_dataset", "load_csv", "load_regression_dataset",
                 "read_abalone", "read_abalone_rows", "read_age_csv",
                 "validate_data_config"):
      self.assertTrue(hasattr(regression_data, name), name)
    # One rule and one fingerprint for both tasks.
    self.assertIs(regression.balanced_val_test, data.balanced_val_test)
    self.assertIs(regression_data.digest, data.index_digest)
    self.assertIs(regression.RegressionSplit, data.RegressionSplit)


class ConfigTest(absltest.TestCase):

  def test_configs_do_not_share_a_placeholder(self):
    # csv's `header` is a None placeholder; one shared by every config made
    # from the defaults would carry one config's value into the next.
    first = data.default_data_config("csv")
    first.header = True
    self.assertIsNone(data.default_data_config("csv").header)
    self.assertIsNone(
        data.default_data_config("csv", task="regression").header)

  def test_every_default_validates(self):
    for task in data.TASKS:
      for name in ("npz", "abalone", "agedb_dir", "cifar10_lt"):
        try:
          config = data.default_data_config(name, task=task)
        except ValueError:
          continue
        data.validate_data_config(config, task=task)


def _blobs(counts, dim=4, seed=0):
  rng = np.random.default_rng(seed)
  y = np.repeat(np.arange(len(counts)), counts)
  x = rng.normal(size=(y.size, dim)) + y[:, None]
  return x.astype(np.float32), y


class NpzClassificationTest(absltest.TestCase):

  def test_long_tailed_profile_and_stratified_test(self):
    x, y = _blobs([60, 60, 60, 60])
    path = os.path.join(testdata.make_tempdir(self), "mine.npz")
    np.savez(path, x=x, y=y)
    config = data.default_data_config("npz")
    config.path = path
    config.imbalance_profile = "exp"
    config.imbalance_ratio = 10.0
    config.val_per_class = 2
    config.test_fraction = 0.25
    ds = data.load_dataset(config)
    self.assertIsInstance(ds, data.LongTailedDataset)
    self.assertEqual(ds.class_names, ("0", "1", "2", "3"))
    # 15 of each class's 60 rows are test; n_max = 45 and
    # n_i = int(45 * 10 ** (-i / 3)).
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [15] * 4)
    np.testing.assert_array_equal(
        ds.train_class_counts,
        [int(45 * 10.0 ** (-i / 3)) for i in range(4)])
    np.testing.assert_array_equal(np.bincount(ds.val.labels), [0, 2, 2, 2])
    # Every row of every split is a row of the file, with its label.
    for split in (ds.train, ds.val, ds.test):
      features, labels = split.get_batch(np.arange(len(split)))
      rows = [np.flatnonzero((x == f).all(axis=1))[0] for f in features]
      np.testing.assert_array_equal(y[rows], labels)
    self.assertEqual(ds.metadata["source"]["format"], "npz")

  def test_images_and_a_test_file(self):
    folder = testdata.make_tempdir(self)
    images = testdata.random_images(30, 8, 8)
    labels = np.repeat([0, 1, 2], [16, 10, 4])
    np.savez(os.path.join(folder, "train.npz"), images=images, labels=labels)
    np.savez(os.path.join(folder, "test.npz"), images=images[:6],
             labels=np.array([0, 0, 1, 1, 2, 2]))
    config = data.default_data_config("npz")
    config.update(path=os.path.join(folder, "train.npz"),
                  test_path=os.path.join(folder, "test.npz"),
                  inputs_key="images", target_key="labels",
                  val_per_class=1, class_names=("a", "b", "c"))
    ds = data.load_dataset(config)
    self.assertIsInstance(ds.train, data.ArraySplit)
    self.assertEqual(ds.image_shape, (8, 8, 3))
    self.assertLen(ds.test, 6)
    self.assertEqual(ds.class_names, ("a", "b", "c"))
    counts = np.array([16, 10, 4])
    np.testing.assert_array_equal(
        ds.train_class_counts,
        counts - testdata.held_out_val_counts(counts, 1))

  def test_errors_name_the_file_key_and_fix(self):
    folder = testdata.make_tempdir(self)
    path = os.path.join(folder, "bad.npz")
    x, y = _blobs([5, 5])
    config = data.default_data_config("npz")
    config.path = path
    with self.assertRaisesRegex(FileNotFoundError, "config.data.path"):
      data.load_dataset(config)
    np.savez(path, features=x, y=y)
    with self.assertRaisesRegex(ValueError,
                                "has no array 'x'.*config.data.inputs_key"):
      data.load_dataset(config)
    np.savez(path, x=x, y=y + 0.5)
    with self.assertRaisesRegex(ValueError, r"\['y'\] must hold integer"):
      data.load_dataset(config)
    x[3, 1] = np.nan
    np.savez(path, x=x, y=y)
    with self.assertRaisesRegex(ValueError, "row 3 .*drop_nonfinite"):
      data.load_dataset(config)
    config.drop_nonfinite = True
    config.test_fraction = 0.4
    config.val_per_class = 0
    ds = data.load_dataset(config)
    self.assertEqual(len(ds.train) + len(ds.test), 9)
    self.assertEqual(ds.metadata["source"]["dropped_rows"], [3])


class NpzRegressionTest(absltest.TestCase):

  def test_balanced_split_and_standardised_features(self):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), [3, 6, 12, 30, 90, 45, 9, 2]).astype(float)
    x = rng.normal(3.0, 2.0, (y.size, 5)) + y[:, None]
    path = os.path.join(testdata.make_tempdir(self), "prices.npz")
    np.savez(path, x=x, y=y)
    config = data.default_data_config("npz", task="regression")
    config.path = path
    config.val_per_label = 10
    ds = data.load_dataset(config, task="regression")
    self.assertIsInstance(ds, data.RegressionDataset)
    # Integer targets over 8 values: one bin per value, each giving
    # min(10, n // 3) rows to val and as many to test.
    counts = np.bincount(y.astype(int))
    for split in (ds.val, ds.test):
      np.testing.assert_array_equal(
          np.bincount(split.targets.astype(int), minlength=8),
          np.minimum(10, counts // 3))
    self.assertEqual(len(ds.train) + len(ds.val) + len(ds.test), y.size)
    train_rows = ds.train.source_lines - 1
    mean, std = x[train_rows].mean(0), x[train_rows].std(0)
    for split in (ds.train, ds.val, ds.test):
      rows = split.source_lines - 1
      np.testing.assert_allclose(split.inputs, (x[rows] - mean) / std,
                                 rtol=1e-5, atol=1e-5)
      np.testing.assert_array_equal(split.targets, y[rows])
    self.assertEqual(ds.metadata["split"], "balanced")
    # The regression loop's loader takes the same config.
    _splits_equal(self, ds, regression.load_regression_dataset(config))

  def test_image_inputs_are_kept(self):
    images = testdata.random_images(40, 6, 6)
    y = np.linspace(0, 1, 40)
    path = os.path.join(testdata.make_tempdir(self), "img.npz")
    np.savez(path, x=images, y=y)
    config = data.default_data_config("npz", task="regression")
    config.update(path=path, split="random", val_fraction=0.25,
                  test_fraction=0.25)
    ds = data.load_dataset(config, task="regression")
    self.assertTrue(ds.is_image)
    self.assertEqual((len(ds.train), len(ds.val), len(ds.test)), (20, 10, 10))
    rows = ds.val.source_lines - 1
    np.testing.assert_array_equal(ds.val.inputs, images[rows])
    self.assertNotIn("feature_mean", ds.metadata)


def _write_images(folder, n):
  for i in range(n):
    Image.fromarray(np.full((10, 12, 3), 20 * i, np.uint8)).save(
        os.path.join(folder, f"{i}.png"))
  return tuple(f"{i}.png" for i in range(n))


class SplitContractTest(parameterized.TestCase):
  """Every split: len, get_batch -> (inputs, targets), targets, shapes."""

  def _splits(self):
    folder = testdata.make_tempdir(self)
    paths = _write_images(folder, 3)
    images = testdata.random_images(3, 4, 4)
    features = np.arange(6, dtype=np.float32).reshape(3, 2)
    return {
        "array": (data.ArraySplit(images=images, labels=[2, 0, 1]),
                  images, np.array([2, 0, 1])),
        "feature": (data.FeatureSplit(features=features, labels=[1, 1, 0]),
                    features, np.array([1, 1, 0])),
        "regression": (data.RegressionSplit(inputs=features,
                                            targets=[0.5, 1.5, 2.5]),
                       features, np.array([0.5, 1.5, 2.5])),
        "streamed": (data.StreamedSplit(paths=paths, labels=[0, 1, 2],
                                        root=folder, image_size=4),
                     None, np.array([0, 1, 2])),
        "image_regression": (data.ImageRegressionSplit(
            paths=paths, targets=[1.0, 2.0, 3.0], root=folder, image_size=4),
                             None, np.array([1.0, 2.0, 3.0])),
    }

  @parameterized.parameters("array", "feature", "regression", "streamed",
                            "image_regression")
  def test_contract(self, kind):
    split, inputs, targets = self._splits()[kind]
    self.assertLen(split, 3)
    self.assertEqual(split.num_examples, 3)
    np.testing.assert_array_equal(split.targets, targets)
    batch_x, batch_y = split.get_batch(np.array([2, 0]), rng=None)
    np.testing.assert_array_equal(batch_y, targets[[2, 0]])
    self.assertEqual(batch_x.shape, (2,) + split.input_shape)
    self.assertEqual(batch_x.dtype, split.input_dtype)
    self.assertEqual(split.image_shape, split.input_shape)
    if inputs is not None:
      np.testing.assert_array_equal(batch_x, inputs[[2, 0]])
    else:  # Images of one grey level 20 * i, resized: still that level.
      np.testing.assert_array_equal(batch_x[:, 1, 1, 0], [40, 0])
    with self.assertRaisesRegex(ValueError, r"indices must lie in \[0, 3\)"):
      split.get_batch(np.array([3]))

  def test_subsets_keep_source_lines(self):
    split = data.RegressionSplit(inputs=np.ones((4, 2)),
                                 targets=[1.0, 2.0, 3.0, 4.0],
                                 source_lines=[5, 6, 7, 8])
    part = split.subset(np.array([3, 1]))
    np.testing.assert_array_equal(part.source_lines, [8, 6])
    np.testing.assert_array_equal(part.targets, [4.0, 2.0])


if __name__ == "__main__":
  absltest.main()
