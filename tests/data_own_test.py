"""Your own data: arrays, CSV tables, image folders and TFDS sets by name."""

import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data
from ltjax import train
from tests import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_config_file(path, arg=None):
  spec = importlib.util.spec_from_file_location("config_module", ROOT / path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def blobs(counts, dims=4, seed=0, gap=6.0):
  """Gaussian blobs, class c centred at gap * c on every axis."""
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(len(counts)), counts)
  features = rng.normal(size=(labels.size, dims)) + gap * labels[:, None]
  return features, labels


def write_csv(path, features, labels, names=("ant", "bee", "cat"), seed=0):
  """Header `x0,...,colour,species`; colour is a text column."""
  rng = np.random.default_rng(seed)
  with open(path, "w") as f:
    columns = [f"x{j}" for j in range(features.shape[1])]
    f.write(",".join(columns + ["colour", "species"]) + "\n")
    for row, label in zip(features, labels):
      colour = rng.choice(["red", "blue"])
      f.write(",".join([f"{v:.6f}" for v in row] + [colour, names[label]])
              + "\n")
  return path


class FromArraysTest(parameterized.TestCase):

  def test_features(self):
    x, y = blobs([30, 10, 3])
    xt, yt = blobs([4, 4, 4], seed=1)
    ds = data.from_arrays((x, y), test=(xt, yt), val=(xt[:6], yt[:6]),
                          class_names=("a", "b", "c"), name="mine")
    self.assertIsInstance(ds.train, data.FeatureSplit)
    np.testing.assert_array_equal(ds.train_class_counts, [30, 10, 3])
    self.assertEqual(ds.image_shape, (4,))
    self.assertEqual(ds.class_names, ("a", "b", "c"))
    np.testing.assert_array_equal(ds.train.features, x.astype(np.float32))
    batch, labels = ds.test.get_batch([2, 0])
    np.testing.assert_array_equal(batch, xt[[2, 0]].astype(np.float32))
    np.testing.assert_array_equal(labels, yt[[2, 0]])
    meta = json.loads(json.dumps(ds.metadata))
    self.assertEqual(meta["imbalance_ratio"], 10.0)
    self.assertEqual(meta["source"]["inputs"], "features")
    self.assertEqual(meta["val"]["class_counts"], [4, 2, 0])

  def test_images_and_grayscale(self):
    y = np.array([0, 0, 0, 1])
    rgb = testdata.random_images(4, 8, 8, 3)
    ds = data.from_arrays((rgb, y), test=(rgb[:2], y[:2]))
    self.assertIsInstance(ds.train, data.ArraySplit)
    self.assertEqual(ds.class_names, ("0", "1"))
    gray = testdata.random_images(4, 8, 8, 1)[..., 0]
    ds = data.from_arrays((gray, y), test=(gray, y))
    self.assertEqual(ds.image_shape, (8, 8, 1))
    np.testing.assert_array_equal(ds.train.images[..., 0], gray)

  @parameterized.named_parameters(
      ("label_count", lambda x, y: ((x, y[:-1]),), r"train has 6 inputs but "
       r"5 labels"),
      ("float_labels", lambda x, y: ((x, y * 1.0),),
       r"train labels must be a 1-D integer"),
      ("negative_label", lambda x, y: ((x, y - 1),),
       r"train labels must be class indices >= 0; labels\[0\] = -1"),
      ("not_a_pair", lambda x, y: (x,), r"train must be a pair \(x, y\)"),
      ("float_images", lambda x, y: ((np.zeros((6, 8, 8, 3)), y),),
       r"(?s)uint8 images.*\(x \* 255\)\.round\(\)\.astype"),
  )
  def test_bad_train_split(self, make, message):
    x, y = blobs([3, 3])
    with self.assertRaisesRegex(ValueError, message):
      data.from_arrays(*make(x, y), test=(x, y))

  @parameterized.parameters(np.nan, np.inf, -np.inf)
  def test_nonfinite_features(self, value):
    x, y = blobs([3, 3])
    x[4, 2] = value
    with self.assertRaisesRegex(
        ValueError, r"train features are not finite: x\[4, 2\] = "):
      data.from_arrays((x, y), test=(x, y))

  def test_labels_out_of_range_in_test(self):
    x, y = blobs([3, 3])
    yt = y.copy()
    yt[5] = 2
    with self.assertRaisesRegex(
        ValueError, r"test labels\[5\] = 2 but there are 2 classes \(from "
        r"the training labels\)"):
      data.from_arrays((x, y), test=(x, yt))
    with self.assertRaisesRegex(ValueError, r"2 classes \(from class_names"):
      data.from_arrays((x, y), test=(x, yt), class_names=("a", "b"))

  def test_class_without_training_example(self):
    x, y = blobs([3, 3])
    with self.assertRaisesRegex(ValueError,
                                r"\['c'\] \(labels \[2\]\) have no training"):
      data.from_arrays((x, y), test=(x, y), class_names=("a", "b", "c"))

  def test_splits_need_the_same_shape(self):
    x, y = blobs([3, 3])
    with self.assertRaisesRegex(ValueError, r"test inputs have shape \(3,\)"):
      data.from_arrays((x, y), test=(x[:, :3], y))


class FromArraysTrainTest(absltest.TestCase):

  def test_trains_with_the_loop(self):
    x, y = blobs([120, 40, 12])
    xt, yt = blobs([20, 20, 20], seed=1)
    ds = data.from_arrays((x, y), test=(xt, yt), val=(xt, yt),
                          class_names=("a", "b", "c"), name="blobs")
    config = load_config_file("experiments/configs/csv_lt/ce.py", "6")
    config.batch_size = 32
    config.eval_batch_size = 64
    config.eval_every_epochs = 3
    workdir = testdata.make_tempdir(self)
    metrics = train.train_and_evaluate(config, workdir, dataset=ds)
    self.assertEqual(metrics["data"]["name"], "blobs")
    self.assertEqual(metrics["train_class_counts"], [120, 40, 12])
    # Blobs 6 standard deviations apart: far above chance (1/3).
    self.assertGreater(metrics["final"]["test"]["balanced"], 0.8)
    self.assertTrue(os.path.isfile(os.path.join(workdir, "metrics.json")))


class FeatureScalingTest(absltest.TestCase):

  def test_features_of_any_scale_are_standardised(self):
    x, y = blobs([50, 50], gap=1.0)
    x = x * np.array([1e-4, 1e-2, 1.0, 1e5])  # Columns of very different units.
    ds = data.from_arrays((x, y), test=(x, y))
    config = load_config_file("experiments/configs/csv_lt/ce.py")
    # The run's own input pipeline (public: `build_run(...).preprocess`).
    run = train.build_run(config, ds)
    z = np.asarray(run.preprocess(ds.train.features, None))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-3)


class CsvDatasetTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = testdata.make_tempdir(self)
    self.counts = np.array([40, 15, 6])
    self.x, self.y = blobs(self.counts)
    self.path = write_csv(os.path.join(self.tmp, "t.csv"), self.x, self.y)
    self.config = data.default_data_config("csv")
    self.config.path = self.path
    self.config.target = "species"
    self.config.val_per_class = 2

  def test_splits(self):
    ds = data.load_dataset(self.config)
    self.assertIsInstance(ds.train, data.FeatureSplit)
    self.assertEqual(ds.class_names, ("ant", "bee", "cat"))
    test_counts = np.minimum(np.round(0.2 * self.counts), self.counts - 1)
    np.testing.assert_array_equal(np.bincount(ds.test.labels), test_counts)
    # Validation takes val_per_class = 2 of each class but leaves it at
    # least 80 % and 5 of its training rows: the 5-row class gives none.
    left = self.counts - test_counts
    val = testdata.held_out_val_counts(left, 2)
    np.testing.assert_array_equal(val, [2, 2, 0])
    np.testing.assert_array_equal(
        np.bincount(ds.val.labels, minlength=3), val)
    np.testing.assert_array_equal(ds.train_class_counts, left - val)
    self.assertEqual(ds.metadata["source"]["feature_names"],
                     ["x0", "x1", "x2", "x3", "colour=blue", "colour=red"])
    # Every row lands in exactly one split: the numeric features of all
    # splits together are the file's rows.
    rows = np.concatenate([ds.train.features, ds.val.features,
                           ds.test.features])[:, :4]
    np.testing.assert_allclose(np.sort(rows, axis=0),
                               np.sort(self.x, axis=0), atol=1e-5)

  def test_target_by_index_and_separate_files(self):
    test_path = write_csv(os.path.join(self.tmp, "test.csv"), self.x[:9],
                          self.y[:9])
    self.config.target = "-1"
    self.config.test_path = test_path
    ds = data.load_dataset(self.config)
    self.assertLen(ds.test, 9)
    np.testing.assert_array_equal(
        ds.train_class_counts,
        self.counts - testdata.held_out_val_counts(self.counts, 2))

  def test_nonfinite_value_names_file_line_and_column(self):
    with open(self.path) as f:
      lines = f.readlines()
    cells = lines[7].split(",")
    cells[2] = "nan"
    lines[7] = ",".join(cells)
    with open(self.path, "w") as f:
      f.writelines(lines)
    with self.assertRaisesRegex(
        ValueError, r"t\.csv: 1 row.*line 8 column 'x2' \(index 2\): 'nan'"):
      data.load_dataset(self.config)
    self.config.drop_nonfinite = True
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      ds = data.load_dataset(self.config)
    self.assertIn("lines [8]", "\n".join(logs.output))
    self.assertEqual(len(ds.train) + len(ds.val) + len(ds.test),
                     self.counts.sum() - 1)

  def test_unknown_class_in_test_file(self):
    test_path = os.path.join(self.tmp, "test.csv")
    write_csv(test_path, self.x[:2], np.array([0, 1]),
              names=("ant", "eel", "cat"))
    self.config.test_path = test_path
    with self.assertRaisesRegex(ValueError,
                                r"test\.csv:3: class 'eel'.*not one of"):
      data.load_dataset(self.config)

  def test_empty_target(self):
    self.config.target = ""
    with self.assertRaisesRegex(ValueError, "config.data.target is empty"):
      data.load_dataset(self.config)

  def test_bad_fields_are_named(self):
    for field, value in (("test_fraction", 1.5), ("header", "maybe"),
                         ("delimiter", ";;"), ("drop_nonfinite", "yes")):
      config = data.default_data_config("csv").to_dict()
      config[field] = value
      with self.assertRaisesRegex(ValueError, f"config.data.{field}"):
        data.validate_data_config(config)


class CsvCommandLineTest(absltest.TestCase):

  def test_main_trains_on_a_csv_file(self):
    tmp = testdata.make_tempdir(self)
    x, y = blobs([60, 20, 8])
    path = write_csv(os.path.join(tmp, "t.csv"), x, y)
    workdir = os.path.join(tmp, "run")
    env = testdata.subprocess_env()
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.main",
         "--config=experiments/configs/csv_lt/ce.py:1",
         "--config.data.name=csv", f"--config.data.path={path}",
         "--config.data.target=5", "--config.data.val_per_class=2",
         "--config.batch_size=16", f"--workdir={workdir}"],
        cwd=ROOT, env=env, text=True, capture_output=True, timeout=300,
        check=False)
    self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] +
                     proc.stderr[-3000:])
    with open(os.path.join(workdir, "metrics.json")) as f:
      metrics = json.load(f)
    self.assertEqual(metrics["data"]["source"]["target"], "species")
    left = np.array([60, 20, 8]) - np.array([12, 4, 2])  # 20 % to test
    self.assertEqual(metrics["train_class_counts"],
                     (left - testdata.held_out_val_counts(left, 2)).tolist())


class FolderTest(absltest.TestCase):
  """The README's image-folder layout."""

  def test_folder_layout(self):
    root = testdata.make_tempdir(self)
    labels = np.repeat(np.arange(3), [8, 4, 2])
    testdata.write_folder(root, {
        "train": (testdata.random_images(14, 8, 8, 3), labels),
        "test": (testdata.random_images(6, 8, 8, 3, seed=1),
                 np.repeat(np.arange(3), 2))}, ("daisy", "rose", "tulip"),
                          fmt="JPEG", ext=".jpg")
    config = data.default_data_config("folder")
    config.path = root
    config.imbalance_profile = "given"
    config.val_per_class = 1
    config.class_names = ("tulip", "rose", "daisy")  # The label order.
    ds = data.load_dataset(config)
    self.assertEqual(ds.class_names, ("tulip", "rose", "daisy"))
    counts = np.array([2, 4, 8])  # tulip, rose, daisy
    np.testing.assert_array_equal(
        ds.train_class_counts,
        counts - testdata.held_out_val_counts(counts, 1))
    self.assertEqual(ds.image_shape, (8, 8, 3))
    # An empty class_names (e.g. `--config.data.class_names=` on the command
    # line) sorts the folder names.
    config.class_names = ("",)
    self.assertEqual(data.load_dataset(config).class_names,
                     ("daisy", "rose", "tulip"))


def _fake_prepared(data_dir, name, version):
  folder = os.path.join(data_dir, name, version)
  os.makedirs(folder)
  for file_name in ("dataset_info.json",
                    f"{name}-train.array_record-00000-of-00001"):
    with open(os.path.join(folder, file_name), "w") as f:
      f.write("{}")


def _no_network(*args, **kwargs):
  raise AssertionError(f"network used: {args} {kwargs}")


class TfdsByNameTest(absltest.TestCase):
  """A TFDS set by name; TFDS's own mock stands in for the prepared files."""

  def test_beans_by_name(self):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    tmp = testdata.make_tempdir(self)
    _fake_prepared(tmp, "beans", "0.1.0")
    sizes = {"train": (12, 10), "validation": (3, 12), "test": (6, 9)}
    asked = []

    def as_data_source(builder, split):
      asked.append((builder.name, tuple(split)))
      out = []
      for s in split:
        n, side = sizes[s]
        images = testdata.random_images(n, side, side + 2, 3, seed=n)
        out.append([{"image": images[i], "label": np.int64(i % 3)}
                    for i in range(n)])
      return out

    config = data.default_data_config("tfds")
    config.tfds_name = "beans:0.1.0"
    config.tfds_val_split = "validation"
    config.data_dir = tmp
    config.imbalance_profile = "given"
    config.image_size = 8
    with mock.patch.object(socket.socket, "connect", _no_network), \
        tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE,
                               as_data_source_fn=as_data_source):
      ds = data.load_dataset(config)
    self.assertEqual(asked, [("beans", ("train", "test", "validation"))])
    self.assertEqual(ds.class_names,
                     ("angular_leaf_spot", "bean_rust", "healthy"))
    self.assertEqual((len(ds.train), len(ds.val), len(ds.test)), (12, 3, 6))
    self.assertEqual(ds.image_shape, (8, 8, 3))  # Resized, centre-cropped.
    self.assertEqual(ds.metadata["source"]["tfds_name"], "beans:0.1.0")

  def test_not_prepared_fails_fast(self):
    tmp = testdata.make_tempdir(self)
    config = data.default_data_config("tfds")
    config.tfds_name = "oxford_flowers102"
    config.data_dir = tmp
    with mock.patch.object(socket.socket, "connect", _no_network):
      with self.assertRaisesRegex(
          data.DataNotFoundError,
          r"'oxford_flowers102' is not prepared.*tfds build "
          r"oxford_flowers102"):
        data.load_dataset(config)

  def test_tfds_fields_are_refused_for_other_names(self):
    config = data.default_data_config("folder")
    config.tfds_name = "beans"
    with self.assertRaisesRegex(ValueError,
                                "tfds_name='beans' is only read by name='tfds'"):
      data.validate_data_config(config)

  def test_name_is_required(self):
    config = data.default_data_config("tfds")
    with self.assertRaisesRegex(ValueError, "config.data.tfds_name is empty"):
      data.load_dataset(config)


if __name__ == "__main__":
  absltest.main()
