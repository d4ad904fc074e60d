"""Tests of the one checkpoint path: `Checkpointer` and `read_checkpoint`."""

import glob
import os

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from ltjax import train
import testdata


def _state(scale=1.0):
  return {"step": jnp.asarray(3, jnp.int32),
          "params": {"w": jnp.full((4, 3), scale, jnp.float32),
                     "b": jnp.zeros((3,), jnp.float32)}}


def _corrupt(directory, step):
  for path in glob.glob(os.path.join(directory, str(step), "**", "*"),
                        recursive=True):
    if os.path.isfile(path) and os.sep + "d" + os.sep in path:
      with open(path, "wb") as f:
        f.write(b"corrupt")


def _save(workdir, steps, keep=10):
  directory = os.path.join(workdir, "checkpoints")
  checkpointer = train.Checkpointer(directory, every_steps=1, keep=keep)
  for step in steps:
    checkpointer.maybe_save(step, _state(float(step)))
  checkpointer.close()
  return directory


class CheckpointerCadenceTest(absltest.TestCase):

  def test_saves_on_multiples_of_every_steps_or_when_forced(self):
    directory = testdata.make_tempdir(self)
    checkpointer = train.Checkpointer(directory, every_steps=3, keep=10)
    # The cadence is orbax's own save-decision policy, not step arithmetic.
    policy = checkpointer._manager._options.save_decision_policy  # pylint: disable=protected-access
    self.assertIsInstance(policy, ocp.checkpoint_managers.FixedIntervalPolicy)
    self.assertEqual(policy.interval, 3)
    saved = [step for step in range(1, 8)
             if checkpointer.maybe_save(step, _state())]
    self.assertEqual(saved, [3, 6])
    self.assertTrue(checkpointer.maybe_save(7, _state(), force=True))
    self.assertFalse(checkpointer.maybe_save(7, _state(), force=True))
    checkpointer.close()
    self.assertEqual(sorted(os.listdir(directory), key=int), ["3", "6", "7"])

  def test_keep_rotates_old_checkpoints(self):
    directory = testdata.make_tempdir(self)
    checkpointer = train.Checkpointer(directory, every_steps=2, keep=2)
    for step in range(1, 9):
      checkpointer.maybe_save(step, _state())
    checkpointer.close()
    self.assertEqual(sorted(os.listdir(directory), key=int), ["6", "8"])


class ReadCheckpointTest(absltest.TestCase):

  def test_reads_the_newest_as_saved_on_one_device(self):
    workdir = testdata.make_tempdir(self)
    _save(workdir, (1, 2))
    tree, step = train.read_checkpoint(workdir)
    self.assertEqual(step, 2)
    np.testing.assert_array_equal(tree["params"]["w"], np.full((4, 3), 2.0))
    self.assertEqual(tree["params"]["w"].sharding.device_set,
                     {jax.local_devices()[0]})

  def test_restores_into_like(self):
    workdir = testdata.make_tempdir(self)
    _save(workdir, (4,))
    state, step = train.read_checkpoint(workdir, _state(0.0))
    self.assertEqual(step, 4)
    np.testing.assert_array_equal(state["params"]["w"], np.full((4, 3), 4.0))

  def test_unreadable_newest_is_skipped_and_left_in_place(self):
    workdir = testdata.make_tempdir(self)
    directory = _save(workdir, (1, 2))
    _corrupt(directory, 2)
    before = sorted(os.listdir(directory))
    with self.assertLogs("absl", level="WARNING") as logs:
      state, step = train.read_checkpoint(workdir, _state(0.0))
    self.assertEqual(step, 1)
    np.testing.assert_array_equal(state["params"]["w"], np.ones((4, 3)))
    self.assertIn("step 2", "\n".join(logs.output))
    self.assertEqual(sorted(os.listdir(directory)), before)
    _corrupt(directory, 1)
    with self.assertRaisesRegex(ValueError, f"no readable checkpoint in "
                                f"{directory}: steps \\[1, 2\\]"):
      train.read_checkpoint(workdir)
    self.assertEqual(sorted(os.listdir(directory)), before)

  def test_another_tree_is_a_mismatch_with_the_saved_shapes(self):
    workdir = testdata.make_tempdir(self)
    _save(workdir, (5,))
    other = {"step": jnp.asarray(0, jnp.int32),
             "params": {"w": jnp.zeros((4, 7)), "b": jnp.zeros((7,))}}
    with self.assertRaisesRegex(train.CheckpointMismatchError,
                                r"step 5.*params/w: checkpoint \(4, 3\)") as cm:
      train.read_checkpoint(workdir, other)
    self.assertEqual(cm.exception.step, 5)
    self.assertEqual(cm.exception.saved_shapes["params"],
                     {"w": (4, 3), "b": (3,)})

  def test_no_checkpoint_names_the_folder(self):
    workdir = testdata.make_tempdir(self)
    directory = os.path.join(workdir, "checkpoints")
    with self.assertRaisesRegex(FileNotFoundError, f"no checkpoint in "
                                f"{directory} \\(no such folder\\)"):
      train.read_checkpoint(workdir)
    self.assertFalse(os.path.exists(directory))
    os.makedirs(directory)
    with self.assertRaisesRegex(FileNotFoundError,
                                f"no checkpoint in {directory}:"):
      train.read_checkpoint(workdir)
    self.assertEqual(os.listdir(directory), [])


if __name__ == "__main__":
  absltest.main()
