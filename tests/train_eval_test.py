"""Evaluation on the loss's logit scale, and the per-example predictions file.

A cosine-head (LDAM) model's ECE must be that of softmax(s * cos), the
softmax it is trained with, not of softmax(cos); predictions.npz must agree
with the reported metrics when they are recomputed from it in NumPy.
"""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from experiments.configs import common
from ltjax import data
from ltjax import metrics
from ltjax import train
from ltjax.train import _classification
import testdata


def np_softmax(z):
  z = np.asarray(z, np.float64)
  e = np.exp(z - z.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def np_ece(logits, labels, num_bins=15):
  """Textbook ECE (Guo et al. 2017, arXiv 1706.04599), bins (lo, hi]."""
  probs = np_softmax(logits)
  conf = probs.max(axis=1)
  correct = probs.argmax(axis=1) == labels
  edges = np.linspace(0.0, 1.0, num_bins + 1)
  ece = 0.0
  for lo, hi in zip(edges[:-1], edges[1:]):
    in_bin = (conf > lo) & (conf <= hi)
    if lo == 0.0:
      in_bin |= conf == 0.0
    if in_bin.any():
      ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
  return ece


def np_cosines(features, kernel):
  f = np.asarray(features, np.float64)
  w = np.asarray(kernel, np.float64)
  f = f / np.linalg.norm(f, axis=1, keepdims=True)
  w = w / np.linalg.norm(w, axis=0, keepdims=True)
  return f @ w


class TinyMnistTestCase(testdata.TinyBenchmarksTestCase):

  def config(self, method, **loss):
    config = common.build("mnist_lt", method, "1")
    config.data.path = self.paths["mnist_lt"]
    config.data.imbalance_ratio = 4.0
    config.data.val_per_class = 2
    config.batch_size = 16
    config.eval_batch_size = 16  # the 40 test images: a padded last batch
    config.log_every_steps = 1
    config.max_steps = 2
    config.loss.update(loss)
    return config


class CosineHeadCalibrationTest(TinyMnistTestCase):

  @parameterized.parameters((30.0, 0), (8.0, 1))
  def test_ece_is_that_of_the_scaled_cosines(self, scale, seed):
    config = self.config("ldam_drw", scale=scale)
    config.seed = seed
    self.assertEqual(config.model.head, "normalized")
    dataset = data.load_dataset(config.data)
    run = train.build_run(config, dataset)
    self.assertEqual(run.logit_scale, scale)
    state = run.init_state()
    counts = train.evaluate(run, state, dataset.test)["plain"]

    # Independently: features of the same model, cosines and ECE in NumPy.
    images, labels = dataset.test.get_batch(np.arange(len(dataset.test)))
    _, features = run.model.apply(state.variables(),
                                  run.preprocess(images, None), train=False)
    cos = np_cosines(features, state.params["head"]["kernel"])
    self.assertLessEqual(np.abs(cos).max(), 1.0 + 1e-6)
    scaled, unscaled = np_ece(scale * cos, labels), np_ece(cos, labels)
    got = float(metrics.expected_calibration_error(counts))
    self.assertAlmostEqual(got, scaled, places=4)
    # softmax(cos) over 10 classes is nearly uniform: its ECE is another
    # number, which the old evaluation reported.
    self.assertGreater(abs(got - unscaled), 0.02)
    # Argmax metrics do not depend on the scale.
    self.assertAlmostEqual(float(metrics.accuracy(counts)),
                           np.mean(cos.argmax(axis=1) == labels), places=6)

  def test_scale_is_one_for_unscaled_losses(self):
    for method in ("ce", "logit_adjusted", "balanced_softmax", "focal"):
      self.assertEqual(_classification.eval_logit_scale(self.config(method)), 1.0)
    self.assertEqual(
        _classification.eval_logit_scale(self.config("ldam_drw", scale=12.5)), 12.5)


class PredictionsFileTest(TinyMnistTestCase):

  @parameterized.parameters("ce", "ldam_drw")
  def test_predictions_agree_with_the_reported_metrics(self, method):
    workdir = testdata.make_tempdir(self)
    config = self.config(method)
    result = train.train_and_evaluate(config, workdir)
    with np.load(os.path.join(workdir, "predictions.npz")) as f:
      p = dict(f)
    # The generated MNIST test set: 4 images of each class, seeded order.
    expected_labels = testdata.tiny_labels(4, 10, seed=1)
    np.testing.assert_array_equal(p["index"], np.arange(40))
    np.testing.assert_array_equal(p["label"], expected_labels)
    self.assertEqual(p["logits"].shape, (40, 10))
    self.assertLen(p["class_names"], 10)
    np.testing.assert_array_equal(p["prediction"], p["logits"].argmax(1))

    scale = float(p["logit_scale"])
    self.assertEqual(scale, 30.0 if method == "ldam_drw" else 1.0)
    if method == "ldam_drw":  # s * cos
      self.assertLessEqual(np.abs(p["logits"]).max(), scale * (1 + 1e-6))

    test = result["final"]["test"]
    labels = p["label"]
    self.assertAlmostEqual(test["top1"],
                           np.mean(p["prediction"] == labels), places=6)
    self.assertAlmostEqual(test["ece"], np_ece(p["logits"], labels),
                           places=4)
    with open(os.path.join(workdir, "history.jsonl")) as f:
      last = [json.loads(line) for line in f][-1]
    per_class = [np.mean(p["prediction"][labels == c] == c)
                 for c in range(10)]
    np.testing.assert_allclose(last["test"]["per_class"], per_class,
                               rtol=1e-6)
    if method == "ce":  # post-hoc logit adjustment is reported for CE
      counts = np.asarray(result["train_class_counts"], np.float64)
      adjusted = p["logits"] - np.log(counts / counts.sum())
      np.testing.assert_array_equal(p["prediction_posthoc"],
                                    adjusted.argmax(1))
      self.assertAlmostEqual(result["final"]["test_posthoc"]["top1"],
                             np.mean(p["prediction_posthoc"] == labels),
                             places=6)
    else:
      self.assertNotIn("prediction_posthoc", p)


if __name__ == "__main__":
  absltest.main()
