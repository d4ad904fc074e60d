"""Tests of RIDE's shared-backbone expert models (ltjax/models/_experts.py)."""

from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import models


def _count(params) -> int:
  return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))


def _init(name, shape, **kwargs):
  model = models.build_model(name, **kwargs)
  return model, model.init(jax.random.key(0), jnp.zeros(shape), train=False)


def _shapes(name, shape, **kwargs):
  """Variable shapes without computing them (fast for the big models)."""
  model = models.build_model(name, **kwargs)
  return jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))


def _ride_cifar_params(num_experts, c, reduce_dimension, n=5):
  """ride_resnet_cifar.ResNet_s's parameter count from its layer shapes."""
  w2, w3 = (24, 48) if reduce_dimension else (32, 64)
  conv = lambda cin, cout: 9 * cin * cout
  bn = lambda ch: 2 * ch
  block = lambda cin, cout: conv(cin, cout) + bn(cout) + conv(cout, cout) + (
      bn(cout))
  shared = conv(3, 16) + bn(16) + n * block(16, 16)
  expert = (block(16, w2) + (n - 1) * block(w2, w2) + block(w2, w3)
            + (n - 1) * block(w3, w3) + w3 * c + c)  # nn.Linear with bias
  return shared + num_experts * expert


def _strip_experts(params):
  """Plain-model parameter shapes from an E = 1 expert model's."""
  out = {k: v for k, v in params.items() if k != "expert0"}
  out.update(params["expert0"])
  return out


class ExpertModelsTest(parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_cifar_parameter_count_matches_ride(self, reduce_dimension):
    variables = _shapes("resnet32_experts", (1, 32, 32, 3), num_classes=100,
                        num_experts=3, reduce_dimension=reduce_dimension)
    self.assertEqual(_count(variables["params"]),
                     _ride_cifar_params(3, 100, reduce_dimension))

  @parameterized.parameters(
      ("resnet32", (1, 32, 32, 3)), ("mnist_cnn", (1, 28, 28, 1)),
      ("resnet50", (1, 32, 32, 3)), ("mlp", (1, 12)))
  def test_one_expert_equals_plain_model(self, name, shape):
    plain = _shapes(name, shape, num_classes=10)
    experts = _shapes(name + "_experts", shape, num_classes=10,
                      num_experts=1)
    shapes = lambda t: jax.tree_util.tree_map(lambda p: p.shape, t)
    self.assertEqual(shapes(_strip_experts(experts["params"])),
                     shapes(plain["params"]))
    self.assertEqual("batch_stats" in experts, "batch_stats" in plain)
    if "batch_stats" in plain:
      self.assertEqual(shapes(_strip_experts(experts["batch_stats"])),
                       shapes(plain["batch_stats"]))

  def test_resnet50_reduced_widths(self):
    # RIDE's reduce_dimension: layer3/4 planes 192/384, so D = 4 * 384.
    model = models.build_model("resnet50_experts", num_classes=5,
                               num_experts=2, reduce_dimension=True)
    x = jnp.zeros((2, 32, 32, 3))
    variables = jax.eval_shape(
        lambda: model.init(jax.random.key(0), x, train=False))
    logits, features = jax.eval_shape(
        lambda v: model.apply(v, x, train=False), variables)
    self.assertEqual(logits.shape, (2, 2, 5))
    self.assertEqual(features.shape, (2, 2, 1536))
    self.assertEqual(
        variables["params"]["expert1"]["layer3_0"]["conv1"]["kernel"].shape,
        (1, 1, 512, 192))

  @parameterized.parameters("linear", "normalized")
  def test_output_contract_and_heads(self, head):
    model, variables = _init("mnist_cnn_experts", (1, 28, 28, 1),
                             num_classes=7, num_experts=3, head=head,
                             reduce_dimension=True)
    x = jax.random.normal(jax.random.key(1), (4, 28, 28, 1))
    (logits, features), _ = model.apply(variables, x, train=True,
                                        mutable=["batch_stats"])
    self.assertEqual(logits.shape, (3, 4, 7))
    self.assertEqual(features.shape, (3, 4, 96))
    self.assertEqual(logits.dtype, jnp.float32)
    heads = models.expert_heads(variables["params"])
    self.assertLen(heads, 3)
    for k, head_params in enumerate(heads):
      np.testing.assert_allclose(
          models.apply_head(head_params, features[k], kind=head), logits[k],
          rtol=1e-5, atol=1e-5)
    if head == "normalized":
      self.assertLessEqual(float(jnp.max(jnp.abs(logits))), 1.0 + 1e-5)
    # Experts are initialised independently, so their outputs differ.
    self.assertGreater(float(jnp.max(jnp.abs(logits[0] - logits[1]))), 1e-4)

  def test_mlp_experts_share_the_first_layer(self):
    model, variables = _init("mlp_experts", (1, 12), num_classes=4,
                             num_experts=2, reduce_dimension=True,
                             widths=(16, 8))
    params = variables["params"]
    self.assertEqual(params["dense1"]["kernel"].shape, (12, 16))
    self.assertEqual(params["expert1"]["dense2"]["kernel"].shape, (16, 6))
    logits, features = model.apply(variables, jnp.ones((5, 12)), train=True)
    self.assertEqual(logits.shape, (2, 5, 4))
    self.assertEqual(features.shape, (2, 5, 6))

  def test_aggregate(self):
    z = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(models.aggregate_expert_logits(z),
                               z.mean(0), rtol=1e-6)
    w = np.array([0.2, 0.5, 0.3], np.float32)
    np.testing.assert_allclose(models.aggregate_expert_logits(z, w),
                               w[0] * z[0] + w[1] * z[1] + w[2] * z[2],
                               rtol=1e-5)
    with self.assertRaisesRegex(ValueError, "weights"):
      models.aggregate_expert_logits(z, w[:2])

  def test_bad_num_experts(self):
    with self.assertRaisesRegex(ValueError, "num_experts"):
      _init("mnist_cnn_experts", (1, 28, 28, 1), num_classes=3,
            num_experts=0)


if __name__ == "__main__":
  import absl.testing.absltest
  absl.testing.absltest.main()
