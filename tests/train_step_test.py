"""Tests for the train step: objectives, schedules, optimizer, sharding."""

from absl.testing import absltest
from absl.testing import parameterized
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import losses
from ltjax import models
from ltjax import train
from ltjax.data import _augment
from ltjax.train import _objectives
from ltjax.train import _parallel

COUNTS = np.array([500, 300, 180, 108, 65, 39, 23, 14, 8, 5])


def loss_config(**overrides):
  cfg = train.default_config().loss
  with cfg.unlocked():
    cfg.update(overrides)
  return cfg


def random_logits(seed, batch=32):
  rng = np.random.default_rng(seed)
  z = rng.standard_normal((batch, 10)).astype(np.float32)
  y = rng.integers(0, 10, size=batch).astype(np.int32)
  return np.tanh(z), y


class ObjectiveTest(parameterized.TestCase):

  @parameterized.parameters(*sorted(_objectives.LOSSES))
  def test_every_loss_builds_and_is_finite(self, name):
    objective = train.make_objective(loss_config(name=name), COUNTS,
                                     steps_per_epoch=10)
    z, y = random_logits(0)
    value = jax.jit(objective)(z, y, jnp.int32(0))
    self.assertEqual(value.shape, ())
    self.assertTrue(np.isfinite(value))

  def test_unweighted_is_the_mean(self):
    z, y = random_logits(1)
    objective = train.make_objective(loss_config(name="ce"), COUNTS,
                                     steps_per_epoch=10)
    np.testing.assert_allclose(
        objective(z, y, 0), np.mean(losses.weighted_cross_entropy(z, y)),
        rtol=1e-6)

  def test_drw_reduction_matches_pytorch_weighted_ce(self):
    z, y = random_logits(2)
    objective = train.make_objective(
        loss_config(name="ldam", reweight="drw", drw_start_epoch=3), COUNTS,
        steps_per_epoch=10)
    per_example = np.asarray(losses.ldam_loss(z, y, class_counts=COUNTS))
    np.testing.assert_allclose(objective(z, y, 29), per_example.mean(),
                               rtol=1e-5)
    beta = 0.9999
    w = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    w = w * 10 / w.sum()
    expected = np.sum(w[y] * per_example) / np.sum(w[y])
    np.testing.assert_allclose(objective(z, y, 30), expected, rtol=1e-5)

  def test_default_reweights(self):
    self.assertEqual(_objectives.resolve_reweight(loss_config(name="ce")),
                     "none")
    self.assertEqual(
        _objectives.resolve_reweight(loss_config(name="cb_focal")),
        "class_balanced")
    self.assertEqual(
        _objectives.resolve_reweight(loss_config(name="weighted_ce")),
        "inverse")
    self.assertEqual(
        _objectives.resolve_reweight(loss_config(name="cb_focal",
                                                 reweight="none")), "none")

  def test_pairwise_margin_logit_adjusted_equals_logit_adjusted(self):
    z, y = random_logits(3)
    pairwise = train.make_objective(
        loss_config(name="pairwise_margin", margins="logit_adjusted",
                    tau=1.5), COUNTS, steps_per_epoch=1)
    adjusted = train.make_objective(loss_config(name="logit_adjusted",
                                                tau=1.5), COUNTS,
                                    steps_per_epoch=1)
    np.testing.assert_allclose(pairwise(z, y, 0), adjusted(z, y, 0),
                               rtol=1e-5)

  @parameterized.parameters(("balanced_softmax", 1.0), ("logit_adjusted", 1.5))
  def test_deferred_adjustment_is_ce_then_the_adjusted_loss(self, name, tau):
    # Bag-of-Tricks' BalancedSoftmaxCE with drw: log(1) = 0 added before the
    # switch epoch, log n_c from it; no class weights (a plain mean).
    z, y = random_logits(4)
    objective = jax.jit(train.make_objective(
        loss_config(name=name, tau=tau, deferred_adjustment=True,
                    drw_start_epoch=3), COUNTS, steps_per_epoch=10))
    offset = (np.log(COUNTS) if name == "balanced_softmax"
              else tau * np.log(COUNTS / COUNTS.sum()))

    def ce(logits):
      logits = logits.astype(np.float64)
      top = logits.max(axis=1, keepdims=True)
      lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
      return np.mean(lse - logits[np.arange(len(y)), y])

    np.testing.assert_allclose(objective(z, y, jnp.int32(29)), ce(z),
                               rtol=1e-5)
    np.testing.assert_allclose(objective(z, y, jnp.int32(30)),
                               ce(z + offset[None, :]), rtol=1e-5)
    # Without deferral the adjusted loss applies from step 0.
    plain = train.make_objective(loss_config(name=name, tau=tau), COUNTS,
                                 steps_per_epoch=10)
    np.testing.assert_allclose(plain(z, y, 0), ce(z + offset[None, :]),
                               rtol=1e-5)

  def test_deferred_adjustment_needs_a_shifted_ce(self):
    config = train.default_config()
    config.loss.name = "ldam"
    config.model.head = "normalized"
    config.loss.deferred_adjustment = True
    with self.assertRaisesRegex(ValueError,
                                "config.loss.deferred_adjustment"):
      train.validate_config(config, check_data=False)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "loss.name 'ldam_v2'"):
      train.make_objective(loss_config(name="ldam_v2"), COUNTS,
                           steps_per_epoch=1)
    with self.assertRaisesRegex(ValueError, "classes \\[2\\] have none"):
      train.make_objective(loss_config(name="ce"), np.array([5, 3, 0]),
                           steps_per_epoch=1)


class ScheduleTest(absltest.TestCase):

  def test_warmup_step_matches_ldam_repo(self):
    def ldam_repo_lr(epoch, base=0.1):  # adjust_learning_rate, 0-based epoch
      epoch = epoch + 1
      if epoch <= 5:
        return base * epoch / 5
      if epoch > 180:
        return base * 0.0001
      if epoch > 160:
        return base * 0.01
      return base

    schedule = train.warmup_step_schedule(0.1, steps_per_epoch=97)
    for epoch in range(200):
      for step in (epoch * 97, epoch * 97 + 96):
        np.testing.assert_allclose(schedule(step), ldam_repo_lr(epoch),
                                   rtol=1e-6, err_msg=f"epoch {epoch}")

  def test_cosine(self):
    schedule = train.cosine_schedule(0.2, total_steps=100, warmup_steps=10)
    np.testing.assert_allclose(schedule(0), 0.0, atol=1e-8)
    np.testing.assert_allclose(schedule(10), 0.2, rtol=1e-6)
    np.testing.assert_allclose(schedule(55), 0.1, rtol=1e-5)
    np.testing.assert_allclose(schedule(100), 0.0, atol=1e-7)

  def test_sgd_matches_torch_update_rule(self):
    # torch.optim.SGD(lr, momentum=m, weight_decay=wd), written out:
    # g <- g + wd p; buf <- m buf + g (buf = g at the first step); p -= lr buf
    lr, m, wd = 0.1, 0.9, 0.01
    p = np.array([1.0, -2.0, 3.0])
    grads = [np.array([0.5, 0.1, -0.3]), np.array([-0.2, 0.4, 0.1]),
             np.array([0.3, -0.1, 0.2])]
    buf, expected = None, p.copy()
    for g in grads:
      g = g + wd * expected
      buf = g if buf is None else m * buf + g
      expected = expected - lr * buf
    tx = train.sgd(lambda step: lr, momentum=m, weight_decay=wd)
    params = jnp.asarray(p, jnp.float32)
    state = tx.init(params)
    for g in grads:
      updates, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
      params = params + updates
    np.testing.assert_allclose(params, expected, rtol=1e-6)


def _tiny_step_setup(num_devices, loss_name="ldam", reweight="drw"):
  mesh = _parallel.data_mesh(jax.devices()[:num_devices])
  model = models.build_model("mnist_cnn", num_classes=10,
                             head="normalized" if loss_name == "ldam"
                             else "linear")
  schedule = train.warmup_step_schedule(0.1, steps_per_epoch=2,
                                        warmup_epochs=1, decay_epochs=(2,),
                                        decay_factors=(0.1,))
  tx = train.sgd(schedule, weight_decay=5e-4)
  objective = train.make_objective(
      loss_config(name=loss_name, reweight=reweight, drw_start_epoch=1),
      COUNTS, steps_per_epoch=2)

  def preprocess(images, key):
    return _augment.augment(images, key, mean=_augment.MNIST_MEAN,
                            std=_augment.MNIST_STD, padding=2, flip=False)

  step = jax.jit(
      train.make_train_step(model, tx, objective, preprocess, schedule),
      in_shardings=(_parallel.replicated(mesh), _parallel.batch_sharded(mesh)),
      out_shardings=(_parallel.replicated(mesh),
                     _parallel.replicated(mesh)),
      donate_argnums=0)
  state = jax.device_put(
      train.create_train_state(model, tx, jnp.zeros((1, 28, 28, 1)), seed=0),
      _parallel.replicated(mesh))
  return mesh, step, state


def _batches(num, batch=32):
  rng = np.random.default_rng(0)
  for _ in range(num):
    yield {"image": rng.integers(0, 256, (batch, 28, 28, 1), dtype=np.uint8),
           "label": rng.integers(0, 10, batch).astype(np.int32)}


class StepTest(absltest.TestCase):

  def test_sharded_step_equals_unsharded(self):
    # Each step is taken from the same state on 1 and on 8 devices. One of
    # these steps (the DRW switch) is ill-conditioned: a 1e-7 relative
    # perturbation of the parameters moves its result by ~1e-5 on one
    # device, so over several chained steps any reduction-order change
    # compounds past a fixed tolerance (it did on some CPUs). The property
    # is therefore per step: sharding changes a step's result no more than
    # float32 round-off of its input does.
    self.assertGreaterEqual(jax.device_count(), 8)
    mesh1, step1, state = _tiny_step_setup(1)
    mesh8, step8, _ = _tiny_step_setup(8)
    host = jax.device_get(state)
    rng = np.random.default_rng(1)

    def run(step, mesh, host_state, batch):
      new, metrics = step(
          jax.device_put(host_state, _parallel.replicated(mesh)),
          _parallel.global_batch(batch, _parallel.batch_sharded(mesh)))
      return jax.device_get(new), jax.device_get(metrics)

    def max_diff(a, b):
      return max(float(np.max(np.abs(np.asarray(x, np.float64) - y)))
                 for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    initial = host
    for batch in _batches(4):
      single, m1 = run(step1, mesh1, host, batch)
      sharded, m8 = run(step8, mesh8, host, batch)
      nudged = host.replace(params=jax.tree.map(
          lambda x: (x * (1 + 1e-7 * rng.standard_normal(x.shape))
                     ).astype(x.dtype), host.params))
      roundoff, _ = run(step1, mesh1, nudged, batch)
      self.assertEqual(int(sharded.step), int(single.step))
      bound = 10 * max_diff(single.params, roundoff.params) + 1e-6
      self.assertLessEqual(max_diff(single.params, sharded.params), bound)
      self.assertLessEqual(max_diff(single.batch_stats, sharded.batch_stats),
                           10 * max_diff(single.batch_stats,
                                         roundoff.batch_stats) + 1e-6)
      chex.assert_trees_all_close(m1, m8, rtol=1e-4, atol=1e-5)
      host = single
    # ... and far closer than the steps' change of the parameters (the
    # comparison is not vacuous).
    self.assertGreater(max_diff(host.params, initial.params), 1e-2)

  def test_compiles_once_across_drw_switch_and_lr_decay(self):
    mesh, step, state = _tiny_step_setup(2)
    sharding = _parallel.batch_sharded(mesh)
    losses_seen = []
    for batch in _batches(6):  # DRW starts at step 2, lr decays at step 4
      state, metrics = step(state, _parallel.global_batch(batch, sharding))
      losses_seen.append(float(metrics["loss"]))
    self.assertEqual(step._cache_size(), 1)  # pylint: disable=protected-access
    self.assertEqual(int(state.step), 6)
    self.assertTrue(all(np.isfinite(losses_seen)))

  def test_state_leaves_do_not_alias(self):
    # A donated step fails if one buffer sits in two leaves.
    _, _, state = _tiny_step_setup(1)
    leaves = jax.tree.leaves(state)
    pointers = [leaf.unsafe_buffer_pointer() for leaf in leaves
                if leaf.size]
    self.assertLen(set(pointers), len(pointers))


if __name__ == "__main__":
  absltest.main()
