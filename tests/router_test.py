"""Tests of RIDE's expert-assignment router (ltjax/experts/_router.py)."""

from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.experts import _router


def _router_params(e, c, k, bias, use_features=False, d=8):
  router = _router.ExpertRouter(num_experts=e, top_choices_num=k,
                                use_features=use_features)
  f = jnp.ones((e, 1, d)) if use_features else None
  params = router.init(jax.random.key(0), jnp.zeros((e, 1, c)), f)["params"]
  params = jax.tree_util.tree_map(jnp.zeros_like, params)
  params["decide"]["bias"] = jnp.full((1,), bias)
  return params


class RouterTest(parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_always_and_never_continue(self, use_features):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 6, 5)).astype(np.float32)
    f = rng.normal(size=(3, 6, 8)).astype(np.float32) if use_features else None
    always = _router_params(3, 5, 2, 50.0, use_features)
    logits, used = _router.route(always, z, features=f)
    np.testing.assert_allclose(logits, z.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(used, 3)
    never = _router_params(3, 5, 2, -50.0, use_features)
    logits, used = _router.route(never, z, features=f)
    np.testing.assert_allclose(logits, z[0], rtol=1e-6)
    np.testing.assert_array_equal(used, 1)

  def test_stops_stay_stopped(self):
    # r_i = top-1 of the running mean m_i: continue iff it is > 0.
    params = _router_params(3, 2, 2, 0.0)
    params["decide"]["kernel"] = jnp.array([[1.0], [0.0]])
    z = np.array([
        [[-1.0, -2.0], [1.0, 0.0], [1.0, 0.0]],   # expert 0
        [[5.0, 4.0], [-5.0, -6.0], [1.0, 0.0]],   # expert 1
        [[7.0, 0.0], [3.0, 3.0], [0.0, 2.0]],     # expert 2
    ], np.float32)
    logits, used = _router.route(params, z)
    # Example 0 stops at step 0 although m_1 would continue.
    np.testing.assert_array_equal(used, [1, 2, 3])
    np.testing.assert_allclose(
        logits, [z[0, 0], z[:2, 1].mean(0), z[:, 2].mean(0)], rtol=1e-6)

  def test_targets_numpy(self):
    rng = np.random.default_rng(2)
    e, n, c = 4, 200, 3
    z = rng.normal(size=(e, n, c)).astype(np.float32)
    y = rng.integers(0, c, size=n)
    expected = np.zeros((e - 1, n), bool)
    for j in range(n):
      correct = [np.argmax(z[:i + 1, j].sum(0)) == y[j] for i in range(e)]
      for i in range(e - 1):
        expected[i, j] = (not correct[i]) and any(correct[i + 1:])
    np.testing.assert_array_equal(_router.router_targets(z, y), expected)
    self.assertTrue(expected.any())

  def test_loss_is_weighted_bce(self):
    r = np.array([[0.3, -1.2], [2.0, 0.1]], np.float32)
    t = np.array([[1, 0], [0, 1]], np.float32)
    sig = 1 / (1 + np.exp(-r))
    expected = np.mean(-(20 * t * np.log(sig) + (1 - t) * np.log(1 - sig)))
    np.testing.assert_allclose(
        _router.router_loss(r, t, pos_weight=20.0), expected, rtol=1e-5)

  def test_fit_router_learns_to_stop_where_first_expert_is_right(self):
    # Expert 0 is confidently right on half the examples and unsure and wrong
    # on the rest, where experts 1 and 2 are right: targets are 1 exactly on
    # the second half, and the top-1 logit separates the halves.
    rng = np.random.default_rng(3)
    n, c = 256, 4
    y = rng.integers(0, c, size=n)
    onehot = np.eye(c, dtype=np.float32)[y]
    easy = np.arange(n) < n // 2
    wrong = np.eye(c, dtype=np.float32)[(y + 1) % c]
    z0 = np.where(easy[:, None], 6.0 * onehot, 0.5 * wrong)
    z0 = z0 + 0.05 * rng.normal(size=(n, c))
    z12 = 4.0 * onehot + 0.05 * rng.normal(size=(2, n, c))
    z = np.concatenate([z0[None], z12]).astype(np.float32)
    targets = np.asarray(_router.router_targets(z, y))
    np.testing.assert_array_equal(targets[0], ~easy)
    params = _router.fit_router(z, y, key=jax.random.key(0), num_epochs=60,
                                batch_size=64, learning_rate=0.1,
                                top_choices_num=2, pos_weight=1.0)
    again = _router.fit_router(z, y, key=jax.random.key(0), num_epochs=60,
                               batch_size=64, learning_rate=0.1,
                               top_choices_num=2, pos_weight=1.0)
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, again)
    logits, used = _router.route(params, z)
    used = np.asarray(used)
    np.testing.assert_array_equal(used[easy], 1)
    self.assertTrue(np.all(used[~easy] >= 2))
    np.testing.assert_array_equal(np.argmax(logits, -1), y)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "expert_logits"):
      _router.router_targets(np.zeros((1, 3, 2)), np.zeros(3, int))
    with self.assertRaisesRegex(ValueError, "labels"):
      _router.router_targets(np.zeros((2, 3, 2)), np.zeros(4, int))


if __name__ == "__main__":
  import absl.testing.absltest
  absl.testing.absltest.main()
