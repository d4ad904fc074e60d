"""Tests for ltjax.models against independent counts, formulas and properties.

Kept fast on a 2-core CPU: tiny spatial inputs (the parameter count of a
conv net does not depend on the image size), one cached ResNet-32 init, and
`jax.eval_shape` (no convolutions run) for ResNet-50 / ResNeXt-50.
"""

import functools
from typing import Any

from absl.testing import absltest
from absl.testing import parameterized
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import models
from ltjax import text

FEATURE_DIMS = {"resnet32": 64, "mnist_cnn": 128, "mlp": 256, "resnet50": 2048,
                "resnext50_32x4d": 2048}
# Small inputs with the right channel count; any spatial size works.
TINY_INPUTS = {"resnet32": (4, 8, 8, 3), "mnist_cnn": (4, 8, 8, 1),
               "mlp": (4, 28, 28, 1), "resnet50": (2, 32, 32, 3),
               "resnext50_32x4d": (2, 32, 32, 3)}


def num_params(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def images(name, seed=0):
  return jax.random.normal(jax.random.key(seed), TINY_INPUTS[name])


# ---------------------------------------------------------------------------
# Parameter counts written out from the architectures, layer by layer.
# A k x k conv from c_in to c_out channels (groups g, no bias) has
# k * k * (c_in / g) * c_out weights; a BatchNorm on c channels has a scale
# and a bias (2c; its running mean / var are batch_stats, not params); a
# Dense from d to c has d * c + c.
# ---------------------------------------------------------------------------
def conv_count(k, c_in, c_out, groups=1):
  return k * k * (c_in // groups) * c_out


def resnet_cifar_count(n, num_classes, bias=True, k=1):
  """ResNet-(6n+2): stem conv3x3(3->16k)+BN, 3 stages of n basic blocks."""
  total = conv_count(3, 3, 16 * k) + 2 * 16 * k
  c_in = 16 * k
  for width in (16 * k, 32 * k, 64 * k):
    for _ in range(n):
      # conv3x3(c_in->w)+BN, conv3x3(w->w)+BN; option-A shortcut: 0 params.
      total += conv_count(3, c_in, width) + 2 * width
      total += conv_count(3, width, width) + 2 * width
      c_in = width
  return total + 64 * k * num_classes + (num_classes if bias else 0)


def bottleneck_resnet_count(groups, width_per_group, num_classes):
  """torchvision ResNet-50 layout: stem, [3, 4, 6, 3] bottlenecks, fc."""
  total = conv_count(7, 3, 64) + 2 * 64
  c_in = 64
  for planes, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
    width = planes * width_per_group // 64 * groups
    for block in range(blocks):
      total += conv_count(1, c_in, width) + 2 * width
      total += conv_count(3, width, width, groups) + 2 * width
      total += conv_count(1, width, 4 * planes) + 2 * 4 * planes
      if block == 0:  # projection shortcut: channels (and stride) change.
        total += conv_count(1, c_in, 4 * planes) + 2 * 4 * planes
      c_in = 4 * planes
  return total + 2048 * num_classes + num_classes


def mnist_cnn_count(widths, num_classes):
  total, c_in = 0, 1
  for w in widths:
    total += conv_count(3, c_in, w) + 2 * w
    c_in = w
  return total + c_in * num_classes + num_classes


def mlp_count(widths, num_classes, d_in=784):
  total = 0
  for w in widths:
    total += d_in * w + w
    d_in = w
  return total + d_in * num_classes + num_classes


def abstract_variables(model, shape):
  return jax.eval_shape(lambda k: model.init(k, jnp.zeros(shape), train=False),
                        jax.random.key(0))


# ---------------------------------------------------------------------------
# Independent NumPy references.
# ---------------------------------------------------------------------------
def np_conv3x3(x, w):
  """Cross-correlation, stride 1, zero padding 1: [B,H,W,I] x [3,3,I,O]."""
  x = np.asarray(x, np.float64)
  w = np.asarray(w, np.float64)
  b, h, wd, _ = x.shape
  xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  out = np.zeros((b, h, wd, w.shape[-1]))
  for i in range(3):
    for j in range(3):
      out += xp[:, i:i + h, j:j + wd, :] @ w[i, j]
  return out


def np_cosine_logits(h, w):
  h = np.asarray(h, np.float64)
  w = np.asarray(w, np.float64)
  h_unit = h / np.linalg.norm(h, axis=1, keepdims=True)
  w_unit = w / np.linalg.norm(w, axis=0, keepdims=True)
  return h_unit @ w_unit


def np_option_a(x, features, stride):
  """Subsample by `stride`; place the input channels in the middle."""
  x = np.asarray(x)
  sub = x[:, ::stride, ::stride, :]
  out = np.zeros(sub.shape[:3] + (features,), x.dtype)
  start = (features - x.shape[-1]) // 2
  out[..., start:start + x.shape[-1]] = sub
  return out


@functools.cache
def initialized(name):
  """(model, float32 variables) for the tiny input; one init per model."""
  model = models.build_model(name, num_classes=10)
  init = jax.jit(lambda k: model.init(k, images(name), train=False))
  return model, init(jax.random.key(0))


def with_head(name, head):
  """A model of `head` kind and variables, reusing the cached backbone."""
  model, variables = initialized(name)
  if head == "linear":
    return model, variables
  model = models.build_model(name, num_classes=10, head=head)
  features = jnp.zeros((1, FEATURE_DIMS[name]))
  head_params = models.head_of(model).init(jax.random.key(1),
                                           features)["params"]
  params = dict(variables["params"], head=head_params)
  return model, dict(variables, params=params)


class ParamCountTest(parameterized.TestCase):

  def test_resnet32_has_464154_params(self):
    # Layer by layer (BN = scale + bias): stem 3*3*3*16 + 32 = 464;
    # stage 1: 5 * (2 * 3*3*16*16 + 2 * 32) = 23,360;
    # stage 2: (3*3*16*32 + 3*3*32*32 + 128) + 4 * (2 * 3*3*32*32 + 128)
    #   = 13,952 + 74,240 = 88,192;
    # stage 3: (3*3*32*64 + 3*3*64*64 + 256) + 4 * (2 * 3*3*64*64 + 256)
    #   = 55,552 + 295,936 = 351,488; head 64*10 + 10 = 650.
    by_hand = 464 + 23_360 + 88_192 + 351_488 + 650
    self.assertEqual(by_hand, 464_154)
    self.assertEqual(resnet_cifar_count(5, 10), 464_154)
    model = models.build_model("resnet32", num_classes=10)
    variables = abstract_variables(model, TINY_INPUTS["resnet32"])
    self.assertEqual(num_params(variables["params"]), 464_154)
    # Running mean and var: two per BN channel, 31 BNs.
    self.assertEqual(num_params(variables["batch_stats"]),
                     2 * (16 + 2 * 5 * (16 + 32 + 64)))

  def test_resnet32_normalized_head_has_no_bias(self):
    model = models.build_model("resnet32", num_classes=100, head="normalized")
    variables = abstract_variables(model, TINY_INPUTS["resnet32"])
    self.assertEqual(num_params(variables["params"]),
                     resnet_cifar_count(5, 100, bias=False))
    self.assertEqual(set(variables["params"]["head"]), {"kernel"})

  @parameterized.named_parameters(
      ("resnet50", "resnet50", 1, 64, 25_557_032),
      ("resnext50_32x4d", "resnext50_32x4d", 32, 4, 25_028_904),
  )
  def test_imagenet_models(self, name, groups, width_per_group, published):
    self.assertEqual(bottleneck_resnet_count(groups, width_per_group, 1000),
                     published)
    model = models.build_model(name, num_classes=1000)
    variables = abstract_variables(model, TINY_INPUTS[name])
    self.assertEqual(num_params(variables["params"]), published)
    head = variables["params"]["head"]
    self.assertEqual(head["kernel"].shape, (2048, 1000))
    self.assertEqual(head["bias"].shape, (1000,))

  def test_resnext_conv2_is_grouped(self):
    model = models.build_model("resnext50_32x4d", num_classes=10)
    params = abstract_variables(model, TINY_INPUTS["resnext50_32x4d"])[
        "params"]
    # Stage 1: width = 64 * 4 / 64 * 32 = 128, 32 groups of 4 channels.
    self.assertEqual(params["layer1_0"]["conv2"]["kernel"].shape,
                     (3, 3, 4, 128))
    self.assertEqual(params["layer4_2"]["conv2"]["kernel"].shape,
                     (3, 3, 32, 1024))

  def test_small_models(self):
    cnn = abstract_variables(models.build_model("mnist_cnn", num_classes=10),
                             TINY_INPUTS["mnist_cnn"])
    self.assertEqual(num_params(cnn["params"]),
                     mnist_cnn_count((32, 64, 128), 10))
    self.assertLess(num_params(cnn["params"]), 300_000)
    mlp = abstract_variables(models.build_model("mlp", num_classes=10),
                             TINY_INPUTS["mlp"])
    self.assertEqual(num_params(mlp["params"]), mlp_count((256, 256), 10))
    self.assertNotIn("batch_stats", mlp)
    custom = abstract_variables(
        models.build_model("mlp", num_classes=3, widths=(20,)), (2, 7))
    self.assertEqual(num_params(custom["params"]), mlp_count((20,), 3, 7))

  @parameterized.parameters("resnet32", "resnet50", "mnist_cnn", "mlp")
  def test_bfloat16_compute_keeps_float32_params_and_stats(self, name):
    model = models.build_model(name, num_classes=10, dtype=jnp.bfloat16)
    variables = abstract_variables(model, TINY_INPUTS[name])
    for leaf in jax.tree.leaves(variables):
      self.assertEqual(leaf.dtype, jnp.float32)


class OutputTest(parameterized.TestCase):

  @parameterized.product(
      name=("resnet32", "mnist_cnn", "mlp"),
      dtype=(jnp.float32, jnp.bfloat16),
      head=("linear", "normalized"))
  def test_shapes_and_dtypes(self, name, dtype, head):
    _, variables = with_head(name, head)
    model = models.build_model(name, num_classes=10, head=head, dtype=dtype)
    logits, features = model.apply(variables, images(name), train=False)
    batch = TINY_INPUTS[name][0]
    self.assertEqual(logits.shape, (batch, 10))
    self.assertEqual(features.shape, (batch, FEATURE_DIMS[name]))
    self.assertEqual(logits.dtype, jnp.float32)
    self.assertEqual(features.dtype, jnp.float32)
    self.assertTrue(np.all(np.isfinite(logits)))

  @parameterized.parameters("resnet50", "resnext50_32x4d")
  def test_imagenet_shapes_without_running(self, name):
    model = models.build_model(name, num_classes=7, dtype=jnp.bfloat16)
    variables = abstract_variables(model, TINY_INPUTS[name])
    logits, features = jax.eval_shape(
        lambda v, x: model.apply(v, x, train=False), variables,
        jax.ShapeDtypeStruct((3, 224, 224, 3), jnp.float32))
    self.assertEqual((logits.shape, logits.dtype), ((3, 7), jnp.float32))
    self.assertEqual((features.shape, features.dtype),
                     ((3, 2048), jnp.float32))

  @parameterized.parameters("resnet32", "mnist_cnn", "mlp")
  def test_linear_logits_are_affine_in_features(self, name):
    model, variables = initialized(name)
    logits, features = model.apply(variables, images(name), train=False)
    head = variables["params"]["head"]
    expected = (np.asarray(features, np.float64) @ np.asarray(head["kernel"])
                + np.asarray(head["bias"]))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-4)

  @parameterized.parameters("resnet32", "mnist_cnn")
  def test_bfloat16_logits_close_to_float32(self, name):
    # Same float32 parameters; only the compute dtype differs. Train mode so
    # BatchNorm keeps activations O(1), as in training.
    model32, variables = initialized(name)
    model16 = models.build_model(name, num_classes=10, dtype=jnp.bfloat16)
    x = images(name, seed=3)
    # Jitted: one compile per model, not a dispatch per eager op.
    apply = jax.jit(lambda m, v, x: m.apply(v, x, train=True,
                                            mutable=["batch_stats"]),
                    static_argnums=0)
    (logits32, feats32), _ = apply(model32, variables, x)
    (logits16, feats16), _ = apply(model16, variables, x)
    scale = float(np.abs(logits32).max())
    # bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.4%); the
    # errors of ~30 layers add up to a few percent at most.
    np.testing.assert_allclose(logits16, logits32, atol=0.05 * scale)
    np.testing.assert_allclose(feats16, feats32,
                               atol=0.05 * float(np.abs(feats32).max()))
    self.assertFalse(np.array_equal(logits16, logits32))  # bf16 really ran.


class TrainEvalTest(parameterized.TestCase):

  def test_batch_stats_update_only_in_train_mode(self):
    model, variables = initialized("mnist_cnn")
    x = images("mnist_cnn", seed=5)
    (eval_logits, _), eval_state = model.apply(
        variables, x, train=False, mutable=["batch_stats"])
    jax.tree.map(np.testing.assert_array_equal, eval_state["batch_stats"],
                 variables["batch_stats"])
    (train_logits, _), train_state = model.apply(
        variables, x, train=True, mutable=["batch_stats"])
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b),
                           train_state["batch_stats"],
                           variables["batch_stats"])
    self.assertTrue(all(jax.tree.leaves(changed)))
    # Train mode normalises by batch statistics, eval by the (fresh) running
    # ones (mean 0, var 1), so the outputs differ.
    self.assertFalse(np.allclose(train_logits, eval_logits))
    # Eval mode without `mutable` works; train mode needs it.
    model.apply(variables, x, train=False)
    with self.assertRaises(flax.errors.ModifyScopeVariableError):
      model.apply(variables, x, train=True)

  def test_running_stats_follow_pytorch_momentum(self):
    # PyTorch momentum 0.1: running = 0.9 * running + 0.1 * batch statistic,
    # from mean 0 and var 1; Flax stores the biased batch variance.
    model, variables = initialized("mnist_cnn")
    x = images("mnist_cnn", seed=6)
    _, state = model.apply(variables, x, train=True, mutable=["batch_stats"])
    conv1 = np_conv3x3(x, variables["params"]["conv1"]["kernel"])
    np.testing.assert_allclose(state["batch_stats"]["bn1"]["mean"],
                               0.1 * conv1.mean(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state["batch_stats"]["bn1"]["var"],
                               0.9 + 0.1 * conv1.var(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-6)

  def test_eval_mode_is_per_example(self):
    # With running statistics an example's logits do not depend on the
    # rest of its batch.
    model, variables = initialized("resnet32")
    x = images("resnet32", seed=7)
    full, _ = model.apply(variables, x, train=False)
    first, _ = model.apply(variables, x[:1], train=False)
    np.testing.assert_allclose(first, full[:1], rtol=1e-4, atol=1e-4)

  def test_mlp_ignores_train(self):
    model, variables = initialized("mlp")
    x = images("mlp")
    np.testing.assert_array_equal(model.apply(variables, x, train=True)[0],
                                  model.apply(variables, x, train=False)[0])


class HeadTest(parameterized.TestCase):

  @parameterized.parameters("resnet32", "mnist_cnn", "mlp")
  def test_cosine_head_matches_numpy(self, name):
    model, variables = with_head(name, "normalized")
    logits, features = model.apply(variables, images(name), train=False)
    kernel = variables["params"]["head"]["kernel"]
    self.assertTrue(np.all(np.abs(np.asarray(logits)) <= 1.0 + 1e-6))
    np.testing.assert_allclose(logits, np_cosine_logits(features, kernel),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        models.apply_head(variables["params"]["head"], features,
                          kind="normalized"), logits, rtol=1e-6, atol=1e-7)

  def test_cosine_logits_scale_invariant_and_bounded(self):
    rng = np.random.default_rng(0)
    h = rng.normal(size=(6, 5)).astype(np.float32)
    w = rng.normal(size=(5, 4)).astype(np.float32)
    z = models.cosine_logits(h, w)
    np.testing.assert_allclose(models.cosine_logits(3.0 * h, 0.2 * w), z,
                               rtol=1e-5, atol=1e-6)
    # h parallel to class 2's weights -> logit 1 for class 2.
    np.testing.assert_allclose(models.cosine_logits(2.0 * w[:, 2][None], w)[
        0, 2], 1.0, rtol=1e-6)
    self.assertTrue(np.all(np.abs(np.asarray(z)) <= 1.0 + 1e-6))

  def test_cosine_logits_of_zero_features_are_zero_with_finite_grad(self):
    w = jnp.ones((3, 2))
    np.testing.assert_array_equal(models.cosine_logits(jnp.zeros((1, 3)), w),
                                  np.zeros((1, 2)))
    grad = jax.grad(lambda h: models.cosine_logits(h, w).sum())(
        jnp.zeros((1, 3)))
    self.assertTrue(np.all(np.isfinite(grad)))

  def test_normalized_init_has_unit_columns(self):
    head = models.Head(num_classes=7, kind="normalized")
    kernel = head.init(jax.random.key(0), jnp.zeros((1, 16)))["params"][
        "kernel"]
    np.testing.assert_allclose(np.linalg.norm(kernel, axis=0), np.ones(7),
                               rtol=1e-6)

  @parameterized.product(name=("resnet32", "resnet50", "mlp"),
                         head=("linear", "normalized"))
  def test_head_of_matches_model_head_layout(self, name, head):
    model = models.build_model(name, num_classes=10, head=head)
    expected = abstract_variables(model, TINY_INPUTS[name])["params"]["head"]
    standalone = jax.eval_shape(
        lambda k: models.head_of(model).init(
            k, jnp.zeros((1, FEATURE_DIMS[name]))),
        jax.random.key(0))["params"]
    self.assertEqual(jax.tree.map(lambda a: (a.shape, a.dtype), standalone),
                     jax.tree.map(lambda a: (a.shape, a.dtype), expected))

  @parameterized.named_parameters(
      # LDAM repo: kaiming_normal_ kernel, std sqrt(2 / D).
      ("ldam", "resnet32", lambda d: np.sqrt(2.0 / d), False),
      # torchvision fc: U(+-1/sqrt(D)) kernel, std 1 / sqrt(3 D).
      ("torchvision", "resnet50", lambda d: 1.0 / np.sqrt(3.0 * d), True),
  )
  def test_head_inits_follow_pytorch(self, name, kernel_std, bounded):
    dim = 512
    bound = 1.0 / np.sqrt(dim)
    model = models.build_model(name, num_classes=1000)
    params = models.head_of(model).init(jax.random.key(0),
                                        jnp.zeros((1, dim)))["params"]
    std = kernel_std(dim)
    self.assertAlmostEqual(float(np.std(params["kernel"])), std,
                           delta=0.02 * std)
    if bounded:
      self.assertLessEqual(float(np.abs(params["kernel"]).max()), bound)
    # Both keep PyTorch's default nn.Linear bias, U(+-1/sqrt(D)).
    self.assertLessEqual(float(np.abs(params["bias"]).max()), bound)
    self.assertGreater(float(np.abs(params["bias"]).max()), 0.9 * bound)

  def test_apply_head_errors(self):
    features = jnp.zeros((2, 4))
    with self.assertRaisesRegex(ValueError, "bias"):
      models.apply_head({"kernel": jnp.zeros((4, 3))}, features,
                        kind="linear")
    with self.assertRaisesRegex(ValueError, r"\[B, 5\]"):
      models.apply_head({"kernel": jnp.zeros((5, 3))}, features,
                        kind="normalized")
    with self.assertRaisesRegex(ValueError, "linear, normalized"):
      models.apply_head({"kernel": jnp.zeros((4, 3))}, features, kind="cos")


class ArchitectureTest(parameterized.TestCase):

  @parameterized.parameters((16, 32, 2, (2, 5, 6)), (32, 64, 2, (1, 4, 4)),
                            (16, 16, 1, (2, 3, 3)), (8, 11, 1, (1, 2, 2)))
  def test_option_a_shortcut_matches_numpy(self, c_in, c_out, stride, bhw):
    x = np.random.default_rng(0).normal(size=bhw + (c_in,)).astype(np.float32)
    np.testing.assert_array_equal(
        models.option_a_shortcut(jnp.asarray(x), c_out, stride=stride),
        np_option_a(x, c_out, stride))

  def test_option_a_matches_ldam_padding(self):
    # LDAM: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4)).
    x = jnp.ones((1, 4, 4, 16))
    out = np.asarray(models.option_a_shortcut(x, 32, stride=2))
    self.assertEqual(out.shape, (1, 2, 2, 32))
    np.testing.assert_array_equal(out[0, 0, 0], [0] * 8 + [1] * 16 + [0] * 8)

  def test_downsampling_block_with_zero_convs_is_the_shortcut(self):
    # conv kernels 0 -> both BNs output their bias (0), so the block returns
    # relu(shortcut(x)) = shortcut(x) for x >= 0 (x follows a ReLU).
    block = models.BasicBlock(32, strides=2)
    x = jnp.abs(jax.random.normal(jax.random.key(0), (2, 6, 6, 16)))
    variables = block.init(jax.random.key(1), x, train=False)
    params = jax.tree.map(jnp.zeros_like, variables["params"])
    params = jax.tree.map(lambda p, q: q if p.ndim == 1 else p, params,
                          variables["params"])  # keep BN scale and bias.
    out, _ = block.apply(dict(variables, params=params), x, train=True,
                         mutable=["batch_stats"])
    np.testing.assert_array_equal(out, np_option_a(np.asarray(x), 32, 2))

  def test_resnet32_layout(self):
    model = models.build_model("resnet32", num_classes=10)
    params = abstract_variables(model, TINY_INPUTS["resnet32"])["params"]
    blocks = [k for k in params if k.startswith("layer")]
    self.assertLen(blocks, 15)
    # No block has a shortcut parameter: option A is parameter-free.
    for k in blocks:
      self.assertEqual(set(params[k]), {"conv1", "bn1", "conv2", "bn2"})
    self.assertEqual(params["layer2_0"]["conv1"]["kernel"].shape,
                     (3, 3, 16, 32))

  def test_conv2d_pads_like_pytorch(self):
    # PyTorch pads k // 2 on every side, also for stride 2 ("SAME" would pad
    # (0, 1) on an even input). A kernel that only reads tap (0, 0) samples
    # the padded input at (2i, 2j), i.e. x[2i - 1, 2j - 1].
    conv = models.conv2d(1, 3, strides=2)
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 1)).astype(np.float32)
    kernel = np.zeros((3, 3, 1, 1), np.float32)
    kernel[0, 0] = 1.0
    out = conv.apply({"params": {"kernel": kernel}}, x)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    np.testing.assert_array_equal(out, padded[:, 0:6:2, 0:6:2, :])

  def test_resnet50_feature_map_sizes(self):
    # 224 -> conv1 /2 -> 112 -> max pool /2 -> 56 -> ... -> 7 (torchvision).
    model = models.build_model("resnet50", num_classes=2)
    shapes = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, 224, 224, 3)),
                           train=False, capture_intermediates=True)
    )["intermediates"]
    for block, shape in (("layer1_0", (1, 56, 56, 256)),
                         ("layer2_0", (1, 28, 28, 512)),
                         ("layer3_0", (1, 14, 14, 1024)),
                         ("layer4_2", (1, 7, 7, 2048))):
      self.assertEqual(shapes[block]["__call__"][0].shape, shape)

  def test_conv_init_is_untruncated_kaiming_normal(self):
    # LDAM: kaiming_normal_ (fan_in); torchvision: fan_out. Untruncated:
    # P(|z| > 2) = 4.55% for a standard normal (truncated: 0).
    _, variables = initialized("resnet32")
    kernel = np.asarray(variables["params"]["layer3_4"]["conv2"]["kernel"])
    std = np.sqrt(2.0 / (3 * 3 * 64))
    self.assertAlmostEqual(kernel.std(), std, delta=0.02 * std)
    self.assertAlmostEqual(np.mean(np.abs(kernel) > 2 * std), 0.0455,
                           delta=0.006)
    block = models.Bottleneck(64, zero_init_residual=True)
    params = block.init(jax.random.key(0), jnp.zeros((1, 2, 2, 256)),
                        train=False)["params"]
    conv2 = np.asarray(params["conv2"]["kernel"])  # [3, 3, 64, 64]
    self.assertAlmostEqual(conv2.std(), np.sqrt(2.0 / (9 * 64)),
                           delta=0.02 * np.sqrt(2.0 / (9 * 64)))
    np.testing.assert_array_equal(params["bn3"]["scale"], np.zeros(256))


class ConvFactoryTest(absltest.TestCase):

  def test_patch_matmul_conv_is_a_drop_in_replacement(self):
    """Same outputs and gradients with `patch_conv2d` (~20 s on 2 cores).

    Slow because the patch-matmul ResNet-32 and its gradient take XLA:CPU
    ~8 s to compile (jitting instead of eager ops saves nothing); ResNet-32
    is the smallest model with the strided blocks and option-A shortcuts
    the contract must hold for.
    """
    # The contract of the `conv` field: same params, same outputs and grads.
    for name in ("mnist_cnn", "resnet32"):
      model, variables = initialized(name)
      swapped = models.build_model(name, num_classes=10,
                                   conv=models.patch_conv2d)
      x = images(name, seed=9)
      expected, _ = model.apply(variables, x, train=False)
      actual, _ = swapped.apply(variables, x, train=False)
      np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)

      def loss(params, m):
        (logits, _), _ = m.apply({**variables, "params": params}, x,
                                 train=True, mutable=["batch_stats"])
        return jnp.sum(jax.nn.log_softmax(logits)[:, 0])

      g_xla = jax.grad(loss)(variables["params"], model)
      g_patch = jax.grad(loss)(variables["params"], swapped)
      for a, b in zip(jax.tree.leaves(g_xla), jax.tree.leaves(g_patch)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)

  def test_patch_conv_matches_lax_conv(self):
    # Strides 1 and 2, kernels 1 and 3, grouped: against lax directly.
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((2, 9, 9, 8)), jnp.float32)
    for k, stride, groups in ((3, 1, 1), (3, 2, 1), (1, 2, 1), (3, 1, 4)):
      conv = models.patch_conv2d(6 if groups == 1 else 8, k, strides=stride,
                                 groups=groups)
      params = conv.init(jax.random.PRNGKey(0), x)
      expected = jax.lax.conv_general_dilated(
          x, params["params"]["kernel"], (stride, stride),
          ((k // 2, k // 2),) * 2, dimension_numbers=("NHWC", "HWIO", "NHWC"),
          feature_group_count=groups)
      np.testing.assert_allclose(conv.apply(params, x), expected, rtol=1e-5,
                                 atol=1e-5)


class JitTest(parameterized.TestCase):

  @parameterized.parameters("resnet32", "mnist_cnn", "mlp")
  def test_jitted_train_step(self, name):
    model, variables = initialized(name)
    x = images(name, seed=11)
    labels = jnp.arange(x.shape[0]) % 10

    def loss_fn(params, batch_stats):
      (logits, _), state = model.apply(
          {"params": params, "batch_stats": batch_stats}, x, train=True,
          mutable=["batch_stats"])
      logp = jax.nn.log_softmax(logits)
      return -jnp.mean(logp[jnp.arange(x.shape[0]), labels]), state

    grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    (loss, state), grads = grad_fn(variables["params"],
                                   variables.get("batch_stats", {}))
    self.assertTrue(np.isfinite(loss))
    self.assertEqual(jax.tree.structure(grads),
                     jax.tree.structure(variables["params"]))
    self.assertTrue(all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)))
    self.assertEqual(jax.tree.structure(state.get("batch_stats", {})),
                     jax.tree.structure(variables.get("batch_stats", {})))
    jitted = jax.jit(lambda v, x: model.apply(v, x, train=False))
    np.testing.assert_allclose(jitted(variables, x)[0],
                               model.apply(variables, x, train=False)[0],
                               rtol=1e-4, atol=1e-4)


class RegistryTest(parameterized.TestCase):

  def test_registry_names(self):
    self.assertEqual(set(models.MODELS), {"resnet32", "resnet32_x4",
                                          "mnist_cnn", "mlp", "resnet50",
                                          "resnext50_32x4d",
                                          "resnet32_experts",
                                          "resnet50_experts",
                                          "mnist_cnn_experts",
                                          "mlp_experts", "bilstm",
                                          "text_transformer", "bilstm_pair",
                                          "text_transformer_pair"})

  def test_text_models_by_path_read_token_ids(self):
    # Registered by path: ltjax.text builds on this package.
    self.assertEqual(models.constructor("bilstm"), text.BiLSTMClassifier)
    self.assertEqual(
        {m: models.input_kind(m) for m in models.MODELS
         if models.input_kind(m) != "arrays"},
        {"bilstm": "tokens", "text_transformer": "tokens",
         "bilstm_pair": "token_pairs", "text_transformer_pair": "token_pairs"})
    self.assertEqual(models.input_kind("resnet32"), "arrays")
    self.assertIn("vocab_size", models.model_fields("bilstm"))
    self.assertIn("max_length", models.model_fields("text_transformer"))
    self.assertNotIn("max_length", models.model_fields("bilstm"))
    model = models.build_model("bilstm", num_classes=3, head="normalized",
                               vocab_size=11, embed_dim=4, hidden_size=3)
    inputs = text.inputs_from_ids(np.array([[5, 2, 0], [3, 0, 0]]))
    variables = jax.eval_shape(
        lambda k: model.init(k, inputs, train=False), jax.random.key(0))
    self.assertEqual(variables["params"]["head"]["kernel"].shape, (6, 3))
    self.assertEqual(
        variables["params"]["encoder"]["embed"]["embedding"].shape, (11, 4))
    with self.assertRaisesRegex(ValueError, "Unknown model name 'lstm'"):
      models.build_model("lstm", num_classes=2)

  def test_wide_resnet32_has_four_times_the_widths(self):
    # GLMC's CIFAR backbone: about 7.4M parameters, features of 256.
    model = models.build_model("resnet32_x4", num_classes=10)
    variables = abstract_variables(model, TINY_INPUTS["resnet32"])
    self.assertEqual(num_params(variables["params"]),
                     resnet_cifar_count(5, 10, k=4))
    self.assertEqual(variables["params"]["head"]["kernel"].shape, (256, 10))

  def test_unknown_name_lists_known_models(self):
    with self.assertRaisesRegex(ValueError, "resnet32.*resnext50_32x4d"):
      models.build_model("resnet18", num_classes=10)

  def test_unknown_head_lists_known_heads(self):
    with self.assertRaisesRegex(ValueError, "cosine.*linear, normalized"):
      models.build_model("resnet32", num_classes=10, head="cosine")

  @parameterized.parameters(0, -3, 2.5, True)
  def test_bad_num_classes(self, num_classes):
    with self.assertRaisesRegex(ValueError, "num_classes"):
      models.build_model("mlp", num_classes=num_classes)

  def test_bad_dtype(self):
    with self.assertRaisesRegex(ValueError, "dtype"):
      models.build_model("mlp", num_classes=10, dtype=jnp.int32)

  def test_bad_input_rank_names_x(self):
    model, variables = initialized("mnist_cnn")
    with self.assertRaisesRegex(ValueError, r"x must .*\[B, H, W, C\]"):
      model.apply(variables, jnp.zeros((4, 8, 8)), train=False)


if __name__ == "__main__":
  absltest.main()
