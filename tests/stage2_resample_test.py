"""Tests of the second stage's re-balancing of cached features.

`stage2.resample` (under / over / smote / adasyn) and `stage2.feature_aug`
(head-class variation) re-balance the cached training features before the
classifier re-trains; the runs here are tiny cRT runs on in-memory feature
vectors of overlapping classes (with helpers of second_stage_test), checked
by the class counts the record reports against the counts asked for,
computed here.
"""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data
from ltjax import decouple
from ltjax import train
import second_stage_test as base
import testdata

COUNTS = np.array(base.COUNTS)  # (24, 10, 5, 3)


def _overlapping_dataset(seed=0):
  """Long-tailed feature vectors (D = 6) of overlapping classes.

  (ADASYN needs examples with neighbours of other classes.)
  """
  rng = np.random.default_rng(seed)

  def split(counts):
    y = np.repeat(np.arange(4), counts)
    return (rng.normal(size=(len(y), 6)) + 0.5 * y[:, None]).astype(
        np.float32), y

  return data.from_arrays(split(COUNTS), test=split((6, 6, 6, 6)))


def _stage2(**fields):
  stage2 = decouple.default_stage2_config()
  stage2.update(dict(name="crt", num_epochs=2, batch_size=8,
                     features="cached", sampler="instance"))
  stage2.update(fields)
  return stage2


class ConfigTest(parameterized.TestCase):

  def test_defaults_are_off(self):
    stage2 = decouple.default_stage2_config()
    self.assertEqual(stage2.resample, "none")
    self.assertEqual(stage2.feature_aug, "none")

  @parameterized.parameters(
      (dict(resample="tomek"), "config.stage2.resample"),
      (dict(feature_aug="rsg"), "config.stage2.feature_aug"),
      (dict(resample="smote", features="augmented"),
       "config.stage2.resample: .*features='cached'"),
      (dict(feature_aug="head_variation", features="augmented"),
       "config.stage2.feature_aug: .*features='cached'"),
      (dict(resample="smote", feature_aug="head_variation"),
       "config.stage2.feature_aug: choose one"),
      (dict(resample_k_neighbors=0), "config.stage2.resample_k_neighbors"),
      (dict(resample_level=-1), "config.stage2.resample_level"),
      (dict(feature_aug_strength=-0.5), "config.stage2.feature_aug_strength"),
      (dict(feature_aug_head_threshold=-1),
       "config.stage2.feature_aug_head_threshold"),
      (dict(feature_aug_base="median"), "config.stage2.feature_aug_base"),
  )
  def test_errors_name_the_field(self, fields, message):
    config = train.default_config()
    config.stage2 = _stage2(**fields)
    with self.assertRaisesRegex(ValueError, message):
      decouple.validate_stage2_config(config)

  def test_valid(self):
    for fields in (dict(resample="smote"), dict(resample="under"),
                   dict(feature_aug="head_variation")):
      config = train.default_config()
      config.stage2 = _stage2(**fields)
      decouple.validate_stage2_config(config)


class RebalancedSecondStageTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dataset = _overlapping_dataset()
    cls.stage1 = base._run(cls.dataset)  # pylint: disable=protected-access

  def _record(self, **fields):
    run, state = self.stage1
    run.config.stage2 = _stage2(**fields)
    decouple.validate_stage2_config(run.config)
    session = base._Session()  # pylint: disable=protected-access
    (record,) = decouple.run_second_stage(run, state, session)
    self.assertEqual(record["stage"], "stage2")
    self.assertEqual(record["method"], "crt")
    # Whatever the re-balanced size, the record counts whole epochs.
    self.assertAlmostEqual(record["epoch"], 2 / run.steps_per_epoch + 2)
    self.assertTrue(np.isfinite(record["train_loss"]))
    self.assertIn("test", record)
    return record

  @parameterized.parameters(
      (dict(resample="smote", resample_k_neighbors=2),
       [COUNTS.max()] * 4),
      (dict(resample="over"), [COUNTS.max()] * 4),
      (dict(resample="under"), [COUNTS.min()] * 4),
      (dict(resample="smote", resample_level=12),
       np.maximum(COUNTS, 12)),
      (dict(resample="under", resample_level=6), np.minimum(COUNTS, 6)),
      # Classes 0 and 1 (> 9 examples) are the head: left as they are.
      (dict(feature_aug="head_variation", feature_aug_head_threshold=9),
       np.where(COUNTS > 9, COUNTS, COUNTS.max())),
      (dict(feature_aug="head_variation", feature_aug_head_threshold=9,
            feature_aug_base="mean", feature_aug_strength=0.5,
            resample_level=8), np.where(COUNTS > 9, COUNTS,
                                        np.maximum(COUNTS, 8))),
  )
  def test_class_counts_are_the_targets(self, fields, expected):
    record = self._record(**fields)
    self.assertEqual(record["stage2_class_counts"], [int(n) for n in
                                                     expected])

  def test_adasyn(self):
    record = self._record(resample="adasyn", resample_k_neighbors=2)
    counts = np.array(record["stage2_class_counts"])
    self.assertEqual(counts[0], COUNTS[0])
    # ADASYN rounds per example: each class within n_c of the target.
    self.assertTrue(np.all(counts >= COUNTS))
    self.assertTrue(np.all(np.abs(counts - COUNTS.max()) <= COUNTS))

  def test_no_head_class_is_an_error_naming_the_field(self):
    with self.assertRaisesRegex(
        ValueError, "config.stage2.feature_aug_head_threshold: no class"):
      self._record(feature_aug="head_variation")  # threshold 100

  def test_no_rebalancing_reports_no_counts(self):
    self.assertNotIn("stage2_class_counts", self._record())


class EngineTest(absltest.TestCase):

  def test_smote_crt_end_to_end(self):
    config = train.default_config()
    config.update(dict(batch_size=8, eval_batch_size=16, num_epochs=1,
                       log_every_steps=1))
    config.model.name = "mlp"
    config.stage2 = _stage2(num_epochs=1, resample="smote",
                            resample_k_neighbors=2)
    workdir = testdata.make_tempdir(self)
    result = train.train_and_evaluate(config, workdir,
                                      dataset=_overlapping_dataset())
    final = result["final"]
    self.assertEqual(final["stage"], "stage2")
    self.assertEqual(final["stage2_class_counts"], [int(COUNTS.max())] * 4)
    with open(os.path.join(workdir, "history.jsonl")) as f:
      history = [json.loads(line) for line in f]
    self.assertEqual(history[-1]["stage2_class_counts"], [24] * 4)

  def test_stage2_on_another_runs_backbone(self):
    def config(**stage2):
      c = train.default_config()
      c.update(dict(batch_size=8, eval_batch_size=16, num_epochs=1,
                    log_every_steps=1))
      c.model.name = "mlp"
      c.data.name = "npz"  # what from_arrays datasets are called
      c.stage2 = _stage2(num_epochs=1, **stage2)
      return c
    dataset = _overlapping_dataset()
    backbone = testdata.make_tempdir(self)
    stage1 = config()
    stage1.stage2.name = "none"
    train.train_and_evaluate(stage1, backbone, dataset=dataset)
    workdir = testdata.make_tempdir(self)
    result = train.train_and_evaluate(
        config(resample="smote", resample_k_neighbors=2,
               backbone_workdir=backbone), workdir, dataset=dataset)
    self.assertEqual(result["final"]["stage"], "stage2")
    self.assertEqual(result["run"]["steps_this_run"], 0)
    with open(os.path.join(workdir, "history.jsonl")) as f:
      stages = [json.loads(line).get("stage", "train") for line in f]
    self.assertEqual(stages, ["backbone", "stage2"])
    # The backbone's stage-1 evaluation is the finished run's.
    with open(os.path.join(backbone, "metrics.json")) as f:
      finished = json.load(f)["final"]["test"]
    with open(os.path.join(workdir, "history.jsonl")) as f:
      first = json.loads(f.readline())["test"]
    self.assertEqual(first["top1"], finished["top1"])
    with self.assertRaisesRegex(ValueError, "config.stage2.backbone_workdir"):
      train.train_and_evaluate(
          config(backbone_workdir=workdir + "_missing"),
          testdata.make_tempdir(self), dataset=dataset)


if __name__ == "__main__":
  absltest.main()
