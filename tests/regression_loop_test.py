"""End-to-end tests of the regression loop on tiny generated data.

Every config file builds, validates and traces its init and train step (one
config per method family and data kind runs two real steps); one compiled
step serves a whole schedule with FDS commits; a resumed run equals a
straight one bit for bit (FDS statistics included); the workdir holds
strict-JSON results; RRT re-uses an encoder workdir; bad configs fail before
anything is compiled.
"""

import json
import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from ltjax import recipes
from ltjax import regression
from ltjax import train
from ltjax.regression import _recipes
from ltjax.train import _checkpoint
from ltjax.train import _parallel
import regression_data_test
import testdata

# sts_b_dir (token pairs, a BiLSTM) runs in tests/sts_b_dir_test.py.
DATASETS = tuple(d for d in _recipes.DATASETS if d != "sts_b_dir")
CONFIG_FILES = testdata.config_files(DATASETS)
load_config_file = testdata.load_config_file


def shrink(config, paths):
  """Points a config at the tiny data and makes everything small."""
  config.data.path = paths[config.data.name]
  if config.data.name == "abalone":
    config.data.val_per_label = 4
  elif config.data.name == "csv":
    config.data.target = "y"
  else:
    config.data.image_size = 8
    config.augment.padding = 0  # (crops cost compile time, tested elsewhere)
  config.model.name = "mlp"
  config.model.widths = (16,)
  config.batch_size = 16
  config.eval_batch_size = 16
  config.log_every_steps = 1
  config.rrt.epochs = 1
  return config


class TinyDataTestCase(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    rng = np.random.default_rng(0)
    rings = np.clip(np.round(rng.gamma(5.0, 2.0, 120)), 1, 29)
    abalone = os.path.join(cls._tmp.name, "abalone.data")
    regression_data_test.write_abalone(abalone, rings)
    ages = np.clip(np.round(rng.normal(40, 15, 48)), 0, 100)
    splits = ["train"] * 32 + ["val"] * 8 + ["test"] * 8
    csv = regression_data_test.write_age_folder(
        os.path.join(cls._tmp.name, "faces"), ages, splits, size=10)
    table = os.path.join(cls._tmp.name, "table.csv")
    regression_data_test.write_table(table, rng.gamma(2.0, 0.05, 100))
    cls.paths = {"abalone": abalone, "agedb_dir": csv, "imdb_wiki_dir": csv,
                 "csv": table}

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def workdir(self):
    return testdata.make_tempdir(self)


def _row(path: str) -> str:
  """experiments/configs/<dataset>/<method>.py -> "dataset/method"."""
  return path.split("/", 2)[2][:-3]


# Every method family runs two real steps on abalone (tabular), and each
# other data kind (face images, a CSV table) once; every other config file
# is built, validated, and its init and train step traced
# (`jax.eval_shape`), which checks every shape, dtype and config path of the
# step without compiling it: a compiled step of a config whose family and
# data kind already ran proves nothing new.
REAL_STEPS = frozenset(
    {f"abalone_dir/{m}" for m in _recipes.METHODS} |
    {"agedb_dir/lds_fds_ranksim", "imdb_wiki_dir/vanilla",
     "csv_dir/lds_fds_ranksim"})


class EveryConfigTest(TinyDataTestCase):

  def test_config_files_exist_for_every_row(self):
    expected = sorted(f"experiments/configs/{d}/{m}.py" for d in DATASETS
                      for m in _recipes.METHODS if recipes.supported(d, m))
    self.assertEqual(CONFIG_FILES, expected)
    self.assertLessEqual(REAL_STEPS, {_row(p) for p in CONFIG_FILES})

  @parameterized.named_parameters(
      *[(_row(p).replace("/", "_"), p) for p in CONFIG_FILES])
  def test_builds_and_runs_two_steps(self, path):
    config = shrink(load_config_file(path), self.paths)
    regression.validate_config(config)
    dataset = regression.load_regression_dataset(config.data)
    run = regression.build_run(config, dataset)
    plan = run.task.epoch_plan(0)
    if _row(path) not in REAL_STEPS:
      state = jax.eval_shape(run.init_state)
      new_state, metrics = jax.eval_shape(
          run.train_step, state, train.train_batch(run, 0, plan))
      self.assertEqual(jax.tree.structure(new_state),
                       jax.tree.structure(state))
      self.assertEqual(metrics["loss"].shape, ())
    else:
      # Eagerly: op-by-op kernels are shared between configs, a jitted init
      # is a compile per config (the jitted one runs in the tests below).
      with jax.disable_jit():
        state = jax.device_put(run.init_state(),
                               _parallel.replicated(run.mesh))
      for step in range(2):
        state, metrics = run.train_step(state, train.train_batch(run, step,
                                                                 plan))
        self.assertTrue(np.isfinite(float(metrics["loss"])), path)
      self.assertEqual(int(state.step), 2)
    self.assertEqual("fds" in state.extra, config.fds.enabled)
    if config.rrt.enabled:
      features = np.random.default_rng(0).normal(size=(40, 16))
      head = regression.retrain_regressor(
          features, np.linspace(1, 20, 40), head_params={
              "kernel": np.zeros((16, 1), np.float32),
              "bias": np.zeros((1,), np.float32)},
          objective=run.objective, edges=run.edges,
          bin_weights=run.bin_weights, epochs=1, batch_size=16,
          learning_rate=1e-2, max_steps=2)
      self.assertTrue(np.all(np.isfinite(head["kernel"])))

  @parameterized.parameters("bni", "gai")
  def test_other_balanced_mse_losses_run(self, loss):
    config = shrink(regression.build_config("abalone_dir", "balanced_mse"),
                    self.paths)
    config.loss.name = loss
    run = regression.build_run(
        config, regression.load_regression_dataset(config.data))
    with jax.disable_jit():
      state = jax.device_put(run.init_state(), _parallel.replicated(run.mesh))
    plan = run.task.epoch_plan(0)
    for step in range(2):
      state, metrics = run.train_step(state, train.train_batch(run, step,
                                                               plan))
    self.assertTrue(np.isfinite(float(metrics["loss"])))
    self.assertNotEqual(float(state.params["loss"]["noise_sigma"]), 1.0)

  def test_short_schedule_argument(self):
    config = load_config_file("experiments/configs/agedb_dir/lds_fds.py",
                              "30")
    self.assertEqual(config.num_epochs, 30)
    self.assertEqual(tuple(config.optim.decay_epochs), (20, 27))
    self.assertTrue(config.fds.enabled and config.reweight.lds)
    with self.assertRaisesRegex(ValueError, "number of epochs"):
      load_config_file("experiments/configs/abalone_dir/lds.py", "short")


def _lds_fds_config(paths, max_steps=-1, epochs="3"):
  config = shrink(regression.build_config("abalone_dir", "lds_fds", epochs),
                  paths)
  config.max_steps = max_steps
  config.checkpoint_every_steps = 5
  return config


class CompiledStepTest(TinyDataTestCase):

  def test_one_compiled_step_for_a_schedule_with_fds_commits(self):
    config = _lds_fds_config(self.paths)
    run = regression.build_run(
        config, regression.load_regression_dataset(config.data))
    state = run.init_state()
    per_epoch = run.steps_per_epoch
    self.assertGreater(per_epoch, 1)
    for step in range(3 * per_epoch):
      plan = run.task.epoch_plan(step // per_epoch)
      state, _ = run.train_step(state, train.train_batch(run, step, plan))
      fds = state.extra["fds"]
      if step + 1 == per_epoch:
        # The first commit: every training example counted once.
        train_bins = regression.bin_counts(run.dataset.train.targets,
                                           run.edges)
        np.testing.assert_array_equal(fds.num_updates, train_bins > 0)
        np.testing.assert_array_equal(fds.epoch_count, 0)
        self.assertFalse(np.allclose(fds.smoothed_mean, fds.mean))
      if step + 1 < per_epoch:
        np.testing.assert_array_equal(fds.num_updates, 0)
    compiled = run.train_step._cache_size()  # pylint: disable=protected-access
    self.assertEqual(compiled, 1)


def _state_leaves(workdir, like):
  checkpointer = _checkpoint.Checkpointer(
      os.path.join(workdir, "checkpoints"), every_steps=1, keep=10)
  state, _ = checkpointer.restore_latest(like)
  checkpointer.close()
  return jax.tree.leaves(jax.device_get((state.params, state.opt_state,
                                         state.extra)))


class ResumeAndOutputsTest(TinyDataTestCase):

  def test_resumed_run_is_bit_identical(self):
    # 3 epochs of 5 steps: the stop (7) is mid-epoch, after an FDS commit
    # and before the next one.
    straight, resumed = self.workdir(), self.workdir()
    full = regression.train_and_evaluate(_lds_fds_config(self.paths, 12),
                                         straight)
    first = regression.train_and_evaluate(_lds_fds_config(self.paths, 7),
                                          resumed)
    self.assertEqual(first["final"]["step"], 7)
    second = regression.train_and_evaluate(_lds_fds_config(self.paths, 12),
                                           resumed)
    self.assertEqual(second["run"]["steps_this_run"], 5)
    config = _lds_fds_config(self.paths, 12)
    like = regression.build_run(
        config, regression.load_regression_dataset(config.data)).init_state()
    for x, y in zip(_state_leaves(straight, like),
                    _state_leaves(resumed, like)):
      np.testing.assert_array_equal(x, y)
    np.testing.assert_equal(full["final"]["test"], second["final"]["test"])

  def test_workdir_files_and_empty_groups(self):
    workdir = self.workdir()
    config = shrink(regression.build_config("abalone_dir", "vanilla", "2"),
                    self.paths)
    config.eval_batch_size = 12  # rounded up to 16 for 8 devices
    result = regression.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.json")) as f:
      metrics = json.load(f, parse_constant=lambda c: self.fail(c))
    test = metrics["final"]["test"]
    # Tiny data: every bin has < 20 training examples, all bins are few.
    self.assertIsNone(test["mae_many"])
    self.assertIsNone(test["gm_medium"])
    self.assertGreater(test["mae_few"], 0)
    self.assertEqual(test["mae_few"], test["mae_all"])
    self.assertEqual(metrics["best_val"]["stage"], "train")
    history = [json.loads(l) for l in
               open(os.path.join(workdir, "history.jsonl"))]
    self.assertLen(history, 2)
    best = min(history, key=lambda r: (r["val"]["mae_all"], r["step"]))
    self.assertEqual(metrics["best_val"]["step"], best["step"])
    rows = open(os.path.join(workdir, "per_bin.csv")).read().splitlines()
    self.assertLen(rows, 30)
    self.assertTrue(rows[0].startswith("bin,low,high,train_count,group"))
    with open(os.path.join(workdir, "config.json")) as f:
      self.assertEqual(json.load(f)["task"], "regression")
    self.assertTrue(os.listdir(os.path.join(workdir, "tb")))
    self.assertEqual(result["final"]["step"], metrics["final"]["step"])

  def test_rrt_on_an_encoder_workdir(self):
    encoder = self.workdir()
    vanilla = shrink(regression.build_config("abalone_dir", "vanilla", "1"),
                     self.paths)
    regression.train_and_evaluate(vanilla, encoder)
    config = shrink(regression.build_config("abalone_dir", "rrt", "1"),
                    self.paths)
    config.rrt.encoder_workdir = encoder
    config.rrt.epochs = 2
    workdir = self.workdir()
    result = regression.train_and_evaluate(config, workdir)
    self.assertEqual(result["stage"], "rrt")
    self.assertEqual(result["run"]["steps_this_run"], 0)
    self.assertEqual(result["final"]["stage"], "rrt")
    self.assertEqual(result["final"]["epoch"], 2.0)
    self.assertTrue(os.path.isdir(os.path.join(workdir, "rrt", "head")))


class BadConfigTest(TinyDataTestCase):

  @parameterized.named_parameters(
      ("unknown_loss", "loss.name", "l3", "config.loss.name"),
      ("lds_without_reweight", "reweight.name", "none", "config.reweight.lds"),
      ("start_smooth", "fds.start_smooth", 0, "config.fds.start_smooth"),
      ("bin_width", "bins.width", 0.7, "config.bins"),
      ("kernel", "fds.kernel", "box", "config.fds.kernel"),
      ("even_ks", "reweight.ks", 4, "config.reweight.ks"),
      ("metric", "select_metric", "r2", "config.select_metric"),
      ("missing_data", "data.path", "/nonexistent/abalone.data",
       "config.data.path"),
      ("batch_not_divisible", "batch_size", 12, "batch_size=12"),
  )
  def test_fails_before_compiling(self, field, value, message):
    config = _lds_fds_config(self.paths)
    testdata.set_field(config, field, value)
    workdir = self.workdir()
    testdata.assert_fails_before_compiling(
        self, lambda: regression.train_and_evaluate(config, workdir),
        ValueError, message, workdir)

  def test_balanced_mse_with_reweighting(self):
    config = shrink(regression.build_config("abalone_dir", "balanced_mse"),
                    self.paths)
    config.reweight.name = "sqrt_inv"
    with self.assertRaisesRegex(ValueError, "config.reweight.name"):
      regression.validate_config(config)


if __name__ == "__main__":
  absltest.main()
