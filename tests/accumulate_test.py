"""Gradient accumulation (`optim.accumulate_steps`): K steps of a batch B
update the model as one step of a batch K x B."""

from absl.testing import absltest
import jax
import numpy as np

from ltjax import data
from ltjax import recipes
from ltjax import train


def _blobs(counts=(48, 32, 16), seed=0):
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(len(counts)), counts)
  return rng.normal(size=(labels.size, 4)) + 2.0 * labels[:, None], labels


def _params_after(batch_size, k, steps):
  config = recipes.build("csv_lt", "ce", "4")
  config.batch_size = batch_size
  config.optim.accumulate_steps = k
  x, y = _blobs()
  ds = data.from_arrays((x, y), test=(x, y))
  run = train.build_run(config, ds)
  state = run.init_state()
  plans, epoch = None, None
  for step in range(steps):
    if step // run.steps_per_epoch != epoch:
      epoch = step // run.steps_per_epoch
      plans = train.epoch_plans(run.task, epoch)
    state, _ = run.train_step(state, train.train_batch(run, step, plans))
  return jax.device_get(state.params)


class AccumulateTest(absltest.TestCase):

  def test_k_steps_equal_one_large_batch(self):
    # 96 examples: 3 steps of 32 an epoch, or 6 of 16 accumulated in pairs;
    # 5 updates cross an epoch boundary and the warm-up (1 epoch).
    large = _params_after(32, 1, 5)
    accumulated = _params_after(16, 2, 10)
    for a, b in zip(jax.tree.leaves(large), jax.tree.leaves(accumulated)):
      np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    # Not trivially equal: without accumulation the small batch differs.
    small = _params_after(16, 1, 10)
    self.assertFalse(all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in
                         zip(jax.tree.leaves(large), jax.tree.leaves(small))))

  def test_an_incomplete_window_applies_nothing(self):
    start = _params_after(16, 2, 0)
    one = _params_after(16, 2, 1)
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(one)):
      np.testing.assert_array_equal(a, b)

  def test_bad_value_names_the_field(self):
    config = recipes.build("csv_lt", "ce", "4")
    config.optim.accumulate_steps = 0
    with self.assertRaisesRegex(ValueError, r"config\.optim\.accumulate_steps"):
      train.validate_config(config, check_data=False)


if __name__ == "__main__":
  absltest.main()
