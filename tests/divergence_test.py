"""Divergence: a non-finite loss stops the run; nothing non-finite is kept.

A run whose loss becomes NaN stops with `DivergenceError` (and the command
line with a non-zero exit), its good checkpoints are kept and none holding a
NaN is written, no metrics.json reports a number of the diverged model, and
grad_norm is in TensorBoard. Decoupling refuses a non-finite checkpoint and
a model whose features or logits overflow.
"""

import dataclasses
import glob
import os
import pathlib
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import decouple
from ltjax import train
from ltjax.train import _engine
import testdata
import train_loop_test
import workdir_safety_test

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _finite_checkpoints(workdir):
  """{step: whether every float leaf is finite} of every checkpoint."""
  out = {}
  checkpointer = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                    every_steps=1, keep=10)
  for step in checkpointer._manager.all_steps():  # pylint: disable=protected-access
    state = checkpointer._manager.restore(step)  # pylint: disable=protected-access
    out[step] = all(np.all(np.isfinite(np.asarray(x)))
                    for x in jax.tree.leaves(state)
                    if np.issubdtype(np.asarray(x).dtype, np.floating))
  checkpointer.close()
  return out


def _poisoned_build_run(at_step):
  """build_run whose train step makes the state and loss NaN at `at_step`."""
  build_run = _engine.build_run

  def build(config, dataset, mesh=None):
    run = build_run(config, dataset, mesh)
    step_fn = run.train_step

    def train_step(state, batch):
      state, metrics = step_fn(state, batch)
      if int(state.step) == at_step:
        state = state.replace(params=jax.tree.map(lambda x: x * jnp.nan,
                                                  state.params))
        metrics = {**metrics, "loss": metrics["loss"] * jnp.nan}
      return state, metrics

    chunk_fn = run.train_chunk

    def train_chunk(state, plans, count):
      # The device path (the default for in-memory data): one step a call
      # on the CPU.
      state, metrics = chunk_fn(state, plans, count)
      if int(state.step) == at_step:
        state = state.replace(params=jax.tree.map(lambda x: x * jnp.nan,
                                                  state.params))
        metrics = {**metrics, "loss": metrics["loss"] * jnp.nan}
      return state, metrics

    return dataclasses.replace(
        run, train_step=train_step,
        train_chunk=None if chunk_fn is None else train_chunk)

  return build


class DivergenceTest(testdata.TinyBenchmarksTestCase):

  def test_stops_keeps_good_checkpoints_and_writes_no_result(self):
    workdir = testdata.make_tempdir(self)
    # Checkpoints every 2 steps, keep 2; the loss is checked every 4 steps
    # (log) and before each save: the NaN of step 5 is caught before the
    # save of step 6.
    config = workdir_safety_test.tiny_config(
        self.paths, max_steps=8, log_every_steps=4, keep_checkpoints=2)
    with mock.patch.object(_engine, "build_run", _poisoned_build_run(5)):
      with self.assertRaises(train.DivergenceError) as caught:
        train.train_and_evaluate(config, workdir)
    message = str(caught.exception)
    self.assertIn("step 5", message)
    self.assertIn("loss nan", message)
    self.assertIn("grad_norm", message)
    self.assertIn("config.optim.lr", message)
    self.assertIn("step 4", message)  # the last good checkpoint, kept
    self.assertEqual(_finite_checkpoints(workdir), {2: True, 4: True})
    self.assertFalse(os.path.exists(os.path.join(workdir, "metrics.json")))
    scalars = train_loop_test._read_tensorboard(os.path.join(workdir, "tb"))  # pylint: disable=protected-access
    self.assertEqual([s for s, _ in scalars["train/grad_norm"]], [4])
    self.assertTrue(np.isfinite(scalars["train/grad_norm"][0][1]))
    # The lock is released: the workdir can be used again.
    train._workdir.WorkdirLock(workdir).acquire().release()  # pylint: disable=protected-access

  def test_command_line_exits_non_zero_then_overwrite(self):
    workdir = testdata.make_tempdir(self)
    env = testdata.subprocess_env()
    command = [sys.executable, "-m", "experiments.main",
               "--config=experiments/configs/cifar10_lt/ce.py:1",
               f"--config.data.path={self.paths['cifar10_lt']}",
               "--config.data.imbalance_ratio=4",
               "--config.data.val_per_class=2", "--config.model.name=mnist_cnn",
               "--config.batch_size=16", "--config.eval_batch_size=16",
               "--config.max_steps=4", "--config.checkpoint_every_steps=2",
               "--config.log_every_steps=1", f"--workdir={workdir}"]
    # The reproduction: a learning rate of 1000 (here 1e4, so the
    # tiny model diverges within 4 steps).
    proc = subprocess.run(command + ["--config.optim.lr=1e4"], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    # One line, no traceback, exit code 1 (a divergence is the run's
    # outcome, not an input error).
    self.assertEqual(proc.returncode, 1, out[-3000:])
    self.assertIn("ltjax-train: error: Training diverged at step", out)
    self.assertNotIn("Traceback", out)
    self.assertTrue(all(_finite_checkpoints(workdir).values()))
    self.assertFalse(os.path.exists(os.path.join(workdir, "metrics.json")))
    proc = subprocess.run(command + ["--config.optim.lr=0.01"], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=600)
    self.assertEqual(proc.returncode, 2)
    self.assertIn("optim.lr: 10000.0 -> 0.01", proc.stdout + proc.stderr)
    proc = subprocess.run(command + ["--config.optim.lr=0.01", "--overwrite"],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    self.assertEqual(proc.returncode, 0, (proc.stdout + proc.stderr)[-3000:])
    self.assertTrue(os.path.exists(os.path.join(workdir, "metrics.json")))
    (aside,) = glob.glob(os.path.normpath(workdir) + ".replaced-*")
    self.addCleanup(lambda: __import__("shutil").rmtree(aside))
    self.assertTrue(os.path.exists(os.path.join(aside, "config.json")))


class DecoupleRefusesNonFiniteTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls.paths = testdata.write_tiny_benchmarks(cls._tmp.name)
    cls.stage1 = os.path.join(cls._tmp.name, "stage1")
    train.train_and_evaluate(
        workdir_safety_test.tiny_config(cls.paths, max_steps=2), cls.stage1)

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def _with_newest(self, edit):
    """A copy of the stage-1 workdir whose newest checkpoint is `edit`ed."""
    workdir = os.path.join(testdata.make_tempdir(self), "stage1")
    __import__("shutil").copytree(self.stage1, workdir)
    checkpointer = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                      every_steps=1, keep=10)
    state = checkpointer._manager.restore(2)  # pylint: disable=protected-access
    # Written past the Checkpointer's own finiteness check, as an older
    # ltjax (or another tool) would have.
    checkpointer._manager.save(  # pylint: disable=protected-access
        3, args=__import__("orbax.checkpoint").checkpoint.args.StandardSave(
            edit(state)))
    checkpointer.close()
    return workdir

  def _config(self):
    config = decouple.default_config()
    config.methods = ("joint",)
    config.eval_batch_size = 16
    return config

  def test_non_finite_checkpoint(self):
    def nan_head(state):
      head = state["params"]["head"]
      head["bias"] = head["bias"] * np.nan
      return state

    workdir = self._with_newest(nan_head)
    with self.assertRaisesRegex(ValueError, r"step 3 .*non-finite parameters "
                                r"\(.*head.*bias.*diverged"):
      decouple.decouple_and_evaluate(self._config(), workdir)
    self.assertFalse(os.path.exists(os.path.join(workdir, "decouple.json")))

  def test_overflowing_logits(self):
    def huge_head(state):
      kernel = state["params"]["head"]["kernel"]
      state["params"]["head"]["kernel"] = np.full_like(kernel, 3e38)
      return state

    workdir = self._with_newest(huge_head)
    with self.assertRaisesRegex(ValueError, "non-finite logits for"):
      decouple.decouple_and_evaluate(self._config(), workdir)
    self.assertFalse(os.path.exists(os.path.join(workdir, "decouple.json")))


if __name__ == "__main__":
  absltest.main()
