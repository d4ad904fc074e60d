"""A run never resumes on other data: its splits' content digests.

The workdir keeps the content digest of every split (`data.json`); a job on
that workdir with data whose digest differs is refused like a config change
(`DataMismatchError`, or moved aside with `overwrite`), while the same data
from another path or copy resumes. Digests of every source kind: arrays,
CSV, image folder, image list, CIFAR.
"""

import os
import shutil

from absl.testing import absltest
import numpy as np

from ltjax import data
from ltjax import decouple
from ltjax import recipes
from ltjax import train
import testdata
from data_own_test import blobs
from data_own_test import write_csv


def _tiny_table_config():
  config = recipes.build("csv_lt", "ce", "2")
  config.batch_size = 16
  config.eval_batch_size = 64
  config.model.widths = (16,)
  config.max_steps = 2
  config.checkpoint_every_steps = 1
  return config


def _arrays(seed):
  x, y = blobs([40, 15, 6], seed=seed)
  xt, yt = blobs([5, 5, 5], seed=9)
  return data.from_arrays((x, y), test=(xt, yt), val=(xt, yt),
                          class_names=("a", "b", "c"), name="blobs")


class ResumeTest(absltest.TestCase):

  def test_arrays(self):
    workdir = testdata.make_tempdir(self)
    config = _tiny_table_config()
    train.train_and_evaluate(config, workdir, dataset=_arrays(0))
    with self.assertRaisesRegex(
        train.DataMismatchError,
        r"other data.*\n  train: [0-9a-f]{16} \(61 examples\) -> "
        r"[0-9a-f]{16} \(61 examples\)\nUse a new workdir, or replace the "
        r"old run with --overwrite"):
      train.train_and_evaluate(config, workdir, dataset=_arrays(1))
    # Nothing of the first run was touched; equal arrays (a copy) resume.
    self.assertTrue(os.path.isdir(os.path.join(workdir, "checkpoints", "2")))
    result = train.train_and_evaluate(config, workdir,
                                      dataset=_arrays(0))
    self.assertEqual(result["run"]["steps_this_run"], 0)
    # With overwrite the old run moves aside and the new data trains afresh.
    result = train.train_and_evaluate(config, workdir,
                                      dataset=_arrays(1), overwrite=True)
    self.assertEqual(result["run"]["steps_this_run"], 2)
    siblings = os.listdir(os.path.dirname(workdir))
    self.assertTrue(any(name.startswith(os.path.basename(workdir) +
                                        ".replaced-") for name in siblings))

  def test_csv_same_content_elsewhere_resumes_other_content_does_not(self):
    tmp = testdata.make_tempdir(self)
    x, y = blobs([40, 15, 6])
    first = write_csv(os.path.join(tmp, "a.csv"), x, y)
    copy = os.path.join(tmp, "copy.csv")
    shutil.copy(first, copy)
    y_changed = y.copy()
    y_changed[[0, 1]] = 1  # two labels differ, same shape
    other = write_csv(os.path.join(tmp, "b.csv"), x, y_changed)
    config = _tiny_table_config()
    config.data.path, config.data.target = first, "species"
    config.data.val_per_class = 2
    workdir = os.path.join(tmp, "run")
    train.train_and_evaluate(config, workdir)
    config.data.path = copy
    result = train.train_and_evaluate(config, workdir)
    self.assertEqual(result["run"]["steps_this_run"], 0)
    config.data.path = other
    with self.assertRaisesRegex(train.DataMismatchError, "train: "):
      train.train_and_evaluate(config, workdir)


class DecoupleInMemoryTest(absltest.TestCase):

  def test_decouple_a_run_on_arrays_given_the_same_arrays(self):
    ds = _arrays(0)
    workdir = testdata.make_tempdir(self)
    train.train_and_evaluate(_tiny_table_config(), workdir, dataset=ds)
    config = decouple.default_config()
    config.methods = ("joint", "ncm")
    # Without the data: one clear error saying how to pass it.
    with self.assertRaisesRegex(ValueError, "trained on data given in "
                                "memory.*dataset=THE_SAME_DATASET"):
      decouple.decouple_and_evaluate(config, workdir)
    # Other data: refused by its digests.
    with self.assertRaises(train.DataMismatchError):
      decouple.decouple_and_evaluate(config, workdir,
                                     dataset=_arrays(1))
    result = decouple.decouple_and_evaluate(config, workdir, dataset=ds)
    self.assertEqual(set(result["methods"]), {"joint", "ncm"})


class DigestTest(absltest.TestCase):

  def test_folder_copy_same_changed_image_differs(self):
    root = testdata.make_tempdir(self)
    labels = np.repeat(np.arange(3), [8, 4, 2])
    splits = {"train": (testdata.random_images(14, 8, 8, 3), labels),
              "test": (testdata.random_images(6, 8, 8, 3, seed=1),
                       np.repeat(np.arange(3), 2))}
    testdata.write_folder(os.path.join(root, "a"), splits,
                          ("daisy", "rose", "tulip"))
    shutil.copytree(os.path.join(root, "a"), os.path.join(root, "b"))
    config = data.default_data_config("folder")
    config.imbalance_profile = "given"
    config.val_per_class = 1

    def digests(folder):
      config.path = os.path.join(root, folder)
      return data.dataset_digests(data.load_dataset(config))

    original = digests("a")
    self.assertEqual(original, digests("b"))
    self.assertEqual(original["train"]["size"] + original["val"]["size"], 14)
    image = os.path.join(root, "b", "train", "rose", sorted(os.listdir(
        os.path.join(root, "b", "train", "rose")))[0])
    testdata.write_image(image, testdata.random_images(1, 8, 8, 3,
                                                       seed=7)[0], "PNG")
    changed = digests("b")
    # The image is in train or val (the held-out one), never in test.
    self.assertNotEqual((original["train"], original["val"]),
                        (changed["train"], changed["val"]))
    self.assertEqual(original["test"], changed["test"])

  def test_list_digest_is_the_listed_entries_not_the_root(self):
    labels = np.array([0, 1, 1], np.int32)
    a = data.StreamedSplit(paths=("x/0.png", "x/1.png", "y/2.png"),
                           labels=labels, root="/data/copy1")
    b = data.StreamedSplit(paths=("x/0.png", "x/1.png", "y/2.png"),
                           labels=labels, root="/mnt/copy2")
    c = data.StreamedSplit(paths=("x/0.png", "x/1.png", "y/2.png"),
                           labels=np.array([0, 1, 0], np.int32),
                           root="/data/copy1")
    d = data.StreamedSplit(paths=("x/0.png", "x/1.png", "y/3.png"),
                           labels=labels, root="/data/copy1")
    self.assertEqual(data.split_digest(a), data.split_digest(b))
    self.assertNotEqual(data.split_digest(a), data.split_digest(c))
    self.assertNotEqual(data.split_digest(a), data.split_digest(d))

  def test_cifar_copies_agree_and_another_image_differs(self):
    root = testdata.make_tempdir(self)
    paths = testdata.write_tiny_benchmarks(root)
    config = data.default_data_config("cifar10_lt")
    config.imbalance_ratio, config.val_per_class = 4.0, 2
    config.path = paths["cifar10_lt"]
    original = data.dataset_digests(data.load_dataset(config))
    copy = os.path.join(root, "copy")
    shutil.copytree(paths["cifar10_lt"], copy)
    config.path = copy
    self.assertEqual(data.dataset_digests(data.load_dataset(config)),
                     original)
    other = os.path.join(root, "other")
    labels = testdata.tiny_labels(24, 10, seed=0)
    test_labels = testdata.tiny_labels(4, 10, seed=1)
    testdata.write_cifar10(other, testdata.random_images(labels.size,
                                                         seed=12),
                           labels, testdata.random_images(test_labels.size,
                                                          seed=3),
                           test_labels)
    config.path = other
    changed = data.dataset_digests(data.load_dataset(config))
    self.assertNotEqual(changed["train"], original["train"])
    self.assertEqual(changed["test"], original["test"])


if __name__ == "__main__":
  absltest.main()
