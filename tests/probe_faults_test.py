"""Faults found by the 77-case probe of 2026-12-07 (issue 32), group A.

A corrupt checkpoint that orbax reads without complaint, a run whose
history or config.json was deleted, unfinished runs used as the input of
another, settings that cannot be combined, hangs before the schedule, a
full disk. (The data-input faults are in input_faults_test.py.)
"""

import glob
import json
import os

from absl.testing import absltest

from ltjax import recipes
from ltjax import train
from ltjax.train import _checkpoint
import testdata
from train_loop_test import shrink


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
