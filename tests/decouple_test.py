"""Tests for tau-normalisation, tau selection, NCM, cRT / LWS, the command."""

import glob
import json
import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import common
from ltjax import decouple
from ltjax import models
from ltjax import posthoc
from ltjax import train
import testdata


class TauNormalizeTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.kernel = np.random.default_rng(0).standard_normal((6, 4)) * [
        3.0, 1.0, 0.5, 0.1]

  def test_tau_zero_is_identity(self):
    np.testing.assert_allclose(posthoc.tau_normalize(self.kernel, tau=0.0),
                               self.kernel, rtol=1e-6)

  def test_tau_one_gives_unit_columns(self):
    normalized = posthoc.tau_normalize(self.kernel, tau=1.0)
    np.testing.assert_allclose(np.linalg.norm(normalized, axis=0), np.ones(4),
                               rtol=1e-5)

  @parameterized.parameters(0.3, 0.7, 1.5)
  def test_formula(self, tau):
    norms = np.sqrt(np.sum(self.kernel**2, axis=0))
    np.testing.assert_allclose(posthoc.tau_normalize(self.kernel, tau=tau),
                               self.kernel / norms**tau, rtol=1e-5)
    np.testing.assert_allclose(posthoc.weight_norms(self.kernel), norms,
                               rtol=1e-5)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "tau"):
      posthoc.tau_normalize(self.kernel, tau=-1.0)
    with self.assertRaisesRegex(ValueError, r"\[D, C\]"):
      posthoc.tau_normalize(np.ones(3), tau=1.0)


def _skewed_problem(seed, n_val=20_000):
  """Gaussian classes in 2-D with priors pi; logits = log p(x|y) + log pi.

  These are the exact logits of a Bayes model trained on long-tailed data, so
  on a balanced validation set the best post-hoc tau is 1.
  """
  rng = np.random.default_rng(seed)
  means = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5], [1.5, 1.5]])
  priors = np.array([0.7, 0.2, 0.07, 0.03])
  labels = np.repeat(np.arange(4), n_val // 4)
  x = means[labels] + rng.standard_normal((labels.size, 2))
  log_lik = -0.5 * np.sum((x[:, None, :] - means[None]) ** 2, axis=-1)
  return (log_lik + np.log(priors)).astype(np.float32), labels, priors


class SelectTauTest(absltest.TestCase):

  def test_posthoc_adjustment_selects_tau_one(self):
    logits, labels, priors = _skewed_problem(0)
    selection = posthoc.select_tau(logits, labels, class_priors=priors,
                                   grid=(0.0, 0.5, 1.0, 1.5, 2.0))
    self.assertEqual(selection.tau, 1.0)
    balanced = selection.curve.balanced
    self.assertLess(balanced[0], balanced[2] - 0.02)  # the gain is real
    self.assertLen(selection.curve.tau, 5)

  def test_tau_norm_selects_tau_that_equalises_norms(self):
    # W_c = n_c^0.5 u_c with orthonormal u: tau = 1 removes the size bias.
    rng = np.random.default_rng(1)
    counts = np.array([1000, 300, 60, 10])
    directions = np.linalg.qr(rng.standard_normal((8, 4)))[0]  # [D, C]
    kernel = directions * np.sqrt(counts)
    labels = np.repeat(np.arange(4), 2000)
    features = directions.T[labels] + 0.6 * rng.standard_normal(
        (labels.size, 8))
    selection = posthoc.select_tau(features.astype(np.float32), labels,
                                   kernel=kernel, grid=(0.0, 0.5, 1.0, 2.0),
                                   train_counts=counts)
    self.assertEqual(selection.tau, 1.0)
    self.assertGreater(selection.curve.few[2], selection.curve.few[0] + 0.2)

  def test_ties_pick_the_smallest_tau(self):
    logits = np.array([[5.0, 0.0], [0.0, 5.0]], np.float32)
    selection = posthoc.select_tau(logits, np.array([0, 1]),
                                   class_priors=np.array([0.5, 0.5]))
    self.assertEqual(selection.tau, 0.0)

  def test_errors(self):
    logits, labels, priors = _skewed_problem(2, n_val=8)
    with self.assertRaisesRegex(ValueError, "exactly one"):
      posthoc.select_tau(logits, labels)
    with self.assertRaisesRegex(ValueError, "exactly one"):
      posthoc.select_tau(logits, labels, class_priors=priors,
                         kernel=np.ones((2, 4)))
    with self.assertRaisesRegex(ValueError, "features"):
      posthoc.select_tau(logits, labels, kernel=np.ones((2, 4)))


def _clusters(seed, per_class=50, num_classes=5, dim=16, spread=0.05):
  rng = np.random.default_rng(seed)
  centers = 3.0 * rng.standard_normal((num_classes, dim))
  labels = np.repeat(np.arange(num_classes), per_class)
  features = centers[labels] + spread * rng.standard_normal((labels.size, dim))
  return features.astype(np.float32), labels


class NcmTest(parameterized.TestCase):

  @parameterized.parameters("euclidean", "cosine")
  def test_well_separated_clusters_are_perfect(self, metric):
    features, labels = _clusters(0)
    means, center = decouple.fit_ncm(features, labels, num_classes=5)
    test, test_labels = _clusters(0, per_class=20)
    logits = decouple.ncm_logits(test, means, metric=metric, center=center)
    np.testing.assert_array_equal(np.argmax(logits, 1), test_labels)

  def test_matches_numpy(self):
    features, labels = _clusters(1, spread=2.0)
    query, _ = _clusters(2, per_class=3, spread=2.0)
    center = features.mean(0)

    def prep(x):
      x = x - center
      return x / np.linalg.norm(x, axis=1, keepdims=True)

    means = np.stack([prep(features)[labels == c].mean(0) for c in range(5)])
    expected = -np.sum((prep(query)[:, None, :] - means[None]) ** 2, axis=-1)
    got_means, got_center = decouple.fit_ncm(features, labels, num_classes=5)
    np.testing.assert_allclose(got_means, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        decouple.ncm_logits(query, got_means, center=got_center), expected,
        rtol=1e-4, atol=1e-5)
    cosine = (prep(query) @ means.T) / np.linalg.norm(means, axis=1)
    np.testing.assert_allclose(
        decouple.ncm_logits(query, got_means, metric="cosine",
                            center=got_center), cosine, rtol=1e-4, atol=1e-5)

  def test_class_without_examples_is_never_predicted(self):
    features, labels = _clusters(3)
    keep = labels != 2
    means = decouple.class_means(features[keep], labels[keep], num_classes=5)
    self.assertTrue(np.all(np.isnan(means[2])))
    logits = decouple.ncm_logits(features, means)
    self.assertTrue(np.all(np.isneginf(logits[:, 2])))
    self.assertNotIn(2, np.argmax(logits, 1))


class Stage2Test(absltest.TestCase):

  def test_lws_at_one_reproduces_joint_logits(self):
    features, _ = _clusters(4)
    for kind in ("linear", "normalized"):
      head = models.Head(num_classes=5, kind=kind)
      params = head.init(jax.random.PRNGKey(0), features[:1])["params"]
      lws_params, logits_fn = decouple.lws_init(params, kind, 5)
      np.testing.assert_allclose(logits_fn(lws_params, features),
                                 head.apply({"params": params}, features),
                                 rtol=1e-6)

  def test_crt_separates_linearly_separable_features(self):
    features, labels = _clusters(5, per_class=100, spread=0.5)
    params, logits_fn = decouple.crt_init(5, features.shape[1],
                                          jax.random.PRNGKey(1))
    counts = np.bincount(labels)
    options = decouple.Stage2Options(epochs=10, batch_size=64, lr=0.1)
    params = decouple.fit_on_features(params, logits_fn, features, labels,
                                      counts, options)
    accuracy = np.mean(np.argmax(logits_fn(params, features), 1) == labels)
    self.assertGreaterEqual(accuracy, 0.99)

  def test_class_balanced_sampling_flattens_crt_norms(self):
    # Long-tailed features: a cRT head trained with class-balanced sampling
    # should not grow its head-class weights much more than its tail's.
    features, labels = _clusters(6, per_class=200, spread=1.0)
    keep = np.concatenate([np.flatnonzero(labels == c)[:n]
                           for c, n in enumerate([200, 80, 30, 12, 5])])
    features, labels = features[keep], labels[keep]
    counts = np.bincount(labels)
    norms = {}
    for sampler in ("instance", "class_balanced"):
      params, logits_fn = decouple.crt_init(5, features.shape[1],
                                            jax.random.PRNGKey(2))
      params = decouple.fit_on_features(
          params, logits_fn, features, labels, counts,
          decouple.Stage2Options(epochs=20, batch_size=32, lr=0.05,
                                 sampler=sampler))
      n = np.asarray(posthoc.weight_norms(params["kernel"]))
      norms[sampler] = n.max() / n.min()
    self.assertLess(norms["class_balanced"], norms["instance"])


class DecoupleCommandTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls.paths = testdata.write_tiny_benchmarks(cls._tmp.name)
    cls.stage1 = os.path.join(cls._tmp.name, "stage1")
    config = common.build("cifar10_lt", "ce", "2")
    config.data.path = cls.paths["cifar10_lt"]
    config.data.imbalance_ratio = 4.0
    config.data.val_per_class = 2
    config.model.name = "mnist_cnn"
    config.batch_size = config.eval_batch_size = 16
    train.train_and_evaluate(config, cls.stage1)

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def config(self):
    config = decouple.default_config()
    config.crt.epochs = config.lws.epochs = 2
    config.crt.batch_size = config.lws.batch_size = 16
    config.eval_batch_size = 16
    return config

  def test_end_to_end(self):
    out = testdata.make_tempdir(self)
    result = decouple.decouple_and_evaluate(self.config(), self.stage1, out)
    self.assertEqual(set(result["methods"]), set(decouple.METHODS))
    with open(os.path.join(out, "decouple.json")) as f:
      saved = json.load(f)
    self.assertEqual(saved["methods"]["crt"]["test"].keys(),
                     {"top1", "balanced", "many", "medium", "few"})
    for name in ("tau_norm", "posthoc_la"):
      self.assertIn(saved["methods"][name]["tau"],
                    list(posthoc.DEFAULT_TAU_GRID))
      self.assertLen(saved["tau_curves"][name]["val"]["balanced"], 21)
    self.assertEqual(set(saved["weight_norms"]),
                     {"joint", "crt", "tau_norm", "lws"})
    table = open(os.path.join(out, "decouple.md")).read()
    for name in decouple.METHODS:
      self.assertIn(f"| {name} |", table)
    # The joint row is the stage-1 model's own final test result.
    stage1 = json.load(open(os.path.join(self.stage1, "metrics.json")))
    self.assertAlmostEqual(saved["methods"]["joint"]["test"]["top1"],
                           stage1["final"]["test"]["top1"], places=5)

  def test_contrastive_run_decouples_its_model(self):
    # Its parameters are {"model", "contrast"}: the backbone and head are
    # the model's, the projection head is not part of the classifier.
    stage1 = testdata.make_tempdir(self)
    config = common.build("cifar10_lt", "supcon", "1")
    config.data.path = self.paths["cifar10_lt"]
    config.data.imbalance_ratio = 4.0
    config.data.val_per_class = 2
    config.model.name = "mnist_cnn"
    config.batch_size = config.eval_batch_size = 16
    config.max_steps = 2
    config.stage2.name = "none"
    train.train_and_evaluate(config, stage1)
    options = self.config()
    options.methods = ("joint", "crt")
    result = decouple.decouple_and_evaluate(options, stage1,
                                            testdata.make_tempdir(self))
    finished = json.load(open(os.path.join(stage1, "metrics.json")))
    self.assertAlmostEqual(result["methods"]["joint"]["test"]["top1"],
                           finished["final"]["test"]["top1"], places=5)

  def test_augmented_path_with_train_mode_batchnorm(self):
    config = self.config()
    config.methods = ("crt",)
    config.features = "augmented"
    config.bn_train = True
    result = decouple.decouple_and_evaluate(config, self.stage1,
                                            testdata.make_tempdir(self))
    self.assertIn("crt", result["methods"])

  def test_checkpoint_of_another_model_is_refused(self):
    other = testdata.make_tempdir(self)
    os.symlink(os.path.join(self.stage1, "checkpoints"),
               os.path.join(other, "checkpoints"))
    shutil.copy(os.path.join(self.stage1, "metrics.json"), other)  # finished
    config = json.load(open(os.path.join(self.stage1, "config.json")))
    config["model"]["name"] = "mlp"
    json.dump(config, open(os.path.join(other, "config.json"), "w"))
    with self.assertRaisesRegex(ValueError, "does not fit model 'mlp'"):
      decouple.decouple_and_evaluate(self.config(), other, other)

  def test_checkpoint_with_another_class_count_is_refused(self):
    config = self.config()
    config.data.path = self.paths["cifar100_lt"]
    config.expect_num_classes = -1
    other = testdata.make_tempdir(self)
    os.symlink(os.path.join(self.stage1, "checkpoints"),
               os.path.join(other, "checkpoints"))
    shutil.copy(os.path.join(self.stage1, "metrics.json"), other)  # finished
    stage1 = json.load(open(os.path.join(self.stage1, "config.json")))
    stage1["data"]["name"] = "cifar100_lt"
    stage1["data"]["class_names"] = []
    stage1["data"]["val_per_class"] = 1
    json.dump(stage1, open(os.path.join(other, "config.json"), "w"))
    with self.assertRaisesRegex(ValueError, "100 classes.*checkpoint has 10"):
      decouple.decouple_and_evaluate(config, other, other)
    config = self.config()
    config.expect_num_classes = 100
    with self.assertRaisesRegex(ValueError, "config.expect_num_classes"):
      decouple.decouple_and_evaluate(config, self.stage1,
                                     testdata.make_tempdir(self))

  def test_stage1_checkpoints_are_opened_read_only(self):
    # An unreadable newest checkpoint is skipped, not moved aside: the
    # stage-1 workdir is never written.
    other = testdata.make_tempdir(self)
    shutil.copytree(os.path.join(self.stage1, "checkpoints"),
                    os.path.join(other, "checkpoints"))
    shutil.copy(os.path.join(self.stage1, "config.json"), other)
    shutil.copy(os.path.join(self.stage1, "metrics.json"), other)
    directory = os.path.join(other, "checkpoints")
    newest = max(int(s) for s in os.listdir(directory) if s.isdigit())
    shutil.copytree(os.path.join(directory, str(newest)),
                    os.path.join(directory, str(newest + 1)))
    for path in glob.glob(os.path.join(directory, str(newest + 1), "**", "*"),
                          recursive=True):
      if os.path.isfile(path) and os.sep + "d" + os.sep in path:
        with open(path, "wb") as f:
          f.write(b"corrupt")
    before = sorted(os.listdir(directory))
    config = self.config()
    config.methods = ("joint",)
    result = decouple.decouple_and_evaluate(config, other,
                                            testdata.make_tempdir(self))
    self.assertEqual(result["checkpoint_step"], newest)
    self.assertEqual(sorted(os.listdir(directory)), before)

  def test_regression_run_is_refused(self):
    other = testdata.make_tempdir(self)
    with open(os.path.join(other, "config.json"), "w") as f:
      json.dump({"task": "regression"}, f)
    with self.assertRaisesRegex(ValueError, "needs a classification run"):
      decouple.decouple_and_evaluate(self.config(), other, other)

  def test_missing_stage1_is_explained(self):
    with self.assertRaisesRegex(FileNotFoundError, "config.json"):
      decouple.decouple_and_evaluate(self.config(),
                                     testdata.make_tempdir(self))

  def test_bad_config(self):
    config = self.config()
    config.methods = ("crt", "ncm2")
    with self.assertRaisesRegex(ValueError, "config.methods"):
      decouple.decouple_and_evaluate(config, self.stage1)
    config = self.config()
    config.bn_train = True
    with self.assertRaisesRegex(ValueError, "config.bn_train"):
      decouple.decouple_and_evaluate(config, self.stage1)


if __name__ == "__main__":
  absltest.main()
