"""`ltjax.predict`: a finished run predicts raw inputs from its workdir alone.

For every kind of run (a CSV table, in-memory arrays, images, GLMC's
re-balanced classifier, RIDE's ensemble, a regression table), the
predictions on the test split's raw inputs are the run's own
predictions.npz; a CSV file of new rows may lack the target column;
`ltjax-predict` writes one CSV row per input with its line.
"""

import csv
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np

import ltjax
from ltjax import data
from ltjax import recipes
from ltjax import regression
from ltjax import train
import testdata
from data_own_test import blobs
from data_own_test import write_csv
from train_loop_test import shrink


def _saved(workdir):
  return dict(np.load(os.path.join(workdir, "predictions.npz")))


def _tiny_table(config):
  config.batch_size = 16
  config.eval_batch_size = 64
  config.model.widths = (16,)
  config.max_steps = 3
  return config


class ClassificationPredictTest(testdata.TinyBenchmarksTestCase):

  def assert_same(self, got, saved):
    np.testing.assert_allclose(got.logits, saved["logits"], rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(got.labels, saved["prediction"])
    self.assertEqual(got.label_names, tuple(
        saved["class_names"][i] for i in saved["prediction"]))
    np.testing.assert_allclose(got.probabilities.sum(axis=1), 1.0,
                               rtol=1e-5)

  def test_csv_run_with_and_without_the_target_column(self):
    tmp = testdata.make_tempdir(self)
    x, y = blobs([40, 15, 6])
    path = write_csv(os.path.join(tmp, "t.csv"), x, y)
    config = _tiny_table(recipes.build("csv_lt", "ce", "2"))
    config.data.path, config.data.target = path, "species"
    config.data.val_per_class = 2
    workdir = os.path.join(tmp, "run")
    train.train_and_evaluate(config, workdir)
    saved = _saved(workdir)
    got = ltjax.predict(workdir, path)  # every row of the file
    rows = np.searchsorted(got.source_line, saved["source_line"])
    np.testing.assert_array_equal(got.source_line[rows], saved["source_line"])
    self.assert_same(ltjax.train.Predictions(
        task="classification", labels=got.labels[rows],
        label_names=tuple(np.asarray(got.label_names)[rows]),
        logits=got.logits[rows], probabilities=got.probabilities[rows]),
                     saved)
    np.testing.assert_array_equal(got.targets[rows], saved["label"])
    # The same rows without the target column (a new, unlabelled file).
    lines = open(path).read().splitlines()
    with open(os.path.join(tmp, "new.csv"), "w") as f:
      f.write("\n".join(l.rsplit(",", 1)[0] for l in lines) + "\n")
    unlabelled = ltjax.predict(workdir, os.path.join(tmp, "new.csv"))
    self.assertIsNone(unlabelled.targets)
    np.testing.assert_allclose(unlabelled.logits, got.logits, rtol=1e-6)
    # The command line: one row per input, with its line.
    out = os.path.join(tmp, "out.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.predict", f"--workdir={workdir}",
         f"--input={os.path.join(tmp, 'new.csv')}", f"--output={out}"],
        cwd=testdata.ROOT, env=testdata.subprocess_env(),
        capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
    with open(out) as f:
      written = list(csv.DictReader(f))
    self.assertLen(written, len(lines) - 1)
    self.assertEqual([int(r["line"]) for r in written],
                     list(range(2, len(lines) + 1)))
    self.assertEqual([r["prediction"] for r in written],
                     list(unlabelled.label_names))

  def test_arrays_run(self):
    x, y = blobs([40, 15, 6])
    xt, yt = blobs([5, 5, 5], seed=9)
    dataset = data.from_arrays((x * 30.0 + 7.0, y), test=(xt * 30.0 + 7.0,
                                                         yt),
                               val=(xt, yt), class_names=("a", "b", "c"))
    workdir = testdata.make_tempdir(self)
    train.train_and_evaluate(_tiny_table(recipes.build("csv_lt", "ce", "2")),
                             workdir, dataset=dataset)
    self.assert_same(ltjax.predict(workdir, xt * 30.0 + 7.0),
                     _saved(workdir))

  def _image_run(self, method):
    config = shrink(recipes.build("mnist_lt", method, "1"), self.paths)
    config.max_steps = 3
    workdir = self.workdir()
    train.train_and_evaluate(config, workdir)
    test = data.load_dataset(config.data).test
    images, _ = test.get_batch(np.arange(len(test)))
    return workdir, images

  def test_image_run_arrays_and_files(self):
    workdir, images = self._image_run("ce")
    saved = _saved(workdir)
    got = ltjax.predict(workdir, images)
    self.assert_same(got, saved)
    np.testing.assert_array_equal(got.posthoc_labels,
                                  saved["prediction_posthoc"])
    paths = []
    for i in range(3):
      paths.append(os.path.join(self.workdir(), f"{i}.png"))
      testdata.write_image(paths[-1], images[i, ..., 0], "PNG")
    from_files = ltjax.predict(workdir, paths)
    np.testing.assert_allclose(from_files.logits, got.logits[:3],
                               rtol=1e-5, atol=1e-5)

  def test_glmc_and_ride_runs(self):
    for method in ("glmc", "ride"):
      workdir, images = self._image_run(method)
      self.assert_same(ltjax.predict(workdir, images), _saved(workdir))

  def test_a_second_stage_run_is_refused(self):
    config = recipes.build("mnist_lt", "mislas")
    workdir = self.workdir()
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json())
    with self.assertRaisesRegex(ValueError, "second stage"):
      ltjax.predict(workdir, np.zeros((1, 28, 28, 1), np.uint8))


class RegressionPredictTest(absltest.TestCase):

  def test_csv_table_in_original_units(self):
    tmp = testdata.make_tempdir(self)
    path = os.path.join(tmp, "abalone.csv")
    testdata.write_abalone_like(path, rows=300)
    config = regression.build_config("csv_dir", "vanilla", "2")
    config.data.path, config.data.target = path, "-1"
    config.model.widths = (16,)
    config.batch_size, config.eval_batch_size = 16, 64
    config.max_steps = 3
    workdir = os.path.join(tmp, "run")
    regression.train_and_evaluate(config, workdir)
    saved = _saved(workdir)
    got = ltjax.predict(workdir, path)
    rows = np.searchsorted(got.source_line, saved["source_line"])
    np.testing.assert_array_equal(got.source_line[rows], saved["source_line"])
    np.testing.assert_allclose(got.values[rows], saved["prediction"],
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got.targets[rows], saved["target"], rtol=1e-6)


if __name__ == "__main__":
  absltest.main()
