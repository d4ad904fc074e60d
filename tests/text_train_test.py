"""Texts on the one engine: `train.train_and_evaluate` on token ids.

A tiny BiLSTM (registered here as a model name) is trained for one epoch on a
generated Rotten-Tomatoes-like file through the `text_lt` recipes and the
`rotten_tomatoes` profile: LDAM-DRW (a cosine head), and CE with a cRT
second stage (decoupling on the frozen BiLSTM). Checked end to end: the
loaded model reproduces predictions.npz on the test split, extra padding
changes no prediction, inference.json holds the vocabulary, a changed text
file refuses to resume the run, and what token ids cannot take (mixing, an
image model) is refused before anything is compiled.
"""

import csv
import functools
import json
import os
import shutil
import tempfile

from absl.testing import absltest
import jax
import numpy as np

import ltjax
from ltjax import data
from ltjax import models
from ltjax import recipes
from ltjax import text
from ltjax import train
import testdata

TINY = "tiny_bilstm_for_tests"
TINY_PAIR = "tiny_bilstm_pair_for_tests"
TINY_TRANSFORMER = "tiny_transformer_for_tests"
GOOD = ("a delight", "moving", "sharp and funny", "a joy")
BAD = ("a bore", "tedious", "flat and dull", "a mess")


def setUpModule():
  small = dict(embed_dim=8, hidden_size=8, num_layers=1)
  models.MODELS[TINY] = functools.partial(text.BiLSTMClassifier, **small)
  models.MODELS[TINY_PAIR] = functools.partial(text.BiLSTMPairClassifier,
                                               **small)
  models.MODELS[TINY_TRANSFORMER] = functools.partial(
      text.TransformerClassifier, embed_dim=8, num_layers=1, num_heads=2,
      mlp_dim=8)


def tearDownModule():
  for name in (TINY, TINY_PAIR, TINY_TRANSFORMER):
    models.MODELS.pop(name)


def write_corpus(path, *, fresh=60, rotten=60, plot=4, seed=0):
  """category,text,movie_name rows of at most 10 tokens each."""
  rng = np.random.default_rng(seed)
  rows = []
  for category, n in (("fresh", fresh), ("rotten", rotten), ("plot", plot)):
    for i in range(n):
      words = GOOD if category == "fresh" else BAD
      phrase = words[rng.integers(len(words))]
      rows.append([category, f"the film is {phrase} , m{i % 7} .",
                   f"movie {i}"])
  rng.shuffle(rows)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["category", "text", "movie_name"])
    writer.writerows(rows)
  return path


def tiny_config(path, method, **changes):
  """`text_lt/<method>:1` on the corpus file, with the tiny BiLSTM."""
  config = recipes.build("text_lt", method, "1")
  config.model.name = TINY
  config.data.path = path
  config.data.val_per_class = 4
  config.data.max_length = 12
  config.data.keep_fraction = {"rotten": 0.25}
  config.batch_size = 16
  config.eval_batch_size = 32
  config.optim.lr = 0.01
  config.checkpoint_every_steps = 100
  for field, value in changes.items():
    testdata.set_field(config, field, value)
  return config


def load_npz(workdir):
  with np.load(os.path.join(workdir, "predictions.npz")) as f:
    return dict(f)


class LdamTest(absltest.TestCase):
  """One LDAM-DRW run (normalised head), read by every test."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls.addClassCleanup(cls._tmp.cleanup)
    cls.tmp = cls._tmp.name
    cls.path = write_corpus(os.path.join(cls.tmp, "rt.csv"))
    cls.config = tiny_config(cls.path, "ldam_drw")
    cls.workdir = os.path.join(cls.tmp, "ldam")
    cls.metrics = train.train_and_evaluate(cls.config, cls.workdir)
    cls.dataset = data.load_dataset(cls.config.data)

  def test_trains_on_the_documented_splits(self):
    ds = self.dataset
    self.assertEqual(ds.class_names, ("fresh", "rotten"))
    # 12 test and 4 validation reviews of each class; a quarter of the
    # remaining rotten ones train.
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [12, 12])
    np.testing.assert_array_equal(ds.train_class_counts,
                                  [60 - 12 - 4, int(0.25 * 44 + 0.5)])
    self.assertEqual(self.metrics["data"]["train_class_counts"],
                     ds.train_class_counts.tolist())
    final = self.metrics["final"]
    self.assertEqual(final["epoch"], 1.0)
    for key in ("top1", "balanced", "medium", "few", "ece"):
      self.assertTrue(np.isfinite(final["test"][key]), key)
    with open(os.path.join(self.workdir, "data.json")) as f:
      self.assertEqual(json.load(f), data.dataset_digests(ds))

  def test_loaded_model_reproduces_the_predictions(self):
    # A cosine head (LDAM): logits in [-1, 1], evaluated times s = 30.
    model, variables, _ = train.load_model(self.workdir)
    ids = self.dataset.test.ids
    logits, _ = jax.jit(functools.partial(model.apply, train=False))(
        variables, text.inputs_from_ids(ids))
    self.assertLessEqual(float(np.abs(logits).max()), 1.0 + 1e-5)
    saved = load_npz(self.workdir)
    self.assertEqual(float(saved["logit_scale"]), 30.0)
    np.testing.assert_allclose(saved["logits"], 30.0 * np.asarray(logits),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(saved["label"], self.dataset.test.labels)
    np.testing.assert_array_equal(saved["prediction"],
                                  np.argmax(saved["logits"], axis=1))
    self.assertEqual(
        variables["params"]["encoder"]["embed"]["embedding"].shape[0],
        len(self.dataset.train.vocabulary))

  def test_predict_texts_from_the_workdir(self):
    ds = self.dataset
    texts = text.decode(ds.test.ids, ds.test.lengths, ds.train.vocabulary)
    self.assertFalse(any("<unk>" in t for t in texts))  # re-tokenised alike
    predictions = ltjax.predict(self.workdir, texts)
    saved = load_npz(self.workdir)
    np.testing.assert_allclose(predictions.logits, saved["logits"],
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(predictions.labels, saved["prediction"])
    # A CSV file of the run's columns: its labels come back as targets.
    rows = ltjax.predict(self.workdir, self.path)
    self.assertLen(rows.labels, 124)  # every row; a plot row has target -1
    self.assertEqual(set(rows.targets.tolist()), {0, 1, -1})

  def test_padding_changes_no_prediction_end_to_end(self):
    # The same reviews padded to 24 tokens instead of 12: the same training
    # and the same predictions.
    config = tiny_config(self.path, "ldam_drw", **{"data.max_length": 24})
    workdir = os.path.join(self.tmp, "padded")
    train.train_and_evaluate(config, workdir)
    padded, plain = load_npz(workdir), load_npz(self.workdir)
    np.testing.assert_array_equal(padded["prediction"], plain["prediction"])
    np.testing.assert_allclose(padded["logits"], plain["logits"], rtol=1e-4,
                               atol=1e-4)
    self.assertEqual(data.load_dataset(config.data).test.ids.shape[1], 24)

  def test_inference_json_holds_the_vocabulary(self):
    with open(os.path.join(self.workdir, "inference.json")) as f:
      info = json.load(f)
    self.assertEqual(info["input_kind"], "tokens")
    self.assertEqual(info["max_length"], 12)
    self.assertEqual(info["input_shape"], [12])
    self.assertEqual(
        text.vocabulary_from_json(json.dumps(info["vocabulary"])),
        self.dataset.train.vocabulary)
    self.assertEqual(info["mean"], [])

  def test_changed_text_file_does_not_resume(self):
    workdir = os.path.join(self.tmp, "copy")
    shutil.copytree(self.workdir, workdir)
    with open(self.path, encoding="utf-8") as f:
      content = f.read()
    other = os.path.join(self.tmp, "other.csv")
    with open(other, "w", encoding="utf-8") as f:
      f.write(content.replace("a delight", "a treat", 1))
    config = tiny_config(other, "ldam_drw")
    with self.assertRaisesRegex(train.DataMismatchError,
                                r"(?s)other data.*\n  train: [0-9a-f]{16} "
                                r"\(55 examples\) -> [0-9a-f]{16} \(55 "):
      train.train_and_evaluate(config, workdir)
    # The same file elsewhere resumes: nothing to train.
    shutil.copy(self.path, other)
    result = train.train_and_evaluate(config, workdir)
    self.assertEqual(result["run"]["steps_this_run"], 0)


class DecouplingTest(absltest.TestCase):

  def test_crt_second_stage_on_the_frozen_bilstm(self):
    tmp = testdata.make_tempdir(self)
    path = write_corpus(os.path.join(tmp, "rt.csv"))
    config = tiny_config(path, "ce", **{
        "stage2.name": "crt", "stage2.num_epochs": 2,
        "stage2.batch_size": 16})
    workdir = os.path.join(tmp, "crt")
    metrics = train.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "history.jsonl")) as f:
      history = [json.loads(line) for line in f]
    stages = [r.get("stage", "train") for r in history]
    self.assertEqual(stages, ["train", "stage2"])
    # Stage 1 is plain CE: its post-hoc adjusted accuracy is reported.
    self.assertIn("test_posthoc", history[0])
    self.assertEqual(metrics["final"]["stage"], "stage2")
    self.assertEqual(metrics["final"]["test"]["balanced"],
                     history[1]["test"]["balanced"])
    self.assertTrue(np.isfinite(metrics["final"]["test"]["balanced"]))


class InputKindTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = testdata.make_tempdir(self)
    self.path = write_corpus(os.path.join(self.tmp, "rt.csv"))

  def test_mixing_an_image_model_and_a_pair_model_are_refused(self):
    cases = [
        ({"mixing.name": "mixup"}, r"config.mixing.name: the mixing "
         r"component changes the model's inputs"),
        ({"model.name": "mlp"}, r"config.model.name: 'mlp' reads arrays but "
         r"the data \('rotten_tomatoes'\) gives tokens; use one of "
         r"\['bilstm', 'text_transformer'"),
        ({"model.name": TINY_PAIR}, r"reads token_pairs but the data .* "
         r"gives tokens"),
        ({"eval_tta": "flip"}, r"config.eval_tta: the eval_tta component "
         r"changes"),
    ]
    for changes, message in cases:
      workdir = os.path.join(self.tmp, "refused")
      config = tiny_config(self.path, "ce", **changes)
      testdata.assert_fails_before_compiling(
          self, lambda: train.train_and_evaluate(config, workdir),
          ValueError, message, workdir)

  def test_a_text_model_on_feature_vectors_is_refused(self):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [30, 10])
    ds = data.from_arrays((rng.normal(size=(40, 3)) + y[:, None], y),
                          test=(rng.normal(size=(8, 3)), np.arange(8) % 2))
    config = tiny_config(self.path, "ce")
    workdir = os.path.join(self.tmp, "arrays")
    testdata.assert_fails_before_compiling(
        self, lambda: train.train_and_evaluate(config, workdir, dataset=ds),
        ValueError, r"config.model.name: 'tiny_bilstm_for_tests' reads tokens "
        r"but the data .* gives arrays", workdir)

  def test_pairs_train_with_a_pair_model(self):
    rows = [["label", "first", "second"]]
    rng = np.random.default_rng(1)
    for i in range(48):
      same = i % 3 != 0
      a = GOOD[rng.integers(4)]
      rows.append(["same" if same else "other", f"it is {a}",
                   f"it is {a if same else BAD[rng.integers(4)]}"])
    path = os.path.join(self.tmp, "pairs.tsv")
    with open(path, "w", newline="", encoding="utf-8") as f:
      csv.writer(f, delimiter="\t").writerows(rows)
    config = tiny_config(path, "ce", **{
        "model.name": TINY_PAIR, "data.name": "text_csv",
        "data.text": "first", "data.text_pair": "second",
        "data.target": "label", "data.class_names": (),
        "data.keep_fraction": {}, "data.max_length": 6, "max_steps": 2})
    workdir = os.path.join(self.tmp, "pairs")
    train.train_and_evaluate(config, workdir)
    saved = load_npz(workdir)
    ds = data.load_dataset(config.data)
    self.assertEqual(ds.input_kind, "token_pairs")
    self.assertEqual(saved["logits"].shape, (len(ds.test), 2))
    model, variables, _ = train.load_model(workdir)
    logits, features = model.apply(
        variables, text.inputs_from_ids(ds.test.ids, pair=True), train=False)
    np.testing.assert_allclose(saved["logits"], logits, rtol=1e-5,
                               atol=1e-5)
    self.assertEqual(features.shape, (len(ds.test), 4 * 2 * 8))

  def test_transformer_takes_max_length_from_the_data(self):
    config = tiny_config(self.path, "logit_adjusted", **{
        "model.name": TINY_TRANSFORMER, "data.max_length": 10,
        "max_steps": 2})
    workdir = os.path.join(self.tmp, "transformer")
    train.train_and_evaluate(config, workdir)
    model, variables, _ = train.load_model(workdir)
    self.assertEqual((model.vocab_size, model.max_length),
                     (len(data.load_dataset(config.data).train.vocabulary),
                      10))
    self.assertEqual(
        variables["params"]["encoder"]["position_embedding"].shape, (10, 8))
    ds = data.load_dataset(config.data)
    logits, _ = model.apply(variables, text.inputs_from_ids(ds.test.ids),
                            train=False)
    np.testing.assert_allclose(load_npz(workdir)["logits"], logits,
                               rtol=1e-5, atol=1e-5)

  def test_every_text_recipe_validates(self):
    for method in recipes.METHODS["classification"]:
      if recipes.supported("text_lt", method):
        train.validate_config(recipes.build("text_lt", method, "2"),
                              check_data=False)
    config = recipes.build("text_lt", "ldam_drw")
    self.assertEqual((config.model.name, config.optim.name,
                      config.data.name), ("bilstm", "adam", "rotten_tomatoes"))
    self.assertEqual(recipes.build("text_lt", "reweight").loss.reweight,
                     "inverse")
    self.assertEqual(recipes.build("text_lt", "resample").sampler.name,
                     "class_balanced")


if __name__ == "__main__":
  absltest.main()
