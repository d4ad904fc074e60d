"""End-to-end tests of the training loop on tiny generated data.

Every config file builds and runs two steps; a resumed run equals a straight
one bit for bit; a broken newest checkpoint falls back to the previous one;
bad configs fail before anything is compiled; the workdir holds the promised
files; a 2-process run on localhost equals a 1-process run.
"""

import glob
import json
import os
import pathlib
import signal
import socket
import struct
import subprocess
import sys
from unittest import mock

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from experiments.configs import common
from ltjax import _watchdog
from ltjax import data
from ltjax import train
from ltjax.train import _engine
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG_FILES = testdata.config_files(common.DATASETS)
load_config_file = testdata.load_config_file


def shrink(config, paths):
  """Points a config at the tiny data and makes everything small."""
  config.data.path = paths[config.data.name]
  config.data.imbalance_ratio = 4.0
  config.data.val_per_class = 2
  experts = config.model.name.endswith("_experts")
  config.model.name = "mnist_cnn_experts" if experts else "mnist_cnn"
  # The small CNN has no residual blocks (the fast recipe's ResNet option).
  config.model.zero_init_residual = False
  config.batch_size = 16
  config.eval_batch_size = 16
  config.log_every_steps = 1
  if config.optim.sam_kind == "imbsam":  # tail: some of the tiny classes
    config.imbsam_tail_count = 4 if config.data.name == "cifar100_lt" else 10
  return config


def tiny_teacher(config, paths, root):
  """Trains `config.teacher.recipe` for one step on the tiny data.

  Returns its workdir (one per dataset and recipe, reused).
  """
  dataset, recipe = config.data.name, config.teacher.recipe
  workdir = os.path.join(root, f"teacher_{dataset}_{recipe}")
  if not os.path.exists(os.path.join(workdir, "metrics.json")):
    teacher = shrink(common.build(dataset, recipe), paths)
    teacher.max_steps = 1
    train.train_and_evaluate(teacher, workdir)
  return workdir


TinyDataTestCase = testdata.TinyBenchmarksTestCase


# One config per method family trains two real steps (and checks the loss
# is finite); every other config file is built, validated, and its init and
# train step traced (`jax.eval_shape`), which checks every shape, dtype and
# config path of the step without compiling it: a compiled step of a config
# whose family already ran proves nothing new. Real steps of the families
# run again in their own test files (mixing_engine_test, experts_train_test,
# contrastive_train_test, tricks_engine_test, second_stage_test).
REAL_STEPS = frozenset({
    "cifar10_lt/ce", "cifar100_lt/ldam_drw",  # each dataset's images
    "mnist_lt/ce", "mnist_lt/ldam_drw", "mnist_lt/cb_resample",
    "mnist_lt/ce_drs", "mnist_lt/mixup_drw_bs", "mnist_lt/remix_drw",
    "mnist_lt/vs", "mnist_lt/lade", "mnist_lt/sam_ldam_drw",
    "mnist_lt/imbsam_ce", "mnist_lt/glmc", "mnist_lt/mislas",
    "mnist_lt/ride", "mnist_lt/ace", "mnist_lt/sade", "mnist_lt/dive",
    "mnist_lt/supcon", "mnist_lt/bcl", "mnist_lt/paco", "mnist_lt/fast",
})


def _row(path: str) -> str:
  """experiments/configs/<dataset>/<method>.py -> "dataset/method"."""
  return path.split("/", 2)[2][:-3]


class EveryConfigTest(TinyDataTestCase):

  def test_config_files_exist_for_every_row(self):
    self.assertLen(CONFIG_FILES, 3 * len(common.METHODS))
    rows = {_row(p) for p in CONFIG_FILES}
    self.assertLessEqual(REAL_STEPS, rows)
    families = {r.split("/")[1] for r in REAL_STEPS}
    self.assertGreaterEqual(len(families), 20)

  @parameterized.named_parameters(
      *[(_row(p).replace("/", "_"), p) for p in CONFIG_FILES])
  def test_builds_and_steps(self, path):
    config = shrink(load_config_file(path), self.paths)
    if config.teacher.recipe:  # a distillation recipe: a finished teacher
      config.teacher.workdir = tiny_teacher(config, self.paths,
                                            os.path.dirname(
                                                self.paths[config.data.name]))
    train.validate_config(config)
    dataset = data.load_dataset(config.data)
    run = train.build_run(config, dataset)
    plans = train.epoch_plans(run.task, 0)  # with a partner sample if any
    if _row(path) not in REAL_STEPS:
      state = jax.eval_shape(run.init_state)
      new_state, metrics = jax.eval_shape(
          run.train_step, state, train.train_batch(run, 0, plans))
      self.assertEqual(jax.tree.structure(new_state),
                       jax.tree.structure(state))
      self.assertEqual(metrics["loss"].shape, ())
      return
    state = run.init_state()
    for step in range(2):
      state, metrics = run.train_step(state, train.train_batch(run, step,
                                                               plans))
      self.assertTrue(np.isfinite(float(metrics["loss"])), path)
    self.assertEqual(int(state.step), 2)

  def test_short_schedule_argument_scales_everything(self):
    config = load_config_file("experiments/configs/cifar10_lt/ldam_drw.py",
                              "20")
    self.assertEqual(config.num_epochs, 20)
    self.assertEqual(tuple(config.optim.decay_epochs), (16, 18))
    self.assertEqual(config.optim.warmup_epochs, 1)
    self.assertEqual(config.loss.drw_start_epoch, 16)
    with self.assertRaisesRegex(ValueError, "number of epochs"):
      load_config_file("experiments/configs/cifar10_lt/ce.py", "short")


def _params(workdir, like):
  """The parameters of the newest checkpoint in `workdir`."""
  state, _ = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                every_steps=1, keep=10).restore_latest(like)
  return jax.device_get(state.params)


class ResumeTest(TinyDataTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._straight = None

  def config(self, max_steps):
    # ldam_drw on 3 epochs: the DRW switch and an epoch boundary fall between
    # the stop and the end, and augmentation is random.
    config = shrink(common.build("cifar10_lt", "ldam_drw", "3"), self.paths)
    config.max_steps = max_steps
    config.checkpoint_every_steps = 5
    return config

  def straight(self):
    """The workdir of `config(12)` run straight through (trained once)."""
    if self._straight is None:
      workdir = os.path.join(self._tmp.name, "straight")
      train.train_and_evaluate(self.config(12), workdir)
      type(self)._straight = workdir
    return self._straight

  def test_resumed_run_is_bit_identical(self):
    straight, resumed = self.straight(), self.workdir()
    first = train.train_and_evaluate(self.config(7), resumed)
    self.assertEqual(first["final"]["step"], 7)
    second = train.train_and_evaluate(self.config(12), resumed)
    self.assertEqual(second["run"]["steps_this_run"], 5)
    run = train.build_run(self.config(12),
                          data.load_dataset(self.config(12).data))
    like = run.init_state()
    a, b = _params(straight, like), _params(resumed, like)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(x, y)
    # The history of the resumed run covers both parts.
    steps = [json.loads(line)["step"] for line in
             open(os.path.join(resumed, "history.jsonl"))]
    self.assertIn(7, steps)
    self.assertIn(12, steps)

  def test_sigterm_saves_a_checkpoint_and_the_resume_is_bit_identical(self):
    # A SIGTERM (preemption, a deadline) while the schedule runs: the step
    # reached is saved and the run stops with Interrupted; the same call
    # again finishes it exactly as an uninterrupted run.
    straight, stopped = self.straight(), self.workdir()
    beat = _watchdog.beat

    def beat_and_signal(what="", hint=None):
      beat(what, hint)
      if what == "step 6":
        os.kill(os.getpid(), signal.SIGTERM)

    with mock.patch.object(_watchdog, "beat", beat_and_signal):
      with self.assertRaisesRegex(train.Interrupted,
                                  "SIGTERM: a checkpoint of step 6"):
        train.train_and_evaluate(self.config(12), stopped)
    self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)
    self.assertTrue(os.path.isdir(os.path.join(stopped, "checkpoints", "6")))
    self.assertFalse(os.path.exists(os.path.join(stopped, "metrics.json")))
    result = train.train_and_evaluate(self.config(12), stopped)
    self.assertEqual(result["run"]["steps_this_run"], 6)
    like = train.build_run(self.config(12), data.load_dataset(
        self.config(12).data)).init_state()
    for x, y in zip(jax.tree.leaves(_params(straight, like)),
                    jax.tree.leaves(_params(stopped, like))):
      np.testing.assert_array_equal(x, y)

  def test_unreadable_newest_checkpoint_falls_back(self):
    workdir = self.workdir()
    train.train_and_evaluate(self.config(10), workdir)  # saves 5 and 10
    for f in glob.glob(os.path.join(workdir, "checkpoints", "10", "**", "*"),
                       recursive=True):
      if os.path.isfile(f) and os.sep + "d" + os.sep in f:
        with open(f, "wb") as handle:
          handle.write(b"not a checkpoint")
    with self.assertLogs(logging.get_absl_logger(), "WARNING") as logs:
      result = train.train_and_evaluate(self.config(10), workdir)
    self.assertTrue(any("step 10" in line and "falling back" in line
                        for line in logs.output), logs.output)
    self.assertEqual(result["run"]["steps_this_run"], 5)
    self.assertTrue(os.path.isdir(os.path.join(workdir, "checkpoints",
                                               "10.unreadable")))
    straight = self.workdir()
    train.train_and_evaluate(self.config(10), straight)
    like = train.build_run(self.config(10), data.load_dataset(
        self.config(10).data)).init_state()
    for x, y in zip(jax.tree.leaves(_params(straight, like)),
                    jax.tree.leaves(_params(workdir, like))):
      np.testing.assert_array_equal(x, y)


class OutputsTest(TinyDataTestCase):

  def test_workdir_files(self):
    workdir = self.workdir()
    config = shrink(common.build("cifar10_lt", "ce", "2"), self.paths)
    result = train.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.json")) as f:
      metrics = json.load(f, parse_constant=lambda c: self.fail(c))
    self.assertEqual(metrics["final"]["step"], result["final"]["step"])
    for key in ("top1", "balanced", "many", "medium", "few", "ece"):
      self.assertIn(key, metrics["final"]["test"])
    self.assertIn("test_posthoc", metrics["final"])  # a CE run
    self.assertEqual(metrics["run"]["device_kind"], "cpu")
    self.assertEqual(metrics["run"]["platform"], "cpu")
    self.assertBetween(metrics["run"]["head_cosine_to_init"], -1.0, 0.999)
    self.assertEqual(metrics["data"]["name"], "cifar10_lt")
    self.assertIsNotNone(metrics["best_val"])
    history = [json.loads(l) for l in
               open(os.path.join(workdir, "history.jsonl"))]
    self.assertLen(history, 2)  # one evaluation per epoch
    best = max(history, key=lambda r: (r["val"]["balanced"], -r["step"]))
    self.assertEqual(metrics["best_val"]["step"], best["step"])
    rows = open(os.path.join(workdir, "per_class.csv")).read().splitlines()
    self.assertLen(rows, 11)
    self.assertTrue(rows[0].startswith("class,name,train_count,group"))
    with open(os.path.join(workdir, "config.json")) as f:
      self.assertEqual(json.load(f)["loss"]["name"], "ce")
    scalars = _read_tensorboard(os.path.join(workdir, "tb"))
    self.assertIn("train/loss", scalars)
    self.assertIn("test/balanced", scalars)
    self.assertLen(scalars["test/top1"], 2)

  def test_head_cosine_to_init_warns_on_an_untrained_head(self):
    class Task:
      def evaluated_kernel(self, params):
        return params["head"]

    class State:
      params = {"head": np.array([[1.0, 2.0], [3.0, 4.0]])}

    init = np.array([[1.0, 2.0], [3.0, 4.1]])
    with self.assertLogs(logging.get_absl_logger(), "WARNING") as logs:
      cosine = _engine.head_cosine(Task(), State(), init)  # pylint: disable=protected-access
    flat = State.params["head"].ravel()
    self.assertAlmostEqual(cosine, flat @ init.ravel() / np.linalg.norm(
        flat) / np.linalg.norm(init.ravel()))
    self.assertIn("barely trained", logs.output[0])
    self.assertIsNone(_engine.head_cosine(Task(), State(), None))  # pylint: disable=protected-access

  def test_relative_workdir(self):
    config = shrink(common.build("cifar10_lt", "ce", "1"), self.paths)
    config.max_steps = 2
    config.checkpoint_every_steps = 1
    parent = testdata.make_tempdir(self)
    cwd = os.getcwd()
    os.chdir(parent)
    self.addCleanup(os.chdir, cwd)
    train.train_and_evaluate(config, "run")
    self.assertTrue(os.path.isdir(os.path.join(parent, "run", "checkpoints",
                                               "2")))

  def test_no_posthoc_for_rebalanced_runs(self):
    config = shrink(common.build("cifar10_lt", "ldam_drw", "1"), self.paths)
    result = train.train_and_evaluate(config, self.workdir())
    self.assertNotIn("test_posthoc", result["final"])


def _read_tensorboard(logdir):
  """{tag: [(step, value)]} from the TFRecord event files in `logdir`."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  scalars = {}
  for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
    with open(path, "rb") as f:
      content = f.read()
    offset = 0
    while offset < len(content):
      (length,) = struct.unpack("<Q", content[offset:offset + 8])
      record = content[offset + 12:offset + 12 + length]
      offset += 12 + length + 4
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        scalars.setdefault(value.tag, []).append(
            (event.step, value.simple_value))
  return scalars


class BadConfigTest(TinyDataTestCase):

  @parameterized.named_parameters(
      ("unknown_loss", "loss.name", "ldam_v2", "config.loss.name"),
      ("negative_tau", "loss.tau", -0.5, "config.loss.tau"),
      ("unknown_sampler", "sampler.name", "balanced", "config.sampler.name"),
      ("ldam_linear_head", "model.head", "linear", "config.model.head"),
      ("ratio_below_one", "data.imbalance_ratio", 0.5, "imbalance_ratio"),
      ("missing_data", "data.path", "/nonexistent/cifar", "/nonexistent"),
      ("batch_not_divisible", "batch_size", 12, "batch_size=12"),
  )
  def test_fails_before_compiling(self, field, value, message):
    config = shrink(common.build("cifar10_lt", "ldam_drw", "1"), self.paths)
    testdata.set_field(config, field, value)
    workdir = self.workdir()
    testdata.assert_fails_before_compiling(
        self, lambda: train.train_and_evaluate(config, workdir),
        (ValueError, FileNotFoundError), message, workdir)


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


class CommandLineTest(TinyDataTestCase):

  def _main(self, *flags, devices=1, extra_env=None):
    env = testdata.subprocess_env(devices, **(extra_env or {}))
    command = [sys.executable, "-m", "experiments.main",
               "--config=experiments/configs/cifar10_lt/ce.py:1",
               f"--config.data.path={self.paths['cifar10_lt']}",
               "--config.data.imbalance_ratio=4", "--config.data.val_per_class=2",
               "--config.model.name=mnist_cnn", "--config.batch_size=16",
               "--config.eval_batch_size=16", *flags]
    return subprocess.Popen(command, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

  def test_unknown_override_fails(self):
    proc = self._main("--config.loss.taux=1.5", f"--workdir={self.workdir()}")
    out, _ = proc.communicate(timeout=120)
    self.assertNotEqual(proc.returncode, 0)
    self.assertIn("taux", out)

  def test_bad_value_names_the_field(self):
    proc = self._main("--config.loss.tau=-1.0", f"--workdir={self.workdir()}")
    out, _ = proc.communicate(timeout=120)
    self.assertNotEqual(proc.returncode, 0)
    self.assertIn("config.loss.tau", out)

  def test_processes_with_different_workdirs_fail_at_start(self):
    """Per-host local workdirs: every process stops at start-up, naming
    the problem, before data is read or anything compiled (not at the
    first checkpoint, where orbax waited ~10 min)."""
    port = _free_port()
    dirs = [os.path.join(self.workdir(), "run") for _ in range(2)]
    procs = [self._main(f"--workdir={dirs[i]}", "--multihost",
                        f"--coordinator_address=localhost:{port}",
                        "--num_processes=2", f"--process_id={i}")
             for i in range(2)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    for p, out in zip(procs, outputs):
      self.assertEqual(p.returncode, 2, out[-3000:])
      self.assertIn("process(es) [1] of 2 do not see the folder process 0 "
                    "writes to", out)
      self.assertNotIn("First step", out)
    # Nothing was written: process 0's new workdir is removed again.
    self.assertFalse(os.path.exists(dirs[0]))

  def test_two_processes_equal_one(self):
    """A 2-process job on localhost equals one process (~25 s on 2 cores).

    Slow because it starts three child processes (one with 2 devices, then
    the two of the distributed job), each importing JAX and compiling the
    step cold; the multi-process path exists only across processes.
    """
    flags = ("--config.max_steps=3", "--config.checkpoint_every_steps=3")
    single = self.workdir()
    proc = self._main(*flags, f"--workdir={single}", devices=2)
    out, _ = proc.communicate(timeout=300)
    self.assertEqual(proc.returncode, 0, out[-3000:])
    multi, port = self.workdir(), _free_port()
    procs = [self._main(*flags, f"--workdir={multi}", "--multihost",
                        f"--coordinator_address=localhost:{port}",
                        "--num_processes=2", f"--process_id={i}")
             for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
      self.assertEqual(p.returncode, 0, out[-3000:])
    self.assertIn("process 1 of 2", outputs[1])
    config = shrink(common.build("cifar10_lt", "ce", "1"), self.paths)
    like = train.build_run(config, data.load_dataset(config.data)).init_state()
    a, b = _params(single, like), _params(multi, like)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    self.assertEqual(json.load(open(os.path.join(multi, "metrics.json")))
                     ["run"]["processes"], 2)


if __name__ == "__main__":
  absltest.main()
