"""The validation hold-out of the `given` profile never empties a class."""

from absl.testing import absltest
import numpy as np

from ltjax import data
from tests import testdata


class GivenHoldoutTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = testdata.make_tempdir(self)
    self.counts = np.array([60, 20, 3, 1])
    labels = np.repeat(np.arange(4), self.counts)
    test_labels = np.repeat(np.arange(4), 2)
    testdata.write_folder(self.root, {
        "train": (testdata.random_images(labels.size, 8, 8, 3), labels),
        "test": (testdata.random_images(8, 8, 8, 3, seed=1), test_labels)},
                          ("a", "b", "c", "d"))
    self.config = data.default_data_config("folder")
    self.config.path = self.root
    self.config.imbalance_profile = "given"

  def test_holdout_keeps_80_percent_and_5_of_each_class(self):
    self.config.val_per_class = 50
    with self.assertLogs(logger="absl", level="INFO") as logs:
      ds = data.load_dataset(self.config)
    # 60 -> 12 (keeps 48 = 80 %), 20 -> 4, 3 and 1 -> none (kept whole).
    expected_val = np.array([12, 4, 0, 0])
    np.testing.assert_array_equal(
        testdata.held_out_val_counts(self.counts, 50), expected_val)
    np.testing.assert_array_equal(np.bincount(ds.val.labels, minlength=4),
                                  expected_val)
    np.testing.assert_array_equal(ds.train_class_counts,
                                  self.counts - expected_val)
    said = "\n".join(logs.output)
    self.assertIn("[12, 4, 0, 0] per class", said)
    self.assertIn("config.data.val_per_class=50", said)
    self.assertEqual(ds.metadata["val"]["short_classes"], [0, 1, 2, 3])

  def test_folder_default_keeps_imbalanced_data_as_it_is(self):
    # imbalance_profile "auto" (the folder default): 60 / 1 images is
    # already imbalanced, so it is kept, never cut to the exp profile.
    config = data.default_data_config("folder")
    config.path, config.val_per_class = self.root, 0
    self.assertEqual(config.imbalance_profile, "auto")
    ds = data.load_dataset(config)
    np.testing.assert_array_equal(ds.train_class_counts, self.counts)
    self.assertEqual(ds.metadata["imbalance_profile"], "given")
    # A balanced folder is cut to the configured profile and ratio.
    root = testdata.make_tempdir(self)
    labels = np.repeat(np.arange(3), 20)
    testdata.write_folder(root, {
        "train": (testdata.random_images(60, 8, 8, 3), labels),
        "test": (testdata.random_images(6, 8, 8, 3, seed=1),
                 np.repeat(np.arange(3), 2))}, ("a", "b", "c"))
    config.path, config.imbalance_ratio = root, 4.0
    ds = data.load_dataset(config)
    self.assertEqual(ds.metadata["imbalance_profile"], "exp")
    np.testing.assert_array_equal(ds.train_class_counts, [20, 10, 5])

  def test_ratio_error_names_the_fields(self):
    self.config.imbalance_profile = "exp"
    with self.assertRaisesRegex(
        ValueError, r"config.data.imbalance_ratio=100.0: .* at most 1, or "
        r"keep the data's own class counts with "
        r"config.data.imbalance_profile=given"):
      data.load_dataset(self.config)

  def test_uncapped_classes_keep_their_examples(self):
    # A cap only shortens a class's draw; the seeded shuffle is the same, so
    # class "a" (60 images, 5 wanted) gets the same validation images.
    self.config.val_per_class = 5
    ds = data.load_dataset(self.config)
    full = data.read_image_folder(self.root)
    uncapped = data.balanced_holdout(full.splits["train"].labels,
                                     num_classes=4, per_class=5, seed=0)
    images = full.splits["train"].images[uncapped[:5]]
    np.testing.assert_array_equal(ds.val.images[ds.val.labels == 0], images)

  def test_empty_class_names_the_fields(self):
    path = self.root + "/table.csv"
    with open(path, "w") as f:
      f.write("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)))
    config = data.default_data_config("csv")
    config.path = path
    config.target = "y"
    config.class_names = ("a", "b", "c")  # No row of class "c".
    with self.assertRaisesRegex(
        ValueError, r"class 'c' has no training images left.*imbalance_ratio"
        r".*val_per_class"):
      data.load_dataset(config)

  def test_balanced_holdout_caps(self):
    labels = np.repeat(np.arange(3), [10, 4, 1])
    got = data.balanced_holdout(labels, num_classes=3, per_class=3, seed=1,
                                caps=np.array([5, 2, 0]))
    np.testing.assert_array_equal(np.bincount(labels[got], minlength=3),
                                  [3, 2, 0])


if __name__ == "__main__":
  absltest.main()
