"""Regression datasets: abalone split and features, DIR CSV + image folders."""

import os
import pathlib

from absl.testing import absltest
import numpy as np
from PIL import Image

from ltjax import regression
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]
AGEDB_CSV = ROOT.parent / "shared" / "data" / "agedb_dir" / "agedb.csv"


def write_abalone(path, rings, seed=0):
  """A file in the UCI layout: sex, 7 measurements, rings."""
  rng = np.random.default_rng(seed)
  with open(path, "w") as f:
    for r in rings:
      sex = "MFI"[rng.integers(3)]
      values = ",".join(f"{v:.4f}" for v in rng.uniform(0, 1, 7) + r / 30)
      f.write(f"{sex},{values},{int(r)}\n")


def write_table(path, targets, seed=0):
  """A CSV with a header: two numeric features, a text column, target y."""
  rng = np.random.default_rng(seed)
  lines = ["x1,x2,colour,y"]
  for y in targets:
    colour = ("red", "green", "blue")[rng.integers(3)]
    lines.append(f"{rng.normal() + y:.5f},{rng.uniform(0, 10):.5f},{colour},"
                 f"{float(y)!r}")
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


def write_age_folder(folder, ages, splits, size=12, seed=0):
  """A DIR CSV plus one small JPEG per row, in the reference layout."""
  rng = np.random.default_rng(seed)
  os.makedirs(os.path.join(folder, "AgeDB"), exist_ok=True)
  lines = ["age,path,split"]
  for i, (age, split) in enumerate(zip(ages, splits)):
    rel = f"AgeDB/{i}_Someone_{int(age)}_f.jpg"
    image = rng.integers(0, 256, (size + i % 3, size, 3), dtype=np.uint8)
    Image.fromarray(image).save(os.path.join(folder, rel))
    lines.append(f"{int(age)},{rel},{split}")
  path = os.path.join(folder, "ages.csv")
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


class AbaloneTest(absltest.TestCase):

  def test_balanced_split_rule_and_standardisation(self):
    # Ring r has counts[r] rows.
    counts = {3: 2, 4: 9, 5: 40, 6: 200, 7: 120, 9: 1}
    rings = np.concatenate([[r] * n for r, n in counts.items()])
    path = os.path.join(testdata.make_tempdir(self), "abalone.data")
    write_abalone(path, rings)
    data = regression.load_abalone(path, val_per_label=30, split_seed=0)
    for split, expected in (("val", {4: 3, 5: 13, 6: 30, 7: 30}),
                            ("test", {4: 3, 5: 13, 6: 30, 7: 30})):
      got = getattr(data, split).targets.astype(int)
      self.assertEqual({r: int(np.sum(got == r)) for r in np.unique(got)},
                       expected)
    train = data.train.targets.astype(int)
    self.assertEqual(int(np.sum(train == 3)), 2)  # n < 3: all in training
    self.assertEqual(int(np.sum(train == 6)), 140)
    self.assertEqual(len(data.train) + len(data.val) + len(data.test),
                     len(rings))
    x = data.train.inputs
    self.assertEqual(x.shape[1], 10)
    np.testing.assert_array_equal(np.sort(np.unique(x[:, :3])), [0.0, 1.0])
    np.testing.assert_allclose(x[:, :3].sum(1), 1.0)
    np.testing.assert_allclose(x[:, 3:].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x[:, 3:].std(0), 1.0, atol=1e-4)
    again = regression.load_abalone(path, val_per_label=30, split_seed=0)
    self.assertEqual(again.metadata["digests"], data.metadata["digests"])
    other = regression.load_abalone(path, val_per_label=30, split_seed=1)
    self.assertNotEqual(other.metadata["digests"]["val"],
                        data.metadata["digests"]["val"])

  def test_bad_file(self):
    path = os.path.join(testdata.make_tempdir(self), "abalone.data")
    with open(path, "w") as f:
      f.write("X,1,2,3\n")
    with self.assertRaisesRegex(ValueError, "9 comma-separated"):
      regression.read_abalone(path)


class AgeDatasetTest(absltest.TestCase):

  def test_reads_the_real_agedb_csv(self):
    if not AGEDB_CSV.exists():
      self.skipTest(f"{AGEDB_CSV} not present")
    table = regression.read_age_csv(str(AGEDB_CSV))
    self.assertEqual({k: len(v[0]) for k, v in table.items()},
                     {"train": 12208, "val": 2140, "test": 2140})
    # Generated stand-ins for the first training images, under a root of
    # their own: the loader reads exactly the CSV's relative paths.
    root = testdata.make_tempdir(self)
    paths, ages = table["train"]
    for i in range(4):
      os.makedirs(os.path.join(root, os.path.dirname(paths[i])),
                  exist_ok=True)
      Image.fromarray(np.full((30 + i, 20, 3), 10 * i, np.uint8)).save(
          os.path.join(root, paths[i]))
    data = regression.load_age_dataset("agedb_dir", str(AGEDB_CSV),
                                       image_root=root, image_size=16)
    images, targets = data.train.get_batch(np.arange(4))
    self.assertEqual(images.shape, (4, 16, 16, 3))
    self.assertEqual(images.dtype, np.uint8)
    np.testing.assert_array_equal(images[:, 8, 8, 0], [0, 10, 20, 30])
    np.testing.assert_array_equal(targets, ages[:4])
    with self.assertRaisesRegex(FileNotFoundError, paths[5]):
      data.train.get_batch(np.array([5]))
    edges = regression.bin_edges(0, 121, width=1)
    counts = regression.bin_counts(data.train.targets, edges)
    self.assertEqual(counts.sum(), 12208)
    self.assertEqual(counts.max(), 353)  # AgeDB-DIR's largest age bin

  def test_generated_folder_and_bad_csv(self):
    folder = testdata.make_tempdir(self)
    path = write_age_folder(folder, [20, 30, 40, 50],
                            ["train", "train", "val", "test"])
    data = regression.load_regression_dataset(_config(path))
    self.assertEqual((len(data.train), len(data.val), len(data.test)),
                     (2, 1, 1))
    self.assertTrue(data.is_image)
    bad = os.path.join(folder, "bad.csv")
    with open(bad, "w") as f:
      f.write("age,file\n3,a.jpg\n")
    with self.assertRaisesRegex(ValueError, "columns"):
      regression.read_age_csv(bad)


def _config(path):
  config = regression.default_data_config("agedb_dir")
  config.path = path
  config.image_size = 8
  return config


if __name__ == "__main__":
  absltest.main()
