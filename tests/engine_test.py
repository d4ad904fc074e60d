"""The engine's extension points (`ltjax.train.make_step`) and task registry.

Each point is checked by a property or a formula written out here: SAM's
gradient against its definition on a quadratic, a batch transform's key and
output, a frozen teacher kept bit-identical in the state, a model with three
outputs, and method state advanced by a pure function.
"""

from absl.testing import absltest
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import data
from ltjax import recipes
from ltjax import train
import testdata


class _Model(nn.Module):
  """(logits [B, 3], features [B, 4], projection [B, 2])."""

  @nn.compact
  def __call__(self, x, *, train: bool):
    del train
    features = nn.relu(nn.Dense(4, name="body")(x))
    return (nn.Dense(3, name="head")(features), features,
            nn.Dense(2, name="proj")(features))


def _state(model, tx, x, extra=None):
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  return train.TrainState(
      step=jnp.zeros((), jnp.int32), params=variables["params"],
      batch_stats={}, opt_state=tx.init(variables["params"]),
      rng=jax.random.PRNGKey(1), extra={} if extra is None else extra)


def _batch(seed=0, size=8):
  rng = np.random.default_rng(seed)
  return {"input": rng.normal(size=(size, 5)).astype(np.float32),
          "label": rng.integers(0, 3, size).astype(np.int32)}


def _ce(params, outputs, batch, state):
  del params, state
  logits = outputs[0]
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
      logits, batch["label"])), logits


class SamTest(absltest.TestCase):

  def test_gradient_is_the_gradient_at_the_ascent_point(self):
    # L(w) = 0.5 w'Aw: g = Aw, e = rho g / |g|, SAM's gradient A(w + e).
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    a = m @ m.T + np.eye(4)
    w = rng.normal(size=4)
    rho = 0.3
    g = a @ w
    expected = a @ (w + rho * g / np.linalg.norm(g))

    def loss_fn(params):
      v = params["w"]
      return 0.5 * v @ jnp.asarray(a, jnp.float32) @ v, v

    (loss, aux), grads = train.sam_gradient(rho)(
        loss_fn, {"w": jnp.asarray(w, jnp.float32)})
    np.testing.assert_allclose(grads["w"], expected, rtol=1e-5)
    # Loss and auxiliary outputs are those of the first pass, at w.
    np.testing.assert_allclose(loss, 0.5 * w @ a @ w, rtol=1e-5)
    np.testing.assert_allclose(aux, w, rtol=1e-6)

  def test_rejects_a_negative_radius(self):
    with self.assertRaisesRegex(ValueError, "rho"):
      train.sam_gradient(-0.1)

  def test_step_with_sam_differs_from_the_plain_step(self):
    model, tx = _Model(), optax.sgd(0.1)
    batch = _batch()
    plain = train.make_step(model, tx, loss=_ce, learning_rate=lambda s: 0.1)
    sam = train.make_step(model, tx, loss=_ce, learning_rate=lambda s: 0.1,
                          gradient=train.sam_gradient(0.5))
    state = _state(model, tx, batch["input"])
    (s1, m1), (s2, m2) = plain(state, batch), sam(state, batch)
    self.assertEqual(float(m1["loss"]), float(m2["loss"]))
    self.assertFalse(np.allclose(s1.params["head"]["kernel"],
                                 s2.params["head"]["kernel"]))


class TransformTest(absltest.TestCase):

  def test_transform_sees_the_step_key_and_its_output_is_trained_on(self):
    model, tx = _Model(), optax.sgd(0.1)
    batch = _batch()
    seen = {}

    def mix(b, key):
      seen["key"] = key
      # Mixup-like: inputs and targets of the batch are replaced.
      lam = jax.random.uniform(key)
      return {**b, "input": lam * b["input"] + (1 - lam) * b["input"][::-1],
              "label": b["label"][::-1]}

    step = train.make_step(model, tx, loss=_ce, learning_rate=lambda s: 0.1,
                           transforms=(mix,))
    state = _state(model, tx, batch["input"])
    state = state.replace(step=jnp.asarray(7, jnp.int32))
    _, metrics = step(state, batch)  # not jitted: `seen` keeps the key
    key = jax.random.fold_in(state.rng, 7)
    np.testing.assert_array_equal(seen["key"], key)
    lam = float(jax.random.uniform(key))
    mixed = lam * batch["input"] + (1 - lam) * batch["input"][::-1]
    logits = model.apply({"params": state.params}, mixed, train=True)[0]
    expected = optax.softmax_cross_entropy_with_integer_labels(
        logits, batch["label"][::-1]).mean()
    np.testing.assert_allclose(metrics["loss"], expected, rtol=1e-5)


class StateTest(absltest.TestCase):

  def test_frozen_teacher_in_extra_is_read_but_never_changed(self):
    model, tx = _Model(), optax.sgd(0.5)
    batch = _batch()
    teacher = model.init(jax.random.PRNGKey(9), batch["input"],
                         train=False)["params"]

    def distill(params, outputs, batch, state):
      del params
      target = jax.nn.softmax(model.apply(
          {"params": state.extra["teacher"]}, batch["input"],
          train=False)[0] / 2.0)
      student = jax.nn.log_softmax(outputs[0] / 2.0)
      return -jnp.mean(jnp.sum(target * student, axis=-1)), outputs[0]

    step = jax.jit(train.make_step(model, tx, loss=distill,
                                   learning_rate=lambda s: 0.5))
    state = _state(model, tx, batch["input"], extra={"teacher": teacher})
    losses = []
    for _ in range(20):
      state, metrics = step(state, batch)
      losses.append(float(metrics["loss"]))
    jax.tree.map(np.testing.assert_array_equal, state.extra["teacher"],
                 teacher)
    self.assertLess(losses[-1], losses[0])

  def test_third_model_output_reaches_the_loss(self):
    model, tx = _Model(), optax.sgd(0.1)
    batch = _batch()

    def projection_loss(params, outputs, batch, state):
      del params, batch, state
      return jnp.mean(outputs[2] ** 2), outputs[0]

    step = train.make_step(model, tx, loss=projection_loss,
                           learning_rate=lambda s: 0.1)
    state = _state(model, tx, batch["input"])
    new, _ = step(state, batch)
    self.assertFalse(np.allclose(new.params["proj"]["kernel"],
                                 state.params["proj"]["kernel"]))
    # The classifier head is not in that loss: its parameters stay.
    np.testing.assert_array_equal(new.params["head"]["kernel"],
                                  state.params["head"]["kernel"])

  def test_advance_updates_method_state_purely(self):
    model, tx = _Model(), optax.sgd(0.1)
    batch = _batch(size=6)

    def advance(extra, aux, batch, step):
      del aux, step
      counts = extra["class_counts"] + jnp.bincount(batch["label"], length=3)
      return {**extra, "class_counts": counts}

    step = jax.jit(train.make_step(model, tx, loss=_ce,
                                   learning_rate=lambda s: 0.1,
                                   advance=advance))
    state = _state(model, tx, batch["input"],
                   extra={"class_counts": jnp.zeros(3, jnp.int32)})
    for _ in range(3):
      state, _ = step(state, batch)
    np.testing.assert_array_equal(state.extra["class_counts"],
                                  3 * np.bincount(batch["label"], minlength=3))


class SamConfigTest(testdata.TinyBenchmarksTestCase):

  def _first_step(self, sam_rho):
    config = recipes.build("mnist_lt", "ldam_drw", "2")
    config.data.path = self.paths["mnist_lt"]
    config.data.imbalance_ratio = 4.0
    config.data.val_per_class = 2
    config.batch_size = 16
    config.optim.sam_rho = sam_rho
    train.validate_config(config)
    run = train.build_run(config, data.load_dataset(config.data))
    plan = run.task.epoch_plan(0)
    return run.train_step(run.init_state(), train.train_batch(run, 0, plan))

  def test_optim_sam_rho_turns_the_step_into_sam(self):
    (plain, m1), (sam, m2) = self._first_step(0.0), self._first_step(0.05)
    # Same first-pass loss (at w); a different update (gradient at w + e).
    self.assertEqual(float(m1["loss"]), float(m2["loss"]))
    self.assertFalse(np.allclose(plain.params["head"]["kernel"],
                                 sam.params["head"]["kernel"]))

  def test_negative_radius_is_a_config_error(self):
    config = recipes.build("mnist_lt", "ce")
    config.optim.sam_rho = -0.1
    with self.assertRaisesRegex(ValueError, r"config.optim.sam_rho"):
      train.validate_config(config)


class TaskRegistryTest(absltest.TestCase):

  def test_unknown_task_lists_the_known_ones(self):
    with self.assertRaisesRegex(ValueError,
                                r"config.task.*classification.*regression"):
      train.get_task("segmentation")

  def test_both_tasks_resolve_to_task_classes(self):
    for name in ("classification", "regression"):
      task = train.get_task(name)
      self.assertTrue(issubclass(task, train.Task))
      self.assertEqual(task.name, name)


if __name__ == "__main__":
  absltest.main()
