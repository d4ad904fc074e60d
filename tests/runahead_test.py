"""The train loop never runs far ahead of the device (the CPU deadlock).

XLA:CPU with several virtual devices deadlocks once the host has dispatched
about 32 steps that the devices have not run yet (benchmarks/RESULTS.md,
2026-12-01); the driver waits for all but `MAX_STEPS_IN_FLIGHT` of them.
"""

import tempfile
import types

from absl.testing import absltest
import jax
import jax.numpy as jnp
import ml_collections

import numpy as np

from ltjax import train
from ltjax.train import _driver
from ltjax.train import _parallel


class NoWriter:

  def scalars(self, step, values):
    del step, values

  def flush(self):
    pass


class RunAheadTest(absltest.TestCase):

  def test_host_waits_for_the_device(self):
    outputs = []  # every step's metrics, in dispatch order
    lags = []  # steps not finished when the next one is dispatched

    @jax.jit
    def device_step(state, batch):
      w = state["w"]
      for _ in range(4):  # slower on the device than a dispatch on the host
        w = jnp.tanh(w @ w)
      return ({"step": state["step"] + 1, "w": w},
              {"loss": jnp.mean(batch["x"]) + jnp.mean(w),
               "lr": jnp.float32(0.1)})

    def train_step(state, batch):
      state, metrics = device_step(state, batch)
      outputs.append(metrics)
      return state, metrics

    def batch(step, plan):
      del plan
      lags.append(sum(not m["loss"].is_ready() for m in outputs))
      return {"x": jnp.full((4,), step, jnp.float32)}

    steps = 60
    run = types.SimpleNamespace(total_steps=steps, steps_per_epoch=steps,
                                train_step=train_step)
    config = ml_collections.ConfigDict({
        "log_every_steps": steps, "eval_every_epochs": 1,
        "checkpoint_every_steps": steps, "optim": {"lr": 0.1}})
    hooks = _driver.Hooks(plan=lambda epoch: None, batch=batch,
                          evaluate=lambda state, step: {
                              "epoch": step / steps, "step": step})
    with tempfile.TemporaryDirectory() as workdir:
      state, _, _ = _driver.run_schedule(
          run, {"step": jnp.int32(0), "w": jnp.eye(384) * 0.5},
          first_step=0, last_step=steps,
          config=config, workdir=workdir, writer=NoWriter(),
          checkpointer=None, history=[], hooks=hooks)
    self.assertEqual(int(state["step"]), steps)
    self.assertLen(lags, steps)
    # Without the wait the host is up to `log_every_steps` (here all 60)
    # steps ahead.
    self.assertLessEqual(max(lags), _driver.MAX_STEPS_IN_FLIGHT)
    self.assertLess(_driver.MAX_STEPS_IN_FLIGHT, 32)

  def test_evaluation_waits_for_the_device(self):
    # An evaluation sums its batches' counts on the device; without a wait
    # the host dispatches every batch before the first one has run.
    outputs, lags = [], []

    @jax.jit
    def device_eval(state, batch):
      w = state
      for _ in range(4):
        w = jnp.tanh(w @ w)
      return {"plain": jnp.sum(batch["label"]) + jnp.mean(w)}

    def eval_step(state, batch):
      lags.append(sum(not o.is_ready() for o in outputs))
      out = device_eval(state, batch)
      outputs.append(out["plain"])
      return out

    class Split:

      def __len__(self):
        return 8 * 40

      def get_batch(self, indices):
        return (np.zeros((len(indices), 2), np.float32),
                np.asarray(indices) % 3)

    mesh = _parallel.data_mesh(jax.devices()[:1])
    task = types.SimpleNamespace(input_key="image", target_key="label",
                                 target_dtype=np.int32)
    run = types.SimpleNamespace(eval_batch_size=8, mesh=mesh,
                                eval_step=eval_step, task=task)
    total = train.evaluate(run, jnp.eye(384) * 0.5, Split())
    self.assertLen(lags, 40)
    self.assertLessEqual(max(lags), _driver.MAX_STEPS_IN_FLIGHT)
    self.assertTrue(np.isfinite(float(total["plain"])))

if __name__ == "__main__":
  absltest.main()
