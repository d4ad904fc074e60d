"""Tests for the one optimizer builder, `ltjax.train.make_optimizer`.

Each task's optimizer must give bit-identical updates to the composition it
replaced, written out here with optax: classification's SGD (coupled L2 decay
before heavy-ball / Nesterov momentum) and regression's Adam (coupled L2
decay before the Adam moments) with a learnable loss parameter on its own
constant Adam.
"""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ltjax import regression
from ltjax import train
from ltjax.regression import _optim as regression_optim


def _optim(name, **fields):
  values = dict(name=name, lr=0.1, momentum=0.9, nesterov=False,
                weight_decay=2e-4)
  values.update(fields)
  return ml_collections.ConfigDict(values)


def _run(tx, params, steps=5):
  """`steps` updates with pseudo-random gradients; the params after each."""
  state = tx.init(params)
  history = []
  for step in range(steps):
    keys = jax.random.split(jax.random.key(step), len(jax.tree.leaves(params)))
    grads = jax.tree.unflatten(
        jax.tree.structure(params),
        [jax.random.normal(k, p.shape) for k, p in
         zip(keys, jax.tree.leaves(params))])
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    history.append(params)
  return history


def _assert_same(test, got, want):
  """Bit-identical parameters after every step."""
  test.assertLen(got, len(want))
  for a, b in zip(got, want):
    test.assertEqual(jax.tree.structure(a), jax.tree.structure(b))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


SCHEDULE = optax.piecewise_constant_schedule(0.1, {2: 0.5, 4: 0.1})
MODEL = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(4, 3),
         "b": jnp.arange(3, dtype=jnp.float32)}


class MakeOptimizerTest(parameterized.TestCase):

  @parameterized.parameters((0.9, False), (0.9, True), (0.0, False))
  def test_sgd_is_the_classification_composition(self, momentum, nesterov):
    old = optax.chain(
        optax.add_decayed_weights(2e-4),
        optax.sgd(SCHEDULE, momentum=momentum or None, nesterov=nesterov))
    new = train.make_optimizer(
        _optim("sgd", momentum=momentum, nesterov=nesterov), SCHEDULE)
    _assert_same(self, _run(new, MODEL), _run(old, MODEL))

  def test_adam_is_torch_adam_with_coupled_decay(self):
    old = optax.chain(optax.add_decayed_weights(1e-4),
                      optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
                      optax.scale_by_learning_rate(SCHEDULE))
    new = train.make_optimizer(_optim("adam", weight_decay=1e-4), SCHEDULE)
    _assert_same(self, _run(new, MODEL), _run(old, MODEL))
    self.assertIs(regression.adam, train.adam)

  @parameterized.parameters("adam", "sgd")
  def test_loss_parameters_get_their_own_constant_adam(self, name):
    params = {"model": MODEL, "loss": {"noise_sigma": jnp.asarray(1.0)}}
    if name == "adam":
      model_tx = optax.chain(optax.add_decayed_weights(1e-4),
                             optax.scale_by_adam(),
                             optax.scale_by_learning_rate(SCHEDULE))
    else:
      model_tx = optax.chain(optax.add_decayed_weights(1e-4),
                             optax.sgd(SCHEDULE, momentum=0.9))
    old = optax.multi_transform(
        {"model": model_tx, "loss": optax.adam(1e-2)},
        {"model": jax.tree.map(lambda _: "model", MODEL),
         "loss": {"noise_sigma": "loss"}})
    optim = _optim(name, weight_decay=1e-4)
    new = train.make_optimizer(optim, SCHEDULE, loss_lr=1e-2)
    want = _run(old, params)
    _assert_same(self, _run(new, params), want)
    # The regression loop's name for it.
    _assert_same(self, _run(regression_optim.make_optimizer(
        optim, SCHEDULE, sigma_lr=1e-2), params), want)
    # The loss parameter follows Adam at 1e-2 regardless of the schedule:
    # its first step moves it by lr (Adam's first step is lr * sign(g)).
    self.assertAlmostEqual(
        abs(float(want[0]["loss"]["noise_sigma"]) - 1.0), 1e-2, places=6)

  def test_unknown_name_lists_the_known_ones(self):
    with self.assertRaisesRegex(ValueError,
                                r"config.optim.name: 'lamb'.*'sgd', 'adam'"):
      train.make_optimizer(_optim("lamb"), SCHEDULE)


if __name__ == "__main__":
  absltest.main()
