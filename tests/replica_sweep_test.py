"""A sweep of one scalar over the replicas (`config.sweep`).

Replica k of `num_replicas=K, sweep.field=F, sweep.grid=(v_0..v_K-1)` is the
run with F = v_k and the same seed; the value enters the one compiled
(vmapped) step as data. optim.lr: replica k's updates are replica 0's
(built with lr = v_0) times v_k / v_0; loss.tau: the objective reads the
traced tau. Replica k is compared with the single run of F = v_k as
tests/replicas_test.py compares replica k with the run of seed k.
"""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized
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

# Tolerances (absolute, on the parameters; measured on the CPU, then about
# doubled). Replica k vs the single run with grid[k] after one step: the
# vmapped step batches the replicas' convolutions and sums in another order
# (tests/replicas_test.py), which is already so for replica 0, whose value
# is the single run's; SGD: <= 1.1e-6; Adam divides each gradient by its
# own magnitude, so elements with a near-zero gradient move by a rounding-
# sized difference times lr: <= 5.5e-5 at lr 0.01. Replica k vs replica k
# of the same K-replica program without a sweep (the same batched
# arithmetic) after two steps: only the value's arithmetic differs
# (lr = grid[0] * (grid[k] / grid[0])): SGD <= 5.3e-7, Adam <= 2.7e-6;
# the logit-adjusted loss's traced tau: bit-identical (0.0).
RTOL = 1e-6


def _config(paths, method="ldam_drw", **fields):
  config = shrink(recipes.build("mnist_lt", method, "2"), paths)
  config.checkpoint_every_steps = 4
  config.data_on_device = "off"
  for key, value in fields.items():
    testdata.set_field(config, key, value)
  return config


def _stack(trees):
  return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def _assert_close(stacked, expected, k, rtol, atol):
  """Replica k of `stacked` equals `expected` (or its replica k)."""
  for x, y in zip(jax.tree.leaves(stacked), jax.tree.leaves(expected)):
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_allclose(x[k], y[k] if y.ndim == x.ndim else y,
                               rtol=rtol, atol=atol)


def _noised(batch, seed):
  """The batch with max-pool ties broken (tests/replicas_test.py: the
  batched and the single max-pool route a tie's gradient differently)."""
  noise = np.random.default_rng(seed).integers(0, 3, batch["image"].shape)
  image = np.clip(batch["image"].astype(np.int32) + noise, 0, 255)
  return {**batch, "image": image.astype(batch["image"].dtype)}


class ReplicaSweepTest(testdata.TinyBenchmarksTestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ("lr_sgd", "optim.lr", (0.05, 0.1, 0.2), "ldam_drw", {}, 2e-6, 1e-6),
      ("lr_adam", "optim.lr", (0.002, 0.01), "ldam_drw",
       {"optim.name": "adam"}, 1e-4, 1e-5),
      ("tau_logit_adjusted", "loss.tau", (1.0, 0.0, 2.5), "logit_adjusted",
       {}, 2e-6, 1e-6),
      ("tau_pairwise", "loss.tau", (0.5, 2.0), "ldam_drw",
       {"loss.name": "pairwise_margin", "loss.margins": "logit_adjusted",
        "model.head": "linear"}, 2e-6, 1e-6),
  )
  def test_sweep_replica_steps_as_the_run_with_its_value(
      self, field, grid, method, fields, atol, same_atol):
    count = len(grid)
    config = _config(self.paths, method, num_replicas=count, seed=3,
                     **{"sweep.field": field, "sweep.grid": grid}, **fields)
    train.validate_config(config)
    dataset = data.load_dataset(config.data)
    lead = train.build_run(_replicas.replica_config(config, 0), dataset)
    singles = [train.build_run(_config(self.paths, method, seed=3,
                                       **fields, **{field: v}), dataset)
               for v in grid]
    state = lead.init_state()
    for single in singles:  # one seed: the same initialisation
      for x, y in zip(jax.tree.leaves(state),
                      jax.tree.leaves(single.init_state())):
        np.testing.assert_array_equal(x, y)
    batches = []
    for step in range(2):
      batch = _noised(train.train_batch(lead, step, train.epoch_plans(
          lead.task, 0)), step)
      expected = train.train_batch(singles[-1], step, train.epoch_plans(
          singles[-1].task, 0))
      np.testing.assert_array_equal(  # the same data order
          batch["label"], expected["label"])
      batches.append(batch)
    # The one compiled step of train_replicas: the lead's step, vmapped,
    # the swept values a vmapped argument.
    step = jax.jit(jax.vmap(lead.step_fn))
    hyper = _replicas.sweep_inputs(config)
    stacked, metrics = step(_stack([state] * count),
                            _stack([batches[0]] * count), hyper)
    for k, single in enumerate(singles):
      # One step: replica k is the single run with grid[k].
      expected, expected_metrics = jax.jit(single.step_fn)(
          single.init_state(), batches[0])
      np.testing.assert_allclose(metrics["loss"][k],
                                 expected_metrics["loss"], rtol=RTOL)
      np.testing.assert_allclose(metrics["lr"][k], expected_metrics["lr"],
                                 rtol=RTOL)
      _assert_close(stacked.params, expected.params, k, RTOL, atol)
    # Two steps (the momentum / Adam moments carried): replica k is replica
    # k of the same K-replica program without a sweep, each replica the
    # single run with grid[k], to the rounding of the value's arithmetic.
    stacked, metrics = step(stacked, _stack([batches[1]] * count), hyper)
    finals = []
    for k, single in enumerate(singles):
      plain = jax.jit(jax.vmap(single.step_fn))
      expected = _stack([single.init_state()] * count)
      for batch in batches:
        expected, expected_metrics = plain(expected,
                                           _stack([batch] * count))
      np.testing.assert_allclose(metrics["loss"][k],
                                 expected_metrics["loss"][k], rtol=RTOL)
      _assert_close(stacked.params, expected.params, k, RTOL, same_atol)
      finals.append(jax.tree.map(lambda x: np.asarray(x)[k],
                                 expected.params))
    # The values matter: the runs differ far beyond the tolerance (a sweep
    # that trained every replica at grid[0] fails above).
    for k in range(1, count):
      gap = max(float(np.max(np.abs(a - b)))
                for a, b in zip(jax.tree.leaves(finals[0]),
                                jax.tree.leaves(finals[k])))
      self.assertGreater(gap, 10 * atol)

  @parameterized.named_parameters(
      ("unknown_field", {"sweep.field": "optim.momentum",
                         "sweep.grid": (0.5, 0.9)},
       r"config.sweep.field: 'optim.momentum' cannot be swept; supported: "
       r"\['optim.lr', 'loss.tau'\]"),
      ("too_few", {"sweep.field": "optim.lr", "sweep.grid": (0.1,)},
       r"config.sweep.grid: needs one value per replica: 1 values"),
      ("one_replica", {"sweep.field": "optim.lr", "sweep.grid": (0.1,),
                       "num_replicas": 1},
       r"config.sweep.grid: .*a sweep needs num_replicas >= 2"),
      ("lr_zero", {"sweep.field": "optim.lr", "sweep.grid": (0.1, 0.0)},
       r"config.sweep.grid: are values of optim.lr, which must be > 0"),
      ("tau_negative", {"sweep.field": "loss.tau", "sweep.grid": (1.0, -1.0),
                        "loss.name": "logit_adjusted"},
       r"config.sweep.grid: are values of loss.tau, which must be >= 0"),
      ("tau_unread", {"sweep.field": "loss.tau", "sweep.grid": (1.0, 2.0)},
       r"config.sweep.field: 'loss.tau' is swept, but the loss does not "
       r"read loss.tau .*loss.name='ldam'"),
      ("grid_without_field", {"sweep.grid": (1.0, 2.0)},
       r"config.sweep.grid: is set .* but config.sweep.field is empty"),
  )
  def test_sweep_errors(self, fields, message):
    config = _config(self.paths, num_replicas=2)
    for key, value in fields.items():
      testdata.set_field(config, key, value)
    with self.assertRaisesRegex(ValueError, message):
      train.validate_config(config)

  def test_sweep_replicas_are_runs_with_their_values(self):
    """A 2-step sweep trained end to end: each replica's config.json and
    store line carry its value; the same command resumes it."""
    grid = (0.05, 0.2)
    workdir = self.workdir()
    config = _config(self.paths, num_replicas=2, seed=3, max_steps=2,
                     **{"sweep.field": "optim.lr", "sweep.grid": grid})
    result = train.train_and_evaluate(config, workdir)
    self.assertLen(result["replicas"], 2)
    for k, lr in enumerate(grid):
      with open(os.path.join(workdir, f"replica_{k}", "config.json")) as f:
        saved = json.load(f)
      self.assertEqual((saved["seed"], saved["num_replicas"],
                        saved["optim"]["lr"], saved["sweep"]["field"]),
                       (3, 1, lr, ""))
    a = np.load(os.path.join(workdir, "replica_0", "predictions.npz"))
    b = np.load(os.path.join(workdir, "replica_1", "predictions.npz"))
    self.assertFalse(np.allclose(a["logits"], b["logits"]))
    # The workdir's config is the sweep's: the same command resumes.
    train.train_and_evaluate(config, workdir)
    # The campaign's store: one line per replica, its value an override.
    entry = campaign.Entry(
        "mnist_lt", "ldam_drw", 2, 3,
        (("num_replicas", 2), ("sweep.field", "optim.lr"),
         ("sweep.grid", grid)))
    path = os.path.join(self.workdir(), "store.jsonl")
    campaign._append_runs(entry, workdir, path, dict(  # pylint: disable=protected-access
        dataset="mnist_lt", method="ldam_drw", epochs=2, seed=3,
        overrides=dict(entry.overrides)), 10.0)
    lines = store.read(path)
    self.assertEqual(
        [(l["seed"], l["replica"], l["overrides"]) for l in lines],
        [(3, k, {"num_replicas": 2, "optim.lr": lr})
         for k, lr in enumerate(grid)])
    self.assertEqual(
        [l["key"] for l in lines],
        [f"mnist_lt/ldam_drw:2 seed=3 num_replicas=2 optim.lr={lr}"
         for lr in grid])
    # The recipe's lr is 0.05: only replica 1's differs from it.
    self.assertEqual([l["changed"].get("optim.lr") for l in lines],
                     [None, 0.2])
    # A plan lists the sweep; its replicas' keys are the lines'.
    plan = ("mnist_lt/ldam_drw:2 3 num_replicas=2 sweep.field=optim.lr "
            "sweep.grid=0.05,0.2")
    self.assertEqual(campaign.parse_plan(plan), [entry])
    self.assertEqual(campaign.replica_keys(entry), [l["key"] for l in lines])
    self.assertIn("--config.sweep.grid=(0.05, 0.2)", campaign.command(
        entry, self.workdir(), [],
        campaign.Options(data=(f"mnist_lt={self.paths['mnist_lt']}",))))
    with self.assertRaisesRegex(ValueError, "sweep.grid repeats a value"):
      campaign.parse_plan(plan.replace("0.05,0.2", "0.2,0.2"))


if __name__ == "__main__":
  absltest.main()
