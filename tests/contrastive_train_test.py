"""Contrastive training on the engine: views, PaCo's queue and EMA, resume."""

import os

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import common
from ltjax import data
from ltjax import train
from ltjax.train import _classification
from ltjax.train import _contrastive
import testdata
from train_loop_test import shrink


class QueueTest(absltest.TestCase):

  def test_enqueue_is_a_ring_buffer(self):
    size, batch, dim = 5, 2, 3
    paco = {"queue": jnp.zeros((size, dim)),
            "queue_labels": jnp.full((size,), -1, jnp.int32),
            "ptr": jnp.zeros((), jnp.int32)}
    written = []  # (row, value) in write order, from the definition
    for i in range(4):  # 8 rows into 5: the last batches wrap around
      keys = jnp.full((batch, dim), float(i + 1))
      labels = jnp.array([10 * i, 10 * i + 1], jnp.int32)
      paco = _contrastive.enqueue(paco, keys, labels)
      for j in range(batch):
        written.append(((2 * i + j) % size, i + 1, 10 * i + j))
    expected = np.zeros((size, dim))
    expected_labels = np.full(size, -1)
    for row, value, label in written:
      expected[row] = value
      expected_labels[row] = label
    np.testing.assert_array_equal(paco["queue"], expected)
    np.testing.assert_array_equal(paco["queue_labels"], expected_labels)
    self.assertEqual(int(paco["ptr"]), 8 % size)

  def test_ema(self):
    previous = {"w": jnp.array([1.0, 2.0])}
    current = {"w": jnp.array([3.0, -2.0])}
    out = _contrastive.ema(previous, current, 0.9)
    np.testing.assert_allclose(out["w"], [0.9 * 1 + 0.1 * 3, 0.9 * 2 - 0.2],
                               rtol=1e-6)


class ContrastiveTrainTest(testdata.TinyBenchmarksTestCase):

  def config(self, method, max_steps=2):
    config = shrink(common.build("cifar10_lt", method, "2"), self.paths)
    config.max_steps = max_steps
    config.checkpoint_every_steps = 3
    config.stage2.name = "none"
    if method == "paco":
      config.contrastive.queue_size = 40  # 2.5 batches: wraps
    return config

  def _run(self, config):
    return train.build_run(config, data.load_dataset(config.data))

  def test_each_method_traces_once_and_learns_finite(self):
    """Three real steps of SupCon, BCL and PaCo (~20 s on 2 cores).

    Slow because each method has its own loss, state and train step, so
    three steps are compiled; a single trace over several calls is the
    property, which only real calls show.
    """
    calls = []
    original = _contrastive.ContrastiveLoss.__call__

    def counting(self_, *args):
      calls.append(1)
      return original(self_, *args)

    _contrastive.ContrastiveLoss.__call__ = counting
    try:
      for method in ("supcon", "bcl", "paco"):
        calls.clear()
        run = self._run(self.config(method))
        state = run.init_state()
        plans = train.epoch_plans(run.task, 0)
        for step in range(3):
          state, metrics = run.train_step(
              state, train.train_batch(run, step, plans))
          self.assertTrue(np.isfinite(float(metrics["loss"])), method)
        self.assertLen(calls, 1, f"{method}: traced {len(calls)} times")
        self.assertEqual(sorted(state.params), ["contrast", "model"])
    finally:
      _contrastive.ContrastiveLoss.__call__ = original

  def test_paco_state_advances_as_moco(self):
    config = self.config("paco")
    run = self._run(config)
    state = run.init_state()
    paco0 = jax.device_get(state.extra["paco"])
    # The EMA starts at the query encoder.
    for a, b in zip(jax.tree.leaves(paco0["params"]),
                    jax.tree.leaves(jax.device_get(state.params))):
      np.testing.assert_array_equal(a, b)
    plans = train.epoch_plans(run.task, 0)
    params0 = jax.device_get(state.params)
    state, _ = run.train_step(state, train.train_batch(run, 0, plans))
    params1 = jax.device_get(state.params)
    state, _ = run.train_step(state, train.train_batch(run, 1, plans))
    paco = jax.device_get(state.extra["paco"])
    m = config.contrastive.momentum
    # Step 1: m p0 + (1 - m) p0; step 2: m (that) + (1 - m) p1.
    for e, p0, p1 in zip(jax.tree.leaves(paco["params"]),
                         jax.tree.leaves(params0), jax.tree.leaves(params1)):
      first = m * p0 + (1 - m) * p0
      np.testing.assert_allclose(e, m * first + (1 - m) * p1, rtol=1e-5,
                                 atol=1e-7)
    batch = config.batch_size
    self.assertEqual(int(paco["ptr"]), (2 * batch) % 40)
    labels = [np.asarray(train.train_batch(run, s, plans)["label"])
              for s in range(2)]
    np.testing.assert_array_equal(paco["queue_labels"][:batch], labels[0])
    np.testing.assert_array_equal(paco["queue_labels"][batch:2 * batch],
                                  labels[1])
    np.testing.assert_allclose(
        np.linalg.norm(paco["queue"][:2 * batch], axis=1), 1.0, rtol=1e-5)

  def test_paco_resume_is_bit_identical(self):
    straight, resumed = self.workdir(), self.workdir()
    train.train_and_evaluate(self.config("paco", 7), straight)
    train.train_and_evaluate(self.config("paco", 4), resumed)
    second = train.train_and_evaluate(self.config("paco", 7), resumed)
    self.assertEqual(second["run"]["steps_this_run"], 3)  # from step 4
    like = self._run(self.config("paco", 7)).init_state()

    def restored(workdir):
      state, _ = train.Checkpointer(
          os.path.join(workdir, "checkpoints"), every_steps=1,
          keep=10).restore_latest(like)
      return jax.device_get(state)

    a, b = restored(straight), restored(resumed)
    self.assertEqual(int(a.step), 7)
    for x, y in zip(jax.tree.leaves((a.params, a.extra, a.batch_stats)),
                    jax.tree.leaves((b.params, b.extra, b.batch_stats))):
      np.testing.assert_array_equal(x, y)

  def test_grayscale_images_get_a_strong_view(self):
    config = shrink(common.build("mnist_lt", "supcon", "1"), self.paths)
    config.stage2.name = "none"
    run = self._run(config)
    batch = train.train_batch(run, 0, train.epoch_plans(run.task, 0))
    key = jax.random.PRNGKey(0)
    out = run.task.transforms()[-1](
        {**batch, "input": run.task.preprocess(batch["image"], key),
         "step": jnp.zeros((), jnp.int32)}, key)
    self.assertEqual(out["input"].shape[0], 2 * batch["image"].shape[0])
    self.assertEqual(out["input"].shape[1:], batch["image"].shape[1:])

  def test_conflicting_fields_fail_at_start_up(self):
    config = self.config("bcl")
    config.mixing.name = "mixup"
    with self.assertRaisesRegex(ValueError, "config.mixing.name"):
      train.validate_config(config)
    config = self.config("paco")
    # PaCo's logits are trained with + log pi: no post-hoc adjustment.
    self.assertFalse(_classification.reports_posthoc(config))
    self.assertTrue(_classification.reports_posthoc(self.config("supcon")))
    config.loss.name = "focal"
    with self.assertRaisesRegex(ValueError, "config.loss.name"):
      train.validate_config(config)
    config = self.config("supcon")
    config.contrastive.view = "cutout"
    with self.assertRaisesRegex(ValueError, "config.contrastive.view"):
      train.validate_config(config)


if __name__ == "__main__":
  absltest.main()
