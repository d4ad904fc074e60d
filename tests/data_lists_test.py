"""List files: the class count comes from training, typos name their line."""

import os

from absl.testing import absltest
import numpy as np

from ltjax import data
from tests import testdata


class ListLabelsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = testdata.make_tempdir(self)
    self.config = data.default_data_config("places_lt")
    self.config.path = self.root
    self.config.image_size = 8
    self.write("train.txt", "train", [6, 4, 2])
    self.write("val.txt", "val", [1, 1, 1])
    self.write("test.txt", "test", [3, 3, 3])
    for split in ("train", "val", "test"):
      self.config[f"{split}_list"] = f"{split}.txt"

  def write(self, name, split, counts, labels=None):
    """Writes images and `path label` lines (a blank line after the first)."""
    lines = []
    for label, count in enumerate(counts):
      for k in range(count):
        rel = f"{split}/c{label}/{k}.png"
        testdata.write_image(os.path.join(self.root, rel),
                             testdata.random_images(1, 8, 8, 3, seed=k)[0],
                             "PNG")
        lines.append(f"{rel} {label}")
    if labels is not None:  # Overrides, {entry index: label}.
      for index, label in labels.items():
        lines[index] = lines[index].rsplit(" ", 1)[0] + f" {label}"
    lines.insert(1, "")
    with open(os.path.join(self.root, name), "w") as f:
      f.write("\n".join(lines) + "\n")

  def test_typo_in_test_list_names_file_and_line(self):
    self.write("test.txt", "test", [3, 3, 3], labels={5: 999})
    # Entry 5 is on line 7: one blank line was inserted after entry 0.
    with self.assertRaisesRegex(
        ValueError, r"test\.txt:7: label 999 is out of range: there are 3 "
        r"classes \(from the training list .*train\.txt\).*test_list"):
      data.load_dataset(self.config)

  def test_typo_in_val_list(self):
    self.write("val.txt", "val", [1, 1, 1], labels={0: 3})
    with self.assertRaisesRegex(ValueError,
                                r"val\.txt:1: label 3 is out of range"):
      data.load_dataset(self.config)

  def test_classes_come_from_training(self):
    ds = data.load_dataset(self.config)
    self.assertEqual(ds.num_classes, 3)
    np.testing.assert_array_equal(ds.train_class_counts, [6, 4, 2])
    self.assertEqual(ds.class_names, ("c0", "c1", "c2"))

  def test_generic_list_dataset(self):
    config = data.default_data_config("list")
    config.path = self.root
    config.image_size = 8
    for split in ("train", "val", "test"):
      config[f"{split}_list"] = f"{split}.txt"
    ds = data.load_dataset(config)
    self.assertEqual(ds.name, "list")
    np.testing.assert_array_equal(ds.train_class_counts, [6, 4, 2])
    self.assertLen(ds.val, 3)
    config.train_list = ""
    with self.assertRaisesRegex(ValueError, "config.data.train_list is empty"):
      data.load_dataset(config)

  def test_class_counts_file_sets_the_classes(self):
    with open(os.path.join(self.root, "counts.txt"), "w") as f:
      f.write("6\n4\n2\n0\n")
    self.config.class_counts_file = "counts.txt"
    self.write("test.txt", "test", [3, 3, 3], labels={0: 3})
    self.assertEqual(data.load_dataset(self.config).num_classes, 4)
    self.write("test.txt", "test", [3, 3, 3], labels={0: 4})
    with self.assertRaisesRegex(
        ValueError, r"test\.txt:1: label 4.*4 classes \(from "
        r"class_counts_file"):
      data.load_dataset(self.config)

  def test_class_names_set_the_classes(self):
    self.config.class_names = ("ant", "bee", "cat", "dog")
    self.write("test.txt", "test", [3, 3, 3], labels={0: 3})
    ds = data.load_dataset(self.config)
    self.assertEqual(ds.class_names, ("ant", "bee", "cat", "dog"))
    self.config.class_names = ("ant", "bee")
    with self.assertRaisesRegex(
        ValueError, "class_names names 2 classes but the training list"):
      data.load_dataset(self.config)


if __name__ == "__main__":
  absltest.main()
