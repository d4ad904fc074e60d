"""Faults found by the 77-case probe of 2026-12-07 (issue 32), group A.

A corrupt checkpoint that orbax reads without complaint, a run whose
history or config.json was deleted, unfinished runs used as the input of
another, settings that cannot be combined, hangs before the schedule, a
full disk. (The data-input faults are in input_faults_test.py.)
"""

import errno
import glob
import io
import json
import os
import tempfile
from unittest import mock

from absl.testing import absltest

from ltjax import recipes
from ltjax import train
from ltjax.train import _checkpoint
from ltjax.train import _report
import testdata
from train_loop_test import shrink
from watchdog_test import run_python


def _largest_file(folder):
  files = [f for f in glob.glob(os.path.join(folder, "**"), recursive=True)
           if os.path.isfile(f)]
  return max(files, key=os.path.getsize)


class CorruptCheckpointTest(testdata.TinyBenchmarksTestCase):
  """D1: a checkpoint whose bytes changed after the save is not restored."""

  def config(self, max_steps):
    config = shrink(recipes.build("mnist_lt", "ce", "1"), self.paths)
    config.max_steps = max_steps
    config.checkpoint_every_steps = 2
    config.keep_checkpoints = 5
    return config

  def test_digest_recorded_at_save_matches_the_restored_tree(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(4), workdir)
    digests = {}
    for step in (2, 4):
      with open(os.path.join(workdir, "checkpoints", str(step),
                             "_CHECKPOINT_METADATA")) as f:
        digests[step] = json.load(f)["custom_metadata"][
            _checkpoint.DIGEST_KEY]
    tree, step = train.read_checkpoint(workdir)
    self.assertEqual(step, 4)
    self.assertEqual(_checkpoint.state_digest(tree), digests[4])
    self.assertNotEqual(digests[2], digests[4])

  def test_flipped_bytes_set_the_checkpoint_aside_and_resume_before(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(4), workdir)
    checkpoints = os.path.join(workdir, "checkpoints")
    # The largest file of step 4 holds the arrays: flip bytes in its middle
    # (a disk or copy fault) without changing its size.
    data = _largest_file(os.path.join(checkpoints, "4"))
    with open(data, "r+b") as f:
      f.seek(os.path.getsize(data) // 2)
      chunk = f.read(64)
      f.seek(os.path.getsize(data) // 2)
      f.write(bytes(b ^ 0xFF for b in chunk))
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      tree, step = train.read_checkpoint(workdir)
    self.assertEqual(step, 2)  # step 4 skipped, left in place
    self.assertTrue(os.path.isdir(os.path.join(checkpoints, "4")))
    self.assertIn("step 4", "\n".join(logs.output))
    # The run itself: step 4 moves aside (kept) and training resumes from
    # step 2, then saves step 4 again.
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      result = train.train_and_evaluate(self.config(6), workdir)
    said = "\n".join(logs.output)
    self.assertIn("Checkpoint at step 4", said)
    self.assertTrue(os.path.isdir(os.path.join(checkpoints, "4.unreadable")))
    self.assertEqual(result["final"]["step"], 6)
    del tree


class LostRunRecordsTest(testdata.TinyBenchmarksTestCase):
  """D2, D3, D5: a resume never runs blind to what the run already did."""

  def config(self, max_steps):
    # 8 steps per epoch on the tiny MNIST-LT: evaluations at 8, 16, ...
    config = shrink(recipes.build("mnist_lt", "ce", "4"), self.paths)
    config.max_steps = max_steps
    config.checkpoint_every_steps = 4
    return config

  def test_finished_run_without_history_is_refused_and_keeps_metrics(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(16), workdir)
    metrics = os.path.join(workdir, "metrics.json")
    with open(metrics, "rb") as f:
      before = f.read()
    os.remove(os.path.join(workdir, "history.jsonl"))
    with self.assertRaisesRegex(
        train.ConfigMismatchError,
        r"history\.jsonl lacks the evaluations at steps 8, 16, made before "
        r"the newest checkpoint \(step 16\).*--overwrite"):
      train.train_and_evaluate(self.config(16), workdir)
    with open(metrics, "rb") as f:
      self.assertEqual(f.read(), before)
    # --overwrite moves the run aside and starts again.
    result = train.train_and_evaluate(self.config(16), workdir,
                                      overwrite=True)
    self.assertEqual([r["step"] for r in _report.read_history(workdir)],
                     [8, 16])
    self.assertEqual(result["final"]["step"], 16)
    self.assertLen(glob.glob(workdir.rstrip("/") + ".replaced-*"), 1)

  def test_mid_run_without_its_evaluations_is_refused(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(12), workdir)  # evaluated at 8, 12
    os.remove(os.path.join(workdir, "history.jsonl"))
    # Extended to 24 steps: the evaluation at step 8 (an epoch end) is
    # missing; the one at 12 (where the shorter run stopped) is not needed.
    with self.assertRaisesRegex(train.ConfigMismatchError,
                                r"lacks the evaluations at steps 8, made"):
      train.train_and_evaluate(self.config(24), workdir)

  def test_resume_with_its_history_still_works(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(12), workdir)
    result = train.train_and_evaluate(self.config(24), workdir)
    self.assertEqual([r["step"] for r in _report.read_history(workdir)],
                     [8, 12, 16, 24])
    self.assertEqual(result["final"]["step"], 24)

  def test_run_without_config_json_is_refused(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(4), workdir)
    os.remove(os.path.join(workdir, "config.json"))
    other = self.config(4)
    other.optim.lr = 0.5  # would be accepted silently before
    with self.assertRaisesRegex(
        train.ConfigMismatchError, r"holds a run \(1 checkpoint\(s\), "
        r"history\.jsonl, metrics\.json\) but no config\.json"):
      train.train_and_evaluate(other, workdir)
    self.assertTrue(os.path.exists(os.path.join(workdir, "metrics.json")))


class OtherDataAtThePathTest(testdata.TinyBenchmarksTestCase):
  """D4: data.path pointed at other data of the same shape is refused."""

  def test_same_shape_other_images_at_a_new_path(self):
    config = shrink(recipes.build("mnist_lt", "ce", "1"), self.paths)
    config.max_steps = 4
    workdir = self.workdir()
    train.train_and_evaluate(config, workdir)
    # Another MNIST of the same sizes and labels, other pixels.
    other = testdata.write_tiny_benchmarks(self.workdir())["mnist_lt"]
    images = os.path.join(other, "train-images-idx3-ubyte.gz")
    testdata.write_idx(images, testdata.random_images(
        240, 28, 28, 1, seed=99)[..., 0])
    config.data.path = other
    config.max_steps = 8
    with self.assertRaisesRegex(train.DataMismatchError,
                                r"holds a run made with other data"):
      train.train_and_evaluate(config, workdir)
    # The same data copied to another path resumes.
    config.data.path = testdata.write_tiny_benchmarks(
        self.workdir())["mnist_lt"]
    self.assertEqual(
        train.train_and_evaluate(config, workdir)["final"]["step"], 8)


class AddedDataFieldTest(absltest.TestCase):
  """A CSV run saved before `data.encoding` existed resumes."""

  def test_missing_encoding_compares_with_the_csv_default(self):
    from ltjax.train import _workdir  # pylint: disable=g-import-not-at-top
    new = recipes.build("csv_lt", "ce", "1").to_dict()
    old = json.loads(json.dumps(new))
    del old["data"]["encoding"]
    defaults = train.default_config().to_dict()
    self.assertNotIn("encoding", defaults["data"])
    self.assertEqual(_workdir.config_differences(old, new,
                                                 defaults=defaults), [])
    new["data"]["encoding"] = "latin-1"
    self.assertEqual(_workdir.config_differences(old, new, defaults=defaults),
                     ["data.encoding: 'utf-8' -> 'latin-1'"])


class UnfinishedInputRunTest(testdata.TinyBenchmarksTestCase):
  """D14: an unfinished run is not taken as the input of another run."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # A run killed mid-schedule: its checkpoints, no metrics.json.
    cls.unfinished = os.path.join(cls._tmp.name, "unfinished")
    config = shrink(recipes.build("mnist_lt", "ce", "1"), cls.paths)
    config.max_steps = 4
    config.checkpoint_every_steps = 2
    train.train_and_evaluate(config, cls.unfinished)
    os.remove(os.path.join(cls.unfinished, "metrics.json"))

  def student(self, recipe):
    config = shrink(recipes.build("mnist_lt", recipe, "1"), self.paths)
    config.max_steps = 2
    return config

  def test_teacher(self):
    config = self.student("ce")
    config.teacher.workdir = self.unfinished
    with self.assertRaisesRegex(
        ValueError, r"config\.teacher\.workdir: .* is not a finished run "
        r"\(no metrics\.json; its newest checkpoint is at step 4\).*"
        r"config\.allow_unfinished=True"):
      train.train_and_evaluate(config, self.workdir())
    config.allow_unfinished = True
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      result = train.train_and_evaluate(config, self.workdir())
    self.assertIn("using its newest checkpoint, step 4", "\n".join(logs.output))
    self.assertEqual(result["final"]["step"], 2)

  def test_stage2_backbone(self):
    config = self.student("smote_crt")
    config.stage2.backbone_workdir = self.unfinished
    with self.assertRaisesRegex(
        ValueError, r"config\.stage2\.backbone_workdir: .* is not a finished "
        r"run"):
      train.train_and_evaluate(config, self.workdir())

  def test_decouple_input(self):
    from ltjax import decouple  # pylint: disable=g-import-not-at-top
    config = decouple.default_config()
    with self.assertRaisesRegex(ValueError, r"--checkpoint: .* is not a "
                                r"finished run"):
      decouple.decouple_and_evaluate(config, self.unfinished,
                                     self.workdir())

  def test_a_run_without_checkpoints_cannot_be_allowed(self):
    with self.assertRaisesRegex(ValueError, r"it has no checkpoint\)\. Finish it first"):
      train.require_finished(self.workdir(), "config.teacher.workdir",
                             allow_unfinished=True)


class HangBeforeTheScheduleTest(absltest.TestCase):
  """D15: a read that blocks at start-up ends with stacks, not silence."""

  def test_blocked_data_loading_is_named_with_its_path(self):
    with tempfile.TemporaryDirectory() as tmp:
      paths = testdata.write_tiny_benchmarks(tmp)
      result, seconds = run_python(f"""
          import threading
          from ltjax import recipes, runtime, train
          from ltjax.train import _classification

          def read_that_never_returns(data_config):
            threading.Event().wait()  # a FIFO, a stalled NFS mount

          _classification.ClassificationTask.load_data = staticmethod(
              read_that_never_returns)
          runtime.set_watchdog_seconds(2)
          config = recipes.build("mnist_lt", "ce", "1")
          config.data.path = {paths["mnist_lt"]!r}
          train.train_and_evaluate(config, {os.path.join(tmp, "run")!r})
          """)
    self.assertEqual(result.returncode, 75, result.stderr[-3000:])
    self.assertIn(f"while waiting for loading the data (config.data.path="
                  f"{paths['mnist_lt']!r})", result.stderr)
    self.assertIn("a FIFO or other special file among the data files",
                  result.stderr)
    self.assertIn("in read_that_never_returns", result.stderr)
    self.assertLess(seconds, 120)


class DiskFullTest(absltest.TestCase):
  """D15: a full disk is one line with the path and its free space."""

  def run_guarded(self, error):
    from ltjax.cli import _errors  # pylint: disable=g-import-not-at-top

    def run():
      raise error

    stderr = io.StringIO()
    with mock.patch("sys.stderr", stderr), \
        mock.patch("sys.argv", ["ltjax-train", "--workdir=/tmp/run"]):
      with self.assertRaises(SystemExit) as stop:
        _errors.guard(run, "ltjax-train")
    return stop.exception.code, stderr.getvalue()

  def test_enospc_deep_in_the_chain(self):
    full = OSError(errno.ENOSPC, "No space left on device",
                   "/tmp/run/checkpoints/1000/default/d/0")
    try:
      try:
        raise full
      except OSError as cause:
        raise RuntimeError("orbax: the save failed") from cause
    except RuntimeError as wrapped:
      code, said = self.run_guarded(wrapped)
    self.assertEqual(code, 2)
    self.assertLen(said.strip().splitlines(), 1)
    self.assertRegex(said, r"^ltjax-train: error: the disk is full at "
                     r"/tmp/run/checkpoints/1000/default/d/0 \(\d+\.\d\d "
                     r"GiB free of \d+\.\d GiB\)\..*resumes")

  def test_a_wrapped_message_names_the_workdir(self):
    # tensorstore's errors carry the OS text, not an OSError.
    code, said = self.run_guarded(ValueError(
        "RESOURCE_EXHAUSTED: Error writing local file: No space left on "
        "device [source locations='tensorstore/...']"))
    self.assertEqual(code, 2)
    self.assertIn("the disk is full at /tmp/run (", said)
    self.assertNotIn("tensorstore", said)

  def test_quota(self):
    code, said = self.run_guarded(OSError(errno.EDQUOT, "Disk quota exceeded",
                                          "/tmp/run/history.jsonl"))
    self.assertEqual(code, 2)
    self.assertIn("the disk quota is exceeded at /tmp/run/history.jsonl", said)

  def test_other_errors_keep_their_handling(self):
    from ltjax.cli import _errors  # pylint: disable=g-import-not-at-top
    with self.assertRaises(KeyError):  # a bug: its traceback
      _errors.guard(lambda: {}["x"])


class GlmcWithExpertsTest(testdata.TinyBenchmarksTestCase):
  """D13: GLMC and several experts are refused as a combination."""

  def test_glmc_and_ride_is_one_clear_error(self):
    config = shrink(recipes.build("mnist_lt", "glmc", "1"), self.paths)
    ride = recipes.build("mnist_lt", "ride", "1")
    config.model.name = "mnist_cnn_experts"
    config.experts = ride.experts
    with self.assertRaisesRegex(
        ValueError, r"config\.glmc\.enabled: GLMC cannot be combined with "
        r"several experts"):
      train.validate_config(config, check_data=False)


if __name__ == "__main__":
  absltest.main()
