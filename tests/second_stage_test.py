"""Tests of the classification second stage (`config.stage2`) and DisAlign.

DisAlign's calibration, its re-weighting and its loss are checked against
the official code's formulas written out in NumPy; one full-batch SGD step
of `fit_disalign` against its gradient derived by hand. The methods of
`run_second_stage` run end to end on tiny in-memory data (an MLP on feature
vectors; a BatchNorm CNN for shift learning) and are checked by their
properties: with a vanishing learning rate each returns the classifier it
starts from (kept, projected, calibrated), so the written predictions are
compared with that classifier computed here in NumPy.
"""

import json
import os

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import data
from ltjax import decouple
from ltjax import losses
from ltjax import train
import testdata


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _log_softmax(z):
  z = z - z.max(axis=1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _random_params(rng, dim, num_classes):
  return {"scale": rng.normal(size=num_classes).astype(np.float32),
          "bias": rng.normal(size=num_classes).astype(np.float32),
          "confidence": {
              "kernel": rng.normal(size=dim).astype(np.float32) * 0.3,
              "bias": np.float32(rng.normal())}}


def _paper_calibration(params, x, z):
  """The paper's z' = sigma (alpha z + beta) + (1 - sigma) z, alpha = 1 + s."""
  conf = params["confidence"]
  sigma = _sigmoid(x @ conf["kernel"] + conf["bias"])[:, None]
  alpha = 1.0 + params["scale"]
  return sigma * (alpha * z + params["bias"]) + (1 - sigma) * z


class DisAlignCalibrationTest(absltest.TestCase):

  def test_matches_paper_form(self):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    z = rng.normal(size=(7, 3)).astype(np.float32)
    params = _random_params(rng, 5, 3)
    np.testing.assert_allclose(decouple.disalign_logits(params, x, z),
                               _paper_calibration(params, x, z), rtol=1e-5,
                               atol=1e-6)

  def test_identity_cases(self):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    z = rng.normal(size=(6, 3)).astype(np.float32)
    params = _random_params(rng, 4, 3)
    # sigma -> 0: the frozen logits.
    closed = {**params, "confidence": {"kernel": np.zeros(4, np.float32),
                                       "bias": np.float32(-200.0)}}
    np.testing.assert_allclose(decouple.disalign_logits(closed, x, z), z,
                               rtol=1e-6, atol=1e-6)
    # alpha = 1 (s = 0), beta = 0: the frozen logits for any sigma.
    neutral = {**params, "scale": np.zeros(3, np.float32),
               "bias": np.zeros(3, np.float32)}
    np.testing.assert_allclose(decouple.disalign_logits(neutral, x, z), z,
                               rtol=1e-6, atol=1e-6)

  def test_init_is_the_official_one(self):
    params = decouple.disalign_init(16, 5, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(params["scale"], np.ones(5))
    np.testing.assert_array_equal(params["bias"], np.zeros(5))
    np.testing.assert_array_equal(params["confidence"]["kernel"],
                                  np.full(16, 0.1, np.float32))
    self.assertLessEqual(abs(float(params["confidence"]["bias"])), 0.25)
    # At init the code's logits are (1 + sigma) z: not the identity.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 16)).astype(np.float32)
    z = rng.normal(size=(4, 5)).astype(np.float32)
    sigma = _sigmoid(x @ np.full(16, 0.1) + float(
        params["confidence"]["bias"]))[:, None]
    np.testing.assert_allclose(decouple.disalign_logits(params, x, z),
                               (1 + sigma) * z, rtol=1e-5, atol=1e-6)

  def test_shape_errors(self):
    params = decouple.disalign_init(4, 3, jax.random.PRNGKey(0))
    with self.assertRaisesRegex(ValueError, "classes"):
      decouple.disalign_logits(params, np.zeros((2, 4)), np.zeros((2, 5)))
    with self.assertRaisesRegex(ValueError, "batch size"):
      decouple.disalign_logits(params, np.zeros((2, 4)), np.zeros((3, 3)))


class GeneralizedReweightTest(absltest.TestCase):

  def test_matches_official_formula(self):
    counts = np.array([500, 120, 30, 7, 2])
    for rho in (0.0, 0.5, 1.0, 1.2, 2.0):
      ratio = counts / counts.sum()
      w = 1 / ratio ** rho
      expected = w / w.sum() * len(counts)
      np.testing.assert_allclose(
          decouple.generalized_reweight_weights(counts, power=rho), expected,
          rtol=1e-5)

  def test_special_cases(self):
    counts = np.array([40, 10, 5])
    np.testing.assert_allclose(
        decouple.generalized_reweight_weights(counts, power=0.0), np.ones(3),
        rtol=1e-6)
    w = np.asarray(decouple.generalized_reweight_weights(counts, power=1.0))
    np.testing.assert_allclose(w * counts, (w * counts)[0], rtol=1e-5)
    with self.assertRaisesRegex(ValueError, "power"):
      decouple.generalized_reweight_weights(counts, power=-1.0)
    with self.assertRaisesRegex(ValueError, "class_counts"):
      decouple.generalized_reweight_weights(np.array([3, 0]), power=1.0)

  def test_weighted_mean_is_pytorchs(self):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(9, 4)).astype(np.float32)
    y = rng.integers(0, 4, size=9)
    w = np.array([0.2, 1.0, 2.5, 4.0])
    nll = -_log_softmax(z.astype(np.float64))[np.arange(9), y]
    expected = np.sum(w[y] * nll) / np.sum(w[y])  # F.cross_entropy(weight=w)
    got = decouple.weighted_mean_cross_entropy(z, y, class_weights=w)
    self.assertEqual(got.shape, (9,))
    np.testing.assert_allclose(np.mean(got), expected, rtol=1e-5)


class FitDisAlignTest(absltest.TestCase):

  def test_one_full_batch_sgd_step_matches_hand_gradient(self):
    rng = np.random.default_rng(4)
    n, d, c = 12, 5, 3
    x = rng.normal(size=(n, d)).astype(np.float32)
    z = rng.normal(size=(n, c)).astype(np.float32)
    y = np.arange(n) % c
    counts = np.array([30, 9, 2])
    params = _random_params(rng, d, c)
    lr, rho = 0.5, 1.2
    got = decouple.fit_disalign(
        params, x, z, y, class_counts=counts, power=rho, tx=optax.sgd(lr),
        epochs=1, batch_size=n, plan=lambda epoch: np.arange(n))

    # Hand gradient of sum_b w_b CE_b / sum_b w_b, z' = (1 + sig s) z + sig b.
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    s, beta = params["scale"], params["bias"]
    wk, wb = params["confidence"]["kernel"], params["confidence"]["bias"]
    ratio = counts / counts.sum()
    cw = (1 / ratio ** rho) / np.sum(1 / ratio ** rho) * c
    sig = _sigmoid(x64 @ wk + wb)
    zc = (1 + sig[:, None] * s) * z64 + sig[:, None] * beta
    g = np.exp(_log_softmax(zc))
    g[np.arange(n), y] -= 1
    g *= (cw[y] / cw[y].sum())[:, None]
    d_sig = np.sum(g * (s * z64 + beta), axis=1) * sig * (1 - sig)
    expected = {"scale": s - lr * np.sum(g * sig[:, None] * z64, 0),
                "bias": beta - lr * np.sum(g * sig[:, None], 0),
                "confidence": {"kernel": wk - lr * x64.T @ d_sig,
                               "bias": wb - lr * np.sum(d_sig)}}
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4,
                                                         atol=1e-6),
                 got, expected)


class WeightBalancingPiecesTest(absltest.TestCase):

  def test_cb_softmax_bce_matches_torch_formula(self):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4)).astype(np.float32) * 3
    y = rng.integers(0, 4, size=6)
    w = np.array([0.5, 1.0, 1.5, 1.0])
    p = np.exp(_log_softmax(z.astype(np.float64)))
    onehot = np.eye(4)[y]
    bce = -(onehot * np.maximum(np.log(p), -100)
            + (1 - onehot) * np.maximum(np.log(1 - p), -100))
    # F.binary_cross_entropy(p, onehot, weight=w_y repeated), mean over B x C.
    expected = np.mean(w[y][:, None] * bce)
    got = decouple.cb_softmax_bce_loss(z, y, class_weights=w)
    np.testing.assert_allclose(np.mean(got), expected, rtol=1e-5)

  def test_cb_softmax_bce_gradient_is_finite_when_saturated(self):
    z = jnp.array([[200.0, 0.0, 0.0]])
    grad = jax.grad(lambda z: jnp.sum(decouple.cb_softmax_bce_loss(
        z, jnp.array([0]), class_weights=jnp.ones(3))))(z)
    self.assertTrue(np.all(np.isfinite(grad)))

  def test_projection_every_k_updates(self):
    kernel = np.diag([3.0, 0.5]).astype(np.float32)
    params = {"kernel": jnp.asarray(kernel)}

    def project(p):
      return {"kernel": p["kernel"] / 2}

    tx = decouple.with_projection(optax.sgd(0.0), project, every=3)
    state = tx.init(params)
    seen = []
    for _ in range(6):
      updates, state = tx.update(jax.tree.map(jnp.zeros_like, params), state,
                                 params)
      params = optax.apply_updates(params, updates)
      seen.append(float(params["kernel"][0, 0]))
    self.assertEqual(seen, [3.0, 3.0, 1.5, 1.5, 1.5, 0.75])

  def test_epoch_cosine_schedule(self):
    schedule = decouple.epoch_cosine_schedule(0.1, steps_per_epoch=3,
                                              num_epochs=4)
    for step in range(12):
      e = step // 3
      np.testing.assert_allclose(schedule(step),
                                 0.05 * (1 + np.cos(np.pi * e / 4)),
                                 rtol=1e-6)


class ConfigTest(absltest.TestCase):

  def _config(self, **fields):
    config = train.default_config()
    if "stage2" not in config:
      config.stage2 = decouple.default_stage2_config()
    config.stage2.update(fields)
    return config

  def test_defaults_valid_and_not_scaled(self):
    config = self._config()
    self.assertEqual(config.stage2.name, "none")
    decouple.validate_stage2_config(config)
    self.assertNotIn("stage2.num_epochs", train.epoch_fields(config))
    self.assertEqual(set(decouple.STAGE2_METHODS),
                     {"none", "crt", "mislas", "weight_balancing",
                      "disalign"})

  def test_errors_name_the_field(self):
    cases = [
        (dict(name="lws"), "config.stage2.name"),
        (dict(num_epochs=0), "config.stage2.num_epochs"),
        (dict(lr=0.0), "config.stage2.lr"),
        (dict(sampler="nope"), "config.stage2.sampler"),
        (dict(features="cached", shift_bn=True), "config.stage2.shift_bn"),
        (dict(smooth_head=1.0), "config.stage2.smooth_head"),
        (dict(smooth_shape="flat"), "config.stage2.smooth_shape"),
        (dict(max_norm_position=1.5), "config.stage2.max_norm_position"),
        (dict(cb_loss="focal"), "config.stage2.cb_loss"),
        (dict(grw_power=-1.0), "config.stage2.grw_power"),
    ]
    for fields, message in cases:
      with self.assertRaisesRegex(ValueError, message, msg=str(fields)):
        decouple.validate_stage2_config(self._config(**fields))
    config = self._config(name="weight_balancing")
    config.model.head = "normalized"
    with self.assertRaisesRegex(ValueError, "MaxNorm"):
      decouple.validate_stage2_config(config)


class _Session:
  """The engine's Session contract: record and write_predictions."""

  def __init__(self):
    self.records, self.predictions = [], None

  def record(self, record):
    self.records.append(record)

  def write_predictions(self, arrays):
    self.predictions = arrays


COUNTS = (24, 10, 5, 3)


def _vector_dataset(val=True, seed=0):
  """Separable long-tailed feature vectors (4 classes, D = 6)."""
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(4, 6)) * 5

  def split(counts):
    y = np.concatenate([np.full(m, c) for c, m in enumerate(counts)])
    return (centers[y] + rng.normal(size=(len(y), 6))).astype(np.float32), y

  test = split((6, 6, 6, 6))
  return data.from_arrays(split(COUNTS), test=test,
                          val=split((3, 3, 3, 3)) if val else None)


def _image_dataset(seed=0):
  rng = np.random.default_rng(seed)
  y = np.concatenate([np.full(m, c) for c, m in enumerate(COUNTS)])
  x = rng.integers(0, 255, size=(len(y), 8, 8, 1), dtype=np.uint8)
  yt = np.repeat(np.arange(4), 3)
  xt = rng.integers(0, 255, size=(len(yt), 8, 8, 1), dtype=np.uint8)
  return data.from_arrays((x, y), test=(xt, yt))


def _run(dataset, model="mlp", steps=2):
  """A built run of `model` on `dataset` after `steps` stage-1 steps."""
  config = train.default_config()
  if "stage2" not in config:
    config.stage2 = decouple.default_stage2_config()
  config.model.name = model
  config.batch_size = 8
  config.eval_batch_size = 16
  config.num_epochs = 1
  run = train.build_run(config, dataset)
  state = run.init_state()
  plans = run.task.epoch_plan(0)
  for step in range(steps):
    state, _ = run.train_step(state, train.train_batch(run, step, plans))
  return run, state


def _set_stage2(run, **fields):
  """Sets `run.config.stage2` to tiny defaults and `fields`; validates."""
  stage2 = decouple.default_stage2_config()
  stage2.update(dict(num_epochs=2, batch_size=8, features="cached"))
  stage2.update(fields)
  run.config.stage2 = stage2
  decouple.validate_stage2_config(run.config)


def _stage1(run, state, split):
  """(features, logits) of the stage-1 model, and its head in NumPy."""
  variables = train.model_variables(run.task, state)
  feats, logits = train.extract_features(
      run.model, variables, split, preprocess=run.preprocess, mesh=run.mesh,
      batch_size=run.eval_batch_size, with_outputs=True)
  head = jax.tree.map(np.asarray, jax.device_get(
      variables["params"]["head"]))
  return feats.astype(np.float64), np.asarray(logits, np.float64), head


class RunSecondStageTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dataset = _vector_dataset()
    # One stage-1 run shared by the tests (each sets its own config.stage2).
    cls.stage1 = _run(cls.dataset)

  def _second_stage(self, **stage2):
    run, state = self.stage1
    _set_stage2(run, **stage2)
    session = _Session()
    records = decouple.run_second_stage(run, state, session)
    self.assertEqual(records, session.records)
    (record,) = records
    self.assertEqual(record["stage"], "stage2")
    self.assertEqual(record["step"], 2)
    self.assertAlmostEqual(record["epoch"], 2 / run.steps_per_epoch
                           + run.config.stage2.num_epochs)
    self.assertIn("val", record)
    preds = session.predictions
    np.testing.assert_array_equal(preds["label"], self.dataset.test.labels)
    np.testing.assert_array_equal(preds["prediction"],
                                  np.argmax(preds["logits"], axis=1))
    np.testing.assert_allclose(
        record["test"]["top1"],
        np.mean(preds["prediction"] == preds["label"]), rtol=1e-6)
    return run, state, record, preds

  def test_none_does_nothing(self):
    run, state = self.stage1
    _set_stage2(run, name="none")
    session = _Session()
    self.assertEqual(decouple.run_second_stage(run, state, session), [])
    self.assertEqual(session.records, [])
    self.assertIsNone(session.predictions)

  def test_crt_learns_a_new_head(self):
    _, _, record, _ = self._second_stage(name="crt", num_epochs=15, lr=0.1,
                                         sampler="class_balanced")
    self.assertTrue(np.isfinite(record["train_loss"]))
    self.assertGreaterEqual(record["test"]["balanced"], 0.9)

  def test_weight_balancing_projects_the_kept_classifier(self):
    run, state, record, preds = self._second_stage(
        name="weight_balancing", lr=1e-9, max_norm_position=0.3)
    feats, _, head = _stage1(run, state, self.dataset.test)
    norms = np.linalg.norm(head["kernel"].astype(np.float64), axis=0)
    threshold = norms.min() + 0.3 * (norms.max() - norms.min())
    self.assertAlmostEqual(record["max_norm_threshold"], threshold, places=5)
    scale = np.minimum(1.0, threshold / norms)
    expected = feats @ (head["kernel"] * scale) + head["bias"]
    np.testing.assert_allclose(preds["logits"], expected, rtol=1e-4,
                               atol=1e-4)

  def test_disalign_calibrates_the_frozen_logits(self):
    run, state, _, preds = self._second_stage(name="disalign", lr=1e-9)
    _, logits, _ = _stage1(run, state, self.dataset.test)
    # Near init (scale 1, bias 0) z' = (1 + sigma(x)) z: one factor per row,
    # in [1, 2].
    ratio = preds["logits"] / logits
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones((1, 4)),
                               rtol=1e-4)
    self.assertTrue(np.all((ratio > 1 - 1e-3) & (ratio < 2 + 1e-3)))

  def test_disalign_trains(self):
    _, _, record, _ = self._second_stage(name="disalign", num_epochs=10,
                                         lr=0.05, sampler="instance")
    self.assertTrue(np.isfinite(record["train_loss"]))
    self.assertTrue(np.isfinite(record["test"]["balanced"]))

  def test_mislas_keeps_the_classifier(self):
    run, state, record, preds = self._second_stage(name="mislas", lr=1e-9)
    _, logits, _ = _stage1(run, state, self.dataset.test)
    np.testing.assert_allclose(preds["logits"], logits, rtol=1e-4, atol=1e-5)
    self.assertTrue(np.isfinite(record["train_loss"]))

  def test_no_val_split(self):
    run, state = _run(_vector_dataset(val=False), steps=0)
    _set_stage2(run, name="crt", num_epochs=1)
    session = _Session()
    (record,) = decouple.run_second_stage(run, state, session)
    self.assertNotIn("val", record)
    self.assertIn("test", record)


class EngineTest(absltest.TestCase):

  def test_train_and_evaluate_reports_the_second_stage(self):
    config = train.default_config()
    config.model.name = "mlp"
    config.batch_size = 8
    config.eval_batch_size = 16
    config.num_epochs = 1
    config.log_every_steps = 1
    config.stage2.update(dict(name="weight_balancing", num_epochs=1,
                              batch_size=8, features="cached", lr=0.01,
                              sampler="instance"))
    workdir = testdata.make_tempdir(self)
    dataset = _vector_dataset()
    result = train.train_and_evaluate(config, workdir, dataset=dataset)
    final = result["final"]
    self.assertEqual(final["stage"], "stage2")
    self.assertEqual(final["method"], "weight_balancing")
    with open(os.path.join(workdir, "history.jsonl")) as f:
      history = [json.loads(line) for line in f]
    self.assertEqual([r.get("stage", "train") for r in history],
                     ["train", "stage2"])
    with np.load(os.path.join(workdir, "predictions.npz")) as npz:
      np.testing.assert_array_equal(npz["label"], dataset.test.labels)
      np.testing.assert_allclose(
          final["test"]["top1"], np.mean(npz["prediction"] == npz["label"]),
          rtol=1e-6)


class ShiftBatchNormTest(absltest.TestCase):

  def test_augmented_features_and_shift_bn(self):
    dataset = _image_dataset()
    run, state = _run(dataset, model="mnist_cnn", steps=0)
    out = {}
    for shift_bn in (False, True):
      _set_stage2(run, name="disalign", features="augmented",
                  shift_bn=shift_bn, lr=1e-9, num_epochs=1)
      session = _Session()
      decouple.run_second_stage(run, state, session)
      out[shift_bn] = session.predictions["logits"]
    _, logits, _ = _stage1(run, state, dataset.test)
    # Frozen statistics: the calibrated stage-1 logits (one factor a row).
    ratio = out[False] / logits
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones((1, 4)),
                               rtol=1e-3)
    # Shift learning: the running statistics moved, so did the features.
    self.assertGreater(np.max(np.abs(out[True] - out[False])), 1e-3)


if __name__ == "__main__":
  absltest.main()
