"""The device path (`config.data_on_device`) equals the host-fed path.

Same batches, bit-identical parameters after N steps (several steps per
call), a resume from a checkpoint in the middle of another run's call, with
a sampler, a mixing partner and regression's "fresh"; the automatic choice
and the errors.
"""

import os
import tempfile
import types

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from experiments.configs import common
from ltjax import data
from ltjax import regression
from ltjax import train
from ltjax.train import _device_data
from ltjax.train import _engine
import testdata


def _dataset(seed=0):
  rng = np.random.default_rng(seed)
  counts = np.array([20, 9, 4, 2])
  labels = np.repeat(np.arange(4), counts).astype(np.int32)
  images = rng.integers(0, 256, (len(labels), 8, 8, 3), dtype=np.uint8)
  test_y = np.repeat(np.arange(4), 2).astype(np.int32)
  test_x = rng.integers(0, 256, (len(test_y), 8, 8, 3), dtype=np.uint8)
  return data.from_arrays((images, labels), test=(test_x, test_y),
                          val=(test_x, test_y))


def _config(method="ce", **fields):
  config = common.build("cifar10_lt", method, "2")
  config.model.name = "mnist_cnn"
  config.batch_size = 8
  config.eval_batch_size = 8
  config.log_every_steps = 4
  config.checkpoint_every_steps = 5
  config.augment.padding = 2
  for name, value in fields.items():
    testdata.set_field(config, name, value)
  return config


def _final_state(workdir):
  tree, step = train.read_checkpoint(workdir)
  return tree, step


def _assert_trees_equal(test, a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  test.assertEqual(len(leaves_a), len(leaves_b))
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


class SameAsHostTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls._host_ce = None

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def _run(self, config, dataset, name):
    workdir = os.path.join(testdata.make_tempdir(self), name)
    result = train.train_and_evaluate(config, workdir, dataset=dataset)
    return workdir, result

  def _host_ce_run(self):
    """(workdir, result) of `_config(data_on_device="off")` on `_dataset()`.

    Trained once for the tests that compare with it (they only read it).
    """
    if self._host_ce is None:
      workdir = os.path.join(self._tmp.name, "host_ce")
      result = train.train_and_evaluate(_config(data_on_device="off"),
                                        workdir, dataset=_dataset())
      type(self)._host_ce = (workdir, result)
    return self._host_ce

  @parameterized.named_parameters(
      ("ce", "ce", {}),
      ("balanced_sampler_drw", "ce_drw", {"sampler.name": "class_balanced"}),
      ("mixup_balanced_partner", "ce", {"mixing.name": "mixup",
                                        "mixing.partner": "balanced"}),
      ("ema", "ce", {"weight_average.kind": "ema",
                     "weight_average.warmup": 3}),
  )
  def test_parameters_bit_identical_after_n_steps(self, method, fields):
    dataset = _dataset()
    if method == "ce" and not fields:
      host_dir, host = self._host_ce_run()
    else:
      host_dir, host = self._run(
          _config(method, data_on_device="off", **fields), dataset, "host")
    # One step per call (the CPU's default): the host path's program.
    device_dir, device = self._run(
        _config(method, data_on_device="on", **fields), dataset, "device")
    host_tree, host_step = _final_state(host_dir)
    device_tree, device_step = _final_state(device_dir)
    self.assertEqual(host_step, device_step)
    self.assertEqual(host_step, host["run"]["total_steps"])
    _assert_trees_equal(self, host_tree, device_tree)
    np.testing.assert_equal(host["final"]["test"], device["final"]["test"])

  def test_multi_step_calls_equal_the_host_path_to_rounding(self):
    dataset = _dataset()
    host_dir, _ = self._host_ce_run()
    device_dir, _ = self._run(
        _config(data_on_device="on", steps_per_call=3), dataset, "device")
    host_tree, _ = _final_state(host_dir)
    device_tree, _ = _final_state(device_dir)
    for x, y in zip(jax.tree.leaves(host_tree), jax.tree.leaves(device_tree)):
      np.testing.assert_allclose(np.asarray(x, np.float64),
                                 np.asarray(y, np.float64),
                                 rtol=1e-4, atol=1e-5)

  def test_resume_in_the_middle_of_a_call(self):
    dataset = _dataset()
    straight_dir, _ = self._run(
        _config(data_on_device="on", steps_per_call=4), dataset, "straight")
    # Stops at step 6: inside the straight run's call over steps [5, 9)
    # (calls end at the checkpoint step 5 and the epoch end 10).
    parts = os.path.join(testdata.make_tempdir(self), "parts")
    train.train_and_evaluate(
        _config(data_on_device="on", steps_per_call=4, max_steps=6),
        parts, dataset=dataset)
    self.assertEqual(_final_state(parts)[1], 6)
    # One compiled loop body serves every call length: bit-identical.
    train.train_and_evaluate(
        _config(data_on_device="on", steps_per_call=4), parts,
        dataset=dataset)
    _assert_trees_equal(self, _final_state(straight_dir)[0],
                        _final_state(parts)[0])

  def test_host_and_device_resume_each_other(self):
    dataset = _dataset()
    straight_dir, _ = self._host_ce_run()
    parts = os.path.join(testdata.make_tempdir(self), "parts")
    train.train_and_evaluate(_config(data_on_device="on", max_steps=3),
                             parts, dataset=dataset)
    train.train_and_evaluate(_config(data_on_device="off", max_steps=7),
                             parts, dataset=dataset)
    train.train_and_evaluate(_config(data_on_device="on"), parts,
                             dataset=dataset)
    _assert_trees_equal(self, _final_state(straight_dir)[0],
                        _final_state(parts)[0])

  def test_same_batches(self):
    dataset = _dataset()
    config = _config(data_on_device="on", **{"mixing.name": "mixup",
                                             "mixing.partner": "instance"})
    run = _engine.build_run(config, dataset)
    self.assertIsNotNone(run.train_chunk)
    spe = run.steps_per_epoch
    for epoch in (0, 1):
      plans = _engine.epoch_plans(run.task, epoch)
      on_device = _device_data.plans_on_device(
          plans, steps_per_epoch=spe, batch_size=config.batch_size,
          mesh=run.mesh)
      for step in range(epoch * spe, (epoch + 1) * spe):
        host = jax.device_get(_engine.train_batch(run, step, plans))
        device = jax.device_get(_device_data.gather_batch(
            run.device_data, np.int32(step), on_device,
            steps_per_epoch=spe, batch_size=config.batch_size))
        self.assertEqual(sorted(host), sorted(device))
        for key in host:
          np.testing.assert_array_equal(host[key], device[key], err_msg=key)

  def test_regression_fresh_and_fds(self):
    tmp = testdata.make_tempdir(self)
    path = os.path.join(tmp, "abalone.data")
    testdata.write_abalone_like(path, rows=200)
    results = {}
    for mode in ("off", "on"):
      config = regression.build_config("abalone_dir", "lds_fds", "2")
      config.data.path = path
      config.data.val_per_label = 2
      config.model.widths = (8,)
      config.batch_size = 16
      config.eval_batch_size = 16
      config.fds.start_update = 0
      config.fds.start_smooth = 1
      config.data_on_device = mode
      config.steps_per_call = 5
      workdir = os.path.join(tmp, mode)
      regression.train_and_evaluate(config, workdir)
      results[mode] = _final_state(workdir)[0]
    _assert_trees_equal(self, results["off"], results["on"])


class ChoiceTest(absltest.TestCase):

  def test_auto_puts_an_array_split_on_the_device(self):
    run = _engine.build_run(_config(), _dataset())
    self.assertIsNotNone(run.train_chunk)
    run = _engine.build_run(_config(data_on_device="off"), _dataset())
    self.assertIsNone(run.train_chunk)

  def test_auto_keeps_a_split_over_the_limit_on_the_host(self):
    limit = _device_data.DEFAULT_LIMIT_BYTES
    try:
      _device_data.DEFAULT_LIMIT_BYTES = 10
      if _device_data.device_limit_bytes(jax.devices()) != 10:
        self.skipTest("this backend reports its memory")
      run = _engine.build_run(_config(), _dataset())
      self.assertIsNone(run.train_chunk)
      # "on" is the user's call: the limit does not apply.
      run = _engine.build_run(_config(data_on_device="on"), _dataset())
      self.assertIsNotNone(run.train_chunk)
    finally:
      _device_data.DEFAULT_LIMIT_BYTES = limit

  def test_on_for_a_streamed_split_names_the_field(self):
    streamed = data.StreamedSplit(paths=("a.png", "b.png"),
                                  labels=np.array([0, 1], np.int32))
    dataset = types.SimpleNamespace(train=streamed)
    mesh = _engine._parallel.data_mesh()  # pylint: disable=protected-access
    self.assertFalse(_device_data.use_device_data(
        _config(data_on_device="auto"), dataset, mesh))
    with self.assertRaisesRegex(ValueError,
                                "config.data_on_device.*read from files"):
      _device_data.use_device_data(_config(data_on_device="on"), dataset,
                                   mesh)

  def test_bad_mode_names_the_field(self):
    with self.assertRaisesRegex(ValueError, "data_on_device"):
      train.validate_config(_config(data_on_device="yes"), check_data=False)
    with self.assertRaisesRegex(ValueError, "steps_per_call"):
      train.validate_config(_config(steps_per_call=-1), check_data=False)

  def test_chunks_end_at_epochs_logs_and_checkpoints(self):
    ends, step = [], 0
    while step < 23:
      step = _device_data.next_boundary(
          step, last_step=23, steps_per_epoch=10, cap=4, every=(6, 0))
      ends.append(step)
    self.assertEqual(ends, [4, 6, 10, 12, 16, 18, 20, 23])

  def test_laid_out_plan_wraps_like_batch_indices(self):
    from ltjax import sampling  # pylint: disable=g-import-not-at-top
    plan = np.array([5, 3, 9, 1, 0, 7, 2])
    laid, size = _device_data.laid_out_plan(plan, steps_per_epoch=3,
                                            batch_size=3)
    self.assertEqual(size, 7)
    for s in range(3):
      np.testing.assert_array_equal(
          laid[s * 3:(s + 1) * 3],
          sampling.batch_indices(plan, s, global_batch_size=3))


if __name__ == "__main__":
  absltest.main()
