"""experiments.evaluate_shift on tiny finished runs (2 training steps)."""

import csv
import json
import os

from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
import numpy as np

from experiments import evaluate_shift
from experiments.configs import common
from ltjax import data
from ltjax import train
import testdata
from train_loop_test import shrink

COLUMNS = ["forward50", "forward25", "forward10", "forward5", "forward2",
           "uniform", "backward2", "backward5", "backward10", "backward25",
           "backward50", "train-prior"]


def _profile(n, num_classes, kind, ratio, train_counts):
  """SADE's int(n * (1/r)^(i / (C - 1))), uniform n, train n m_c / max(m)."""
  if kind == "uniform":
    return [n] * num_classes
  if kind == "train":
    m = np.asarray(train_counts)
    return [int(n * x / m.max()) for x in m]
  order = range(num_classes) if kind == "forward" else range(
      num_classes - 1, -1, -1)
  return [int(n * (1.0 / ratio)**(i / (num_classes - 1.0))) for i in order]


class EvaluateShiftTest(testdata.TinyBenchmarksTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.runs = {}
    for dataset, recipe in (("cifar10_lt", "sade"), ("mnist_lt", "ce")):
      config = shrink(common.build(dataset, recipe), cls.paths)
      config.max_steps = 2
      workdir = os.path.join(cls._tmp.name, "runs", recipe)
      train.train_and_evaluate(config, workdir)
      cls.runs[recipe] = workdir
    cls.output = os.path.join(cls._tmp.name, "out", "table.md")
    cls.records = evaluate_shift.evaluate_shift(
        [cls.runs["sade"], cls.runs["ce"]], cls.output, seed=0, tta=True,
        posthoc_shift=True, tta_options={"num_epochs": 2, "batch_size": 8})

  def test_table_columns_and_rows(self):
    with open(self.output) as f:
      lines = f.read().splitlines()
    self.assertEqual(lines[0], "| run | method | " + " | ".join(COLUMNS)
                     + " |")
    rows = [line.split(" | ")[0].lstrip("| ") for line in lines[2:6]]
    self.assertEqual(rows, ["sade", "sade + TTA", "ce", "ce + post-hoc"])
    with open(self.output[:-3] + ".csv") as f:
      table = list(csv.DictReader(f))
    self.assertEqual([(r["run"], r["variant"], r["seed"]) for r in table],
                     [("sade", "plain", "0"), ("sade", "tta", "0"),
                      ("ce", "plain", "0"), ("ce", "posthoc", "0")])
    self.assertEqual(list(table[0])[4:], COLUMNS)

  def test_uniform_column_is_the_runs_test_accuracy(self):
    for record in self.records:
      with open(os.path.join(record["workdir"], "metrics.json")) as f:
        top1 = json.load(f)["final"]["test"]["top1"]
      self.assertAlmostEqual(record["rows"]["plain"]["uniform"], top1,
                             places=6, msg=record["name"])

  def test_logits_are_the_runs_evaluated_logits(self):
    # The mean of the experts' logits (times s for the cosine head) is what
    # the engine evaluated and saved in predictions.npz.
    for name, workdir in self.runs.items():
      model, variables, config = train.load_model(workdir)
      dataset = data.load_dataset(config.data)
      run = train.build_run(config, dataset)
      scale = config.loss.scale if config.model.head == "normalized" else 1
      logits = evaluate_shift.test_logits(
          model, variables, dataset.test, run.preprocess, batch_size=16,
          scale=scale)
      saved = np.load(os.path.join(workdir, "predictions.npz"))
      self.assertEqual(logits.shape[0], 3 if name == "sade" else 1)
      np.testing.assert_allclose(logits.mean(0)[saved["index"]],
                                 saved["logits"], rtol=1e-4, atol=1e-4)

  def test_sets_have_the_requested_counts(self):
    with open(self.output[:-3] + ".json") as f:
      saved = json.load(f)
    self.assertEqual(saved["distributions"], COLUMNS)
    for record in saved["runs"]:
      self.assertEqual(record["seed"], 0)
      with open(os.path.join(record["workdir"], "metrics.json")) as f:
        train_counts = json.load(f)["train_class_counts"]
      for name, kind, ratio in evaluate_shift.DISTRIBUTIONS:
        counts = record["sets"][name]["class_counts"]
        self.assertEqual(counts, _profile(4, 10, kind, ratio, train_counts),
                         (record["name"], name))
        self.assertEqual(record["sets"][name]["num_examples"], sum(counts))

  def test_tta_weights_on_simplex(self):
    sade = self.records[0]
    self.assertEqual(set(sade["tta_weights"]), set(COLUMNS))
    for weights in sade["tta_weights"].values():
      w = np.asarray(weights)
      self.assertEqual(w.shape, (3,))
      self.assertTrue(np.all(w >= 0))
      self.assertAlmostEqual(float(w.sum()), 1.0, places=5)
    for variant in ("tta", "plain"):
      for value in sade["rows"][variant].values():
        self.assertBetween(value, 0.0, 1.0)

  def test_tta_padding_gives_distinct_views_without_augmentation(self):
    config = shrink(common.build("mnist_lt", "sade"), self.paths)
    config.max_steps = 2
    self.assertEqual(config.augment.padding, 0)
    self.assertFalse(config.augment.flip)
    workdir = os.path.join(self._tmp.name, "mnist_sade")
    train.train_and_evaluate(config, workdir)
    options = {"num_epochs": 1, "batch_size": 8}
    own = evaluate_shift.evaluate_run(workdir, tta=True, tta_options=options)
    self.assertTrue(any("identity" in note for note in own["notes"]))
    for weights in own["tta_weights"].values():  # equal views: no signal
      np.testing.assert_allclose(weights, [1 / 3] * 3, atol=1e-6)
    cropped = evaluate_shift.evaluate_run(workdir, tta=True, tta_padding=4,
                                          tta_options=options)
    self.assertFalse(any("identity" in note for note in cropped["notes"]))
    self.assertEqual(cropped["tta_padding"], 4)

  def test_find_runs(self):
    found = evaluate_shift.find_runs(
        [], os.path.join(self._tmp.name, "runs", "*"))
    self.assertEqual(sorted(found), sorted(self.runs.values()))
    with self.assertRaisesRegex(ValueError, "no config.json"):
      evaluate_shift.find_runs([self._tmp.name])
    with self.assertRaisesRegex(ValueError, "no runs"):
      evaluate_shift.find_runs([], os.path.join(self._tmp.name, "none*"))

  def test_command_line(self):
    output = os.path.join(self._tmp.name, "cli", "shift.md")
    with flagsaver.flagsaver():
      flags.FLAGS(["evaluate_shift", f"--runs={self.runs['ce']}",
                   f"--output={output}", "--seed=3"])
      evaluate_shift.main(["evaluate_shift"])
    with open(output[:-3] + ".json") as f:
      record = json.load(f)["runs"][0]
    self.assertEqual(record["seed"], 3)
    self.assertEqual(list(record["rows"]), ["plain"])
    self.assertAlmostEqual(record["rows"]["plain"]["uniform"],
                           self.records[1]["rows"]["plain"]["uniform"])
    with flagsaver.flagsaver():
      flags.FLAGS(["evaluate_shift", f"--runs={self._tmp.name}",
                   f"--output={output}"])
      with self.assertRaisesRegex(app.UsageError, "no config.json"):
        evaluate_shift.main(["evaluate_shift"])


if __name__ == "__main__":
  absltest.main()
