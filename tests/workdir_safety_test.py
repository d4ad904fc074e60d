"""Workdir safety: config mismatch, the lock, checkpoints set aside, history.

A resume under a config that differs in a field that matters is refused (or
moves the old run aside with overwrite=True); only an unreadable checkpoint
is set aside, never a mismatched one, and a set-aside one is never deleted;
a second job on a workdir fails at once naming the holder, and a lock left
by a killed job does not block; history.jsonl is cut back to the restored
step, a torn last line is tolerated and a corrupt line elsewhere named; a
run given a dataset object trains on it; `load_model` restores a run saved
on 8 devices into a process with 1.
"""

import glob
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

from absl import logging
from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import common
from ltjax import data
from ltjax import regression
from ltjax import train
from ltjax.data import _types
from ltjax.regression import _data as regression_data
from ltjax.train import _checkpoint
from ltjax.train import _report
from ltjax.train import _workdir
import regression_data_test
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]


def tiny_config(paths, max_steps=4, **fields):
  config = common.build("cifar10_lt", "ce", "2")
  config.data.path = paths["cifar10_lt"]
  config.data.imbalance_ratio = 4.0
  config.data.val_per_class = 2
  config.model.name = "mnist_cnn"
  config.batch_size = 16
  config.eval_batch_size = 16
  config.log_every_steps = 1
  config.max_steps = max_steps
  config.checkpoint_every_steps = 2
  for name, value in fields.items():
    *parents, leaf = name.split(".")
    target = config
    for part in parents:
      target = target[part]
    target[leaf] = value
  return config


def snapshot(workdir):
  """{relative path: bytes} of every file but the lock."""
  out = {}
  for path in glob.glob(os.path.join(workdir, "**", "*"), recursive=True):
    if os.path.isfile(path) and os.path.basename(path) != "lock":
      with open(path, "rb") as f:
        out[os.path.relpath(path, workdir)] = f.read()
  return out


TinyDataTestCase = testdata.TinyBenchmarksTestCase


class ConfigMismatchTest(TinyDataTestCase):

  def test_refused_and_nothing_touched_then_overwrite_moves_aside(self):
    workdir = self.workdir()
    train.train_and_evaluate(tiny_config(self.paths), workdir)
    before = snapshot(workdir)
    changed = tiny_config(self.paths, max_steps=6, **{
        "optim.lr": 0.5, "model.head": "normalized"})
    with self.assertRaises(train.ConfigMismatchError) as caught:
      train.train_and_evaluate(changed, workdir)
    message = str(caught.exception)
    self.assertIn("optim.lr: 0.1 -> 0.5", message)
    self.assertIn("model.head: 'linear' -> 'normalized'", message)
    self.assertIn("--overwrite", message)
    self.assertNotIn("max_steps", message.split("Fields that may")[0])
    self.assertEqual(snapshot(workdir), before)  # nothing renamed or written

    result = train.train_and_evaluate(changed, workdir, overwrite=True)
    self.assertEqual(result["run"]["steps_this_run"], 6)  # from step 0
    (aside,) = glob.glob(os.path.normpath(workdir) + ".replaced-*")
    self.addCleanup(lambda: __import__("shutil").rmtree(aside))
    self.assertEqual(snapshot(aside), before)  # the old run, intact
    with open(os.path.join(workdir, "config.json")) as f:
      self.assertEqual(json.load(f)["optim"]["lr"], 0.5)

  def test_neutral_fields_resume(self):
    workdir = self.workdir()
    train.train_and_evaluate(tiny_config(self.paths), workdir)
    result = train.train_and_evaluate(
        tiny_config(self.paths, max_steps=6, log_every_steps=3,
                    checkpoint_every_steps=3, eval_batch_size=32,
                    keep_checkpoints=5, **{"data.path": self.paths[
                        "cifar10_lt"] + os.sep}), workdir)
    self.assertEqual(result["run"]["steps_this_run"], 2)

  def test_max_steps_never_changes_the_schedule_so_resumes(self):
    # The schedule's horizon is num_epochs whatever max_steps says (a cosine
    # one too), so a resume may change max_steps under every schedule.
    for schedule in ("cosine", "warmup_step"):
      config = tiny_config(self.paths, max_steps=-1,
                           **{"optim.schedule": schedule})
      short = tiny_config(self.paths, max_steps=3,
                          **{"optim.schedule": schedule})
      steps = np.arange(0, 40, 3)
      np.testing.assert_array_equal(
          train.make_schedule(config, 20)(steps),
          train.make_schedule(short, 20)(steps))
      task = train.get_task(config.task)
      self.assertIn("max_steps",
                    task.resume_neutral(config, _workdir.RESUME_NEUTRAL))

  def test_field_added_to_the_schema_takes_its_default(self):
    saved = {"a": 1, "data": {"path": "/x"}}
    current = {"a": 1, "b": 2, "data": {"path": "/y"}}
    self.assertEqual(_workdir.config_differences(
        saved, current, defaults={"b": 2}), [])
    self.assertEqual(_workdir.config_differences(
        saved, current, defaults={"b": 3}), ["b: 3 -> 2"])


def _state(scale=1.0):
  return {"step": jnp.asarray(3, jnp.int32),
          "params": {"w": jnp.full((4, 3), scale, jnp.float32),
                     "b": jnp.zeros((3,), jnp.float32)}}


class CheckpointerTest(absltest.TestCase):

  def test_structure_mismatch_is_an_error_not_a_fallback(self):
    directory = testdata.make_tempdir(self)
    checkpointer = train.Checkpointer(directory, every_steps=1, keep=3)
    for step in (1, 2):
      checkpointer.maybe_save(step, _state())
    checkpointer.wait()
    other = {"step": jnp.asarray(0, jnp.int32),
             "params": {"w": jnp.zeros((4, 5), jnp.float32),
                        "b": jnp.zeros((5,), jnp.float32)}}
    with self.assertRaisesRegex(train.CheckpointMismatchError,
                                r"step 2.*params/w: checkpoint \(4, 3\)"):
      checkpointer.restore_latest(other)
    self.assertEqual(sorted(os.listdir(directory)), ["1", "2"])
    checkpointer.close()

  def test_unreadable_set_aside_and_never_rotated_out(self):
    directory = testdata.make_tempdir(self)
    checkpointer = train.Checkpointer(directory, every_steps=1, keep=1)
    checkpointer.maybe_save(1, _state(1.0))
    checkpointer.wait()
    checkpointer.close()
    checkpointer = train.Checkpointer(directory, every_steps=1, keep=2)
    checkpointer.maybe_save(2, _state(2.0))
    checkpointer.wait()
    for path in glob.glob(os.path.join(directory, "2", "**", "*"),
                          recursive=True):
      if os.path.isfile(path) and os.sep + "d" + os.sep in path:
        with open(path, "wb") as f:
          f.write(b"corrupt")
    state, step = checkpointer.restore_latest(_state(0.0))
    self.assertEqual(step, 1)
    np.testing.assert_array_equal(state["params"]["w"], np.ones((4, 3)))
    for new_step in range(2, 7):  # keep=2 rotates many times
      checkpointer.maybe_save(new_step, _state(float(new_step)))
    checkpointer.close()
    self.assertEqual(sorted(os.listdir(directory)),
                     ["2.unreadable", "5", "6"])

  def test_non_finite_state_is_never_saved(self):
    directory = testdata.make_tempdir(self)
    checkpointer = train.Checkpointer(directory, every_steps=1, keep=1)
    checkpointer.maybe_save(1, _state())
    bad = _state()
    bad["params"]["b"] = bad["params"]["b"].at[1].set(jnp.nan)
    with self.assertRaisesRegex(train.DivergenceError,
                                r"step 2.*\['params'\]\['b'\].*step 1"):
      checkpointer.maybe_save(2, bad)
    checkpointer.close()
    self.assertEqual(sorted(os.listdir(directory)), ["1"])


_HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from ltjax.train import _workdir
lock = _workdir.WorkdirLock({workdir!r}).acquire()
print("held", flush=True)
time.sleep(120)
"""


class LockTest(TinyDataTestCase):

  def _holder(self, workdir):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD.format(root=str(ROOT), workdir=workdir)],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"))
    self.addCleanup(proc.wait)
    self.addCleanup(proc.kill)
    self.assertEqual(proc.stdout.readline().strip(), "held")
    return proc

  def test_second_job_fails_naming_the_holder(self):
    workdir = self.workdir()
    holder = self._holder(workdir)
    with self.assertRaises(train.WorkdirLockedError) as caught:
      train.train_and_evaluate(tiny_config(self.paths), workdir)
    message = str(caught.exception)
    self.assertIn(f"pid {holder.pid}", message)
    self.assertIn(socket.gethostname(), message)
    self.assertIn("started", message)
    self.assertEqual(os.listdir(workdir), ["lock"])  # nothing else written

  def test_lock_of_a_killed_job_does_not_block(self):
    workdir = self.workdir()
    holder = self._holder(workdir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    self.assertTrue(os.path.exists(os.path.join(workdir, "lock")))
    with _workdir.WorkdirLock(workdir):
      with open(os.path.join(workdir, "lock")) as f:
        self.assertIn(f"pid {os.getpid()}", f.read())
    # Released: the next job takes it again.
    _workdir.WorkdirLock(workdir).acquire().release()


class HistoryTest(TinyDataTestCase):

  def test_run_killed_before_its_first_checkpoint_has_no_duplicates(self):
    workdir = self.workdir()
    config = tiny_config(self.paths, max_steps=6, checkpoint_every_steps=100)
    train.train_and_evaluate(config, workdir)
    steps = [json.loads(line)["step"]
             for line in open(os.path.join(workdir, "history.jsonl"))]
    # The job dies after its evaluations but before any checkpoint.
    for path in glob.glob(os.path.join(workdir, "checkpoints", "*")):
      __import__("shutil").rmtree(path)
    train.train_and_evaluate(config, workdir)
    again = [json.loads(line)["step"]
             for line in open(os.path.join(workdir, "history.jsonl"))]
    self.assertEqual(again, steps)
    self.assertLen(set(again), len(again))

  def _write(self, lines):
    workdir = self.workdir()
    with open(os.path.join(workdir, "history.jsonl"), "w") as f:
      f.write("".join(lines))
    return workdir

  def test_cut_back_to_the_restored_step_and_torn_last_line(self):
    records = [{"step": s, "epoch": s / 2} for s in (2, 4, 6)]
    workdir = self._write([json.dumps(r) + "\n" for r in records]
                          + ['{"step": 8, "ep'])
    path = os.path.join(workdir, "history.jsonl")
    with self.assertLogs(logging.get_absl_logger(), "WARNING") as logs:
      kept = _report.resume_history(workdir, 4)
    self.assertTrue(any(f"{path}, line 4" in line and "torn" in line
                        for line in logs.output), logs.output)
    self.assertEqual(kept, records[:2])
    with open(path) as f:
      self.assertEqual([json.loads(line) for line in f], records[:2])
    self.assertEqual(os.listdir(workdir), ["history.jsonl"])  # no tmp left

  def test_corrupt_line_before_the_last_names_file_and_line(self):
    workdir = self._write(['{"step": 2}\n', "garbage\n", '{"step": 6}\n'])
    path = os.path.join(workdir, "history.jsonl")
    with self.assertRaisesRegex(ValueError, f"{path}, line 2"):
      _report.resume_history(workdir, 10)


class RegressionHistoryTest(absltest.TestCase):

  def test_rerun_of_a_finished_rrt_job_appends_no_duplicates(self):
    tmp = testdata.make_tempdir(self)
    rings = np.clip(np.round(np.random.default_rng(0).gamma(5.0, 2.0, 120)),
                    1, 29)
    abalone = os.path.join(tmp, "abalone.data")
    regression_data_test.write_abalone(abalone, rings)
    config = regression.build_config("abalone_dir", "rrt", "1")
    config.data.path = abalone
    config.data.val_per_label = 4
    config.model.widths = (16,)
    config.batch_size = 16
    config.eval_batch_size = 16
    config.rrt.epochs = 2
    workdir = os.path.join(tmp, "run")
    regression.train_and_evaluate(config, workdir)
    path = os.path.join(workdir, "history.jsonl")
    first = [(r["stage"], r["step"]) for r in map(json.loads, open(path))]
    regression.train_and_evaluate(config, workdir)
    second = [(r["stage"], r["step"]) for r in map(json.loads, open(path))]
    self.assertEqual(second, first)
    self.assertLen(set(second), len(second))


class DatasetObjectTest(TinyDataTestCase):

  def test_classification_trains_on_a_dataset_built_from_arrays(self):
    rng = np.random.default_rng(0)
    counts = np.array([12, 6, 3])
    labels = np.repeat(np.arange(3), counts).astype(np.int32)
    split = lambda y: _types.ArraySplit(  # pylint: disable=g-long-lambda
        rng.integers(0, 256, (len(y), 8, 8, 1), dtype=np.uint8), y)
    dataset = _types.LongTailedDataset(
        name="mine", train=split(labels),
        val=split(np.arange(3, dtype=np.int32)),
        test=split(np.repeat(np.arange(3), 2).astype(np.int32)),
        class_names=("a", "b", "c"), train_class_counts=counts,
        metadata={"name": "mine"})
    config = tiny_config(self.paths, max_steps=3, **{
        "data.path": "/nonexistent/never/read", "augment.padding": 0,
        "augment.flip": False, "augment.mean": (0.5,), "augment.std": (0.25,)})
    workdir = self.workdir()
    result = train.train_and_evaluate(config, workdir, dataset=dataset)
    self.assertEqual(result["data"], {"name": "mine"})
    self.assertEqual(result["train_class_counts"], [12, 6, 3])
    self.assertEqual(result["final"]["step"], 3)
    rows = open(os.path.join(workdir, "per_class.csv")).read().splitlines()
    self.assertLen(rows, 4)  # header + 3 classes

  def test_regression_trains_on_a_dataset_built_from_arrays(self):
    rng = np.random.default_rng(0)
    split = lambda n: regression_data.RegressionSplit(  # pylint: disable=g-long-lambda
        rng.normal(size=(n, 5)).astype(np.float32),
        rng.uniform(2, 20, n).astype(np.float32))
    dataset = regression_data.RegressionDataset(
        name="mine", train=split(48), val=split(16), test=split(16),
        metadata={"name": "mine"})
    config = regression.build_config("abalone_dir", "vanilla", "1")
    config.data.path = "/nonexistent/never/read"
    config.model.widths = (8,)
    config.batch_size = 16
    config.eval_batch_size = 16
    result = regression.train_and_evaluate(config, self.workdir(),
                                           dataset=dataset)
    self.assertEqual(result["data"], {"name": "mine"})
    self.assertEqual(result["final"]["step"], 3)


_LOAD = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
import jax
from ltjax import train
model, variables, config = train.load_model({workdir!r})
x = np.load({inputs!r})
logits, _ = model.apply(variables, x, train=False)
np.save({out!r}, np.asarray(logits))
print(len(jax.devices()), config.loss.name, flush=True)
"""


class LoadModelTest(TinyDataTestCase):

  def test_saved_on_eight_devices_loads_on_one(self):
    self.assertEqual(jax.device_count(), 8)
    workdir = self.workdir()
    config = tiny_config(self.paths)
    train.train_and_evaluate(config, workdir)
    run = train.build_run(config, data.load_dataset(config.data))
    state, _ = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                  every_steps=1, keep=3).restore_latest(
                                      run.init_state())
    images, _ = run.dataset.test.get_batch(np.arange(8))
    x = np.asarray(run.preprocess(images, None))
    expected, _ = run.model.apply(jax.device_get(state.variables()), x,
                                  train=False)
    inputs, out = (os.path.join(workdir, name) for name in ("x.npy",
                                                             "logits.npy"))
    np.save(inputs, x)
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD.format(root=str(ROOT), workdir=workdir,
                                            inputs=inputs, out=out)],
        capture_output=True, text=True, timeout=300,
        env=testdata.subprocess_env(JAX_PLATFORMS="cpu"))
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertEqual(proc.stdout.split(), ["1", "ce"])
    np.testing.assert_allclose(np.load(out), np.asarray(expected),
                               rtol=1e-5, atol=1e-5)

  def test_in_process_loads_parameters_and_statistics(self):
    workdir = self.workdir()
    config = tiny_config(self.paths)
    train.train_and_evaluate(config, workdir)
    model, variables, loaded = train.load_model(workdir)
    self.assertEqual(loaded.model.name, "mnist_cnn")
    self.assertIn("batch_stats", variables)
    run = train.build_run(config, data.load_dataset(config.data))
    state, _ = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                  every_steps=1, keep=3).restore_latest(
                                      run.init_state())
    for a, b in zip(jax.tree.leaves(variables),
                    jax.tree.leaves(jax.device_get(state.variables()))):
      np.testing.assert_array_equal(a, b)
    self.assertEqual(type(model).__name__, type(run.model).__name__)


if __name__ == "__main__":
  absltest.main()
