"""K seeds as one vmapped program (`config.num_replicas`).

Replica k starts from exactly the single run's state with seed k and sees
exactly its batches; the vmapped step computes the same update to float
rounding (XLA batches the replicas' convolutions, so the sums run in
another order: one step's parameters agree to 1e-7), except where a
max-pool window holds tied values: the batched max-pool may pass the
gradient to another of the tied positions. Over a whole run the
trajectories drift apart as with a change of the device count. Each replica is a run of its own in `replica_<k>/`
(metrics, history, predictions, a checkpoint that `load_model` reads); a
stopped replica run resumes.
"""

import json
import os

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import campaign
from benchmarks import store
from ltjax import data
from ltjax import recipes
from ltjax import train
from ltjax.train import _replicas
import testdata
from train_loop_test import shrink


def _config(paths, **fields):
  config = shrink(recipes.build("mnist_lt", "ldam_drw", "2"), paths)
  config.checkpoint_every_steps = 4
  config.data_on_device = "off"
  for key, value in fields.items():
    testdata.set_field(config, key, value)
  return config


def _as_saved(tree):
  """The returned metrics as metrics.json holds them (NaN as null)."""
  if isinstance(tree, dict):
    return {key: _as_saved(value) for key, value in tree.items()}
  if isinstance(tree, (list, tuple)):
    return [_as_saved(value) for value in tree]
  if isinstance(tree, float) and tree != tree:
    return None
  return json.loads(json.dumps(tree))


def _stack(trees):
  return jax.tree.map(lambda *x: jnp.stack(x), *trees)


class ReplicasTest(testdata.TinyBenchmarksTestCase):

  def test_replica_k_steps_as_the_run_with_seed_k(self):
    config = _config(self.paths, num_replicas=2, seed=3)
    dataset = data.load_dataset(config.data)
    runs = [train.build_run(_replicas.replica_config(config, k), dataset)
            for k in range(2)]
    singles = [train.build_run(_config(self.paths, seed=3 + k), dataset)
               for k in range(2)]
    states, batches = [], []
    for run, single in zip(runs, singles):
      state, expected = run.init_state(), single.init_state()
      for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(x, y)  # the same initialisation
      plans = train.epoch_plans(run.task, 0)
      batch = train.train_batch(run, 0, plans)
      expected_batch = train.train_batch(single, 0,
                                         train.epoch_plans(single.task, 0))
      for key in batch:  # the same data order
        np.testing.assert_array_equal(batch[key], expected_batch[key])
      # MNIST's saturated pixels make max-pool windows of equal values; the
      # batched and the single max-pool then route the gradient to
      # different ones of the tied positions (measured: 7% of one step's
      # update on a conv kernel). Noise breaks the ties, leaving rounding.
      noise = np.random.default_rng(len(states)).integers(0, 3, batch["image"].shape)
      batch["image"] = np.clip(batch["image"].astype(np.int32) + noise, 0,
                               255).astype(batch["image"].dtype)
      states.append(state)
      batches.append(batch)
    stepped, metrics = jax.jit(jax.vmap(runs[0].step_fn))(
        _stack(states), _stack(batches))
    for k, single in enumerate(singles):
      expected, expected_metrics = single.train_step(states[k], batches[k])
      np.testing.assert_allclose(metrics["loss"][k],
                                 expected_metrics["loss"], rtol=1e-6)
      for x, y in zip(jax.tree.leaves(stepped.params),
                      jax.tree.leaves(expected.params)):
        np.testing.assert_allclose(np.asarray(x)[k], y, rtol=1e-6,
                                   atol=1e-6)

  def test_each_replica_is_a_run_of_its_own(self):
    """Slower than 20 s: two replicas trained to the end and evaluated,
    then a stopped and resumed replica run."""
    workdir = self.workdir()
    config = _config(self.paths, num_replicas=2, seed=3)
    result = train.train_and_evaluate(config, workdir)
    self.assertLen(result["replicas"], 2)
    test_size = len(data.load_dataset(config.data).test)
    for k in range(2):
      folder = os.path.join(workdir, f"replica_{k}")
      with open(os.path.join(folder, "config.json")) as f:
        saved = json.load(f)
      self.assertEqual((saved["seed"], saved["num_replicas"]), (3 + k, 1))
      with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
      self.assertEqual(metrics["run"]["replica"], k)
      self.assertEqual(metrics, _as_saved(result["replicas"][k]))
      history = [json.loads(l) for l in open(os.path.join(folder,
                                                          "history.jsonl"))]
      self.assertEqual([r["epoch"] for r in history], [1.0, 2.0])
      predictions = np.load(os.path.join(folder, "predictions.npz"))
      self.assertEqual(predictions["logits"].shape, (test_size, 10))
      model, variables, _ = train.load_model(folder)
      images, _ = data.load_dataset(config.data).test.get_batch(
          np.arange(2))
      self.assertEqual(model.apply(variables, images.astype(np.float32),
                                   train=False)[0].shape, (2, 10))
    # The replicas differ (their seeds do).
    a = np.load(os.path.join(workdir, "replica_0", "predictions.npz"))
    b = np.load(os.path.join(workdir, "replica_1", "predictions.npz"))
    self.assertFalse(np.allclose(a["logits"], b["logits"]))
    # The campaign's store: one line per replica, seed 3 + k.
    entry = campaign.Entry("mnist_lt", "ldam_drw", 2, 3,
                           (("num_replicas", 2),))
    path = os.path.join(self.workdir(), "store.jsonl")
    campaign._append_runs(entry, workdir, path, dict(  # pylint: disable=protected-access
        dataset="mnist_lt", method="ldam_drw", epochs=2, seed=3,
        overrides={"num_replicas": 2}), 10.0)
    lines = store.read(path)
    self.assertEqual([(l["seed"], l["replica"], l["replicas"], l["key"])
                      for l in lines],
                     [(3, 0, 2, entry.key),
                      (4, 1, 2, "mnist_lt/ldam_drw:2 seed=4 num_replicas=2")])
    for k, line in enumerate(lines):
      self.assertEqual(line["final"]["test"]["top1"],
                       result["replicas"][k]["final"]["test"]["top1"])
    # Stopped after 4 steps, the same command finishes the other steps.
    stopped = self.workdir()
    config.max_steps = 4
    train.train_and_evaluate(config, stopped)
    config.max_steps = -1
    resumed = train.train_and_evaluate(config, stopped)
    self.assertEqual(resumed["replicas"][1]["run"]["steps_this_run"],
                     resumed["replicas"][1]["run"]["total_steps"] - 4)

  def test_what_replicas_refuse(self):
    for field, value in (("stage2.name", "crt"),
                         ("augment.flip_mode", "alternating")):
      config = _config(self.paths, num_replicas=2)
      testdata.set_field(config, field, value)
      with self.assertRaisesRegex(ValueError, f"config.num_replicas=2: .*"
                                  f"{field}"):
        train.train_and_evaluate(config, self.workdir())


if __name__ == "__main__":
  absltest.main()
