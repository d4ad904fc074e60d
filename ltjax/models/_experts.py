"""Shared-backbone multi-expert models (RIDE, Wang et al. ICLR 2021).

The early layers are shared; the last stages and the head are repeated once
per expert. As RIDE's official code (frank-xwang/RIDE-LongTailRecognition):

* `ResNet32Experts` (`model/ldam_drw_resnets/ride_resnet_cifar.py`,
  `ResNet_s`): shared conv1/bn1/layer1 (16 channels), per-expert layer2 and
  layer3 and head. Widths (32, 64), or (24, 48) with `reduce_dimension`.
* `ResNet50Experts` (`model/fb_resnets/RIDEResNet.py`, `share_layer3=False`):
  shared stem, layer1, layer2; per-expert layer3 and layer4 and head. Planes
  (256, 512), or (192, 384) with `reduce_dimension` (D = 4 * 512 or 4 * 384).
* `MLPExperts` (ours, for tables: `csv_lt`): `MLP`'s first dense layer is
  shared, the remaining dense layers and the head are per expert;
  `reduce_dimension` scales the per-expert widths by 3/4.
* `MnistCNNExperts` (ours; MNIST has no RIDE original): `MnistCNN`'s first
  conv block (and its max pool) is shared, the remaining conv blocks and the
  head are per expert, mirroring RIDE's "shared first stage" split for a
  three-block net. `reduce_dimension` scales the per-expert widths by 3/4
  (RIDE's ratio: 32 -> 24, 64 -> 48), i.e. (32, 48, 96) by default.

With `num_experts = 1` and `reduce_dimension = False` each model has exactly
the parameters of its plain counterpart (`resnet32`, `resnet50`,
`mnist_cnn`, `mlp`), only nested under `expert0`.

Param tree layout (batch_stats mirror it):
  params["conv1"], params["bn1"], params["layer1_{b}"] ... (shared part, the
    plain model's names),
  params["expert{k}"]["layer{s}_{b}"] (the per-expert stages, plain names),
  params["expert{k}"]["head"] (expert k's classifier, a `Head`),
for k = 0 .. E - 1. `expert_heads(params)` lists the head dicts in order.

Output: `model.apply(variables, x, train=...)` returns (logits float32
[E, B, C], features float32 [E, B, D]): per-expert unscaled logits (cosines
for a "normalized" head; RIDE multiplies them by s = 30 inside the model, here
the loss applies s) and each expert's pooled features. RIDE's prediction is
the mean over experts, `aggregate_expert_logits`.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax.models import _heads
from ltjax.models import _layers
from ltjax.models import _resnet_cifar
from ltjax.models import _resnet_imagenet


def _check_num_experts(num_experts) -> None:
  if isinstance(num_experts, bool) or not isinstance(num_experts, int) or (
      num_experts < 1):
    raise ValueError(
        f"num_experts must be a positive int, got {num_experts!r}.")


def _shared(x, expert: int, model) -> jax.Array:
  """The shared layers' output as expert `expert` of `model` sees it."""
  if expert and model.detach_later_experts:
    return jax.lax.stop_gradient(x)
  return x


def expert_heads(params) -> list:
  """The experts' head parameter dicts, [params["expert0"]["head"], ...].

  Args:
    params: the "params" collection of an expert model.

  Returns:
    A list of E head param dicts (apply with `ltjax.models.apply_head`).
  """
  keys = sorted((k for k in params if k.startswith("expert")),
                key=lambda k: int(k[len("expert"):]))
  if not keys:
    raise ValueError(
        "params has no 'expert{k}' entries; pass the 'params' collection of "
        "an expert model (resnet32_experts, resnet50_experts, "
        "mnist_cnn_experts).")
  return [params[k]["head"] for k in keys]


def aggregate_expert_logits(expert_logits: jax.Array,
                            weights: jax.Array | None = None) -> jax.Array:
  """Combines per-expert logits into one prediction.

  Without weights: mean_k z_k (RIDE's test output,
  `torch.stack(outs, dim=1).mean(dim=1)`). With weights w [E]:
  sum_k w_k z_k, SADE's test-time aggregation (Vanint/SADE-AgnosticLT,
  `test_training_cifar.py` `test_validation`: `aggregation_softmax[0] *
  expert1_logits_output + aggregation_softmax[1] * ... + [2] * ...`, with
  `aggregation_softmax = softmax(aggregation_weight)` of its learned raw
  weights). Pass the normalised weights, softmax(raw); they are used as given.

  Args:
    expert_logits: float [E, B, C].
    weights: optional float [E].

  Returns:
    float32 [B, C].
  """
  z = jnp.asarray(expert_logits, jnp.float32)
  if z.ndim != 3:
    raise ValueError(
        f"expert_logits must have shape [E, B, C], got shape {z.shape}.")
  if weights is None:
    return jnp.mean(z, axis=0)
  w = jnp.asarray(weights, jnp.float32)
  if w.shape != (z.shape[0],):
    raise ValueError(
        f"weights must have shape [E] = ({z.shape[0]},), got shape {w.shape}.")
  return jnp.einsum("e,ebc->bc", w, z)


class _CifarExpert(nn.Module):
  """One expert of `ResNet32Experts`: layer2, layer3, pool, head."""
  num_classes: int
  head: str
  head_kernel_init: _layers.Initializer
  widths: tuple[int, int]
  blocks_per_stage: int
  conv: _layers.ConvFactory
  dtype: _layers.Dtype

  @nn.compact
  def __call__(self, x, *, train):
    for stage, width in enumerate(self.widths):
      for block in range(self.blocks_per_stage):
        x = _resnet_cifar.BasicBlock(
            width, strides=2 if block == 0 else 1, conv=self.conv,
            dtype=self.dtype, name=f"layer{stage + 2}_{block}")(x, train=train)
    features = _layers.global_average_pool(x)
    return _heads.make_head(self, name="head")(features), features


class ResNet32Experts(nn.Module):
  """RIDE's CIFAR ResNet-32 with E experts; returns ([E,B,C], [E,B,D]).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized".
    dtype: computation dtype.
    num_experts: E >= 1.
    reduce_dimension: per-expert widths (24, 48) instead of (32, 64).
    detach_later_experts: experts 1.. see the shared layers' output under
      `stop_gradient` (ACE: only expert 0's loss trains the shared layers).
    blocks_per_stage: n (5 for ResNet-32).
    conv: the conv factory.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  num_experts: int = 3
  reduce_dimension: bool = False
  detach_later_experts: bool = False
  blocks_per_stage: int = 5
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """x: [B, H, W, 3] -> (logits f32 [E, B, C], features f32 [E, B, D])."""
    _layers.check_dtype(self.dtype)
    _check_num_experts(self.num_experts)
    x = _layers.check_images(x).astype(self.dtype)
    x = self.conv(16, 3, strides=1, groups=1,
                  kernel_init=_layers.kaiming_normal_fan_in,
                  dtype=self.dtype, name="conv1")(x)
    x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                   name="bn1")(x))
    for block in range(self.blocks_per_stage):
      x = _resnet_cifar.BasicBlock(16, strides=1, conv=self.conv,
                                   dtype=self.dtype,
                                   name=f"layer1_{block}")(x, train=train)
    widths = (24, 48) if self.reduce_dimension else (32, 64)
    outs = [
        _CifarExpert(self.num_classes, self.head, self.head_kernel_init,
                     widths, self.blocks_per_stage, self.conv, self.dtype,
                     name=f"expert{k}")(_shared(x, k, self), train=train)
        for k in range(self.num_experts)]
    return (jnp.stack([o[0] for o in outs]).astype(jnp.float32),
            jnp.stack([o[1] for o in outs]).astype(jnp.float32))


class _ImageNetExpert(nn.Module):
  """One expert of `ResNet50Experts`: layer3, layer4, pool, head."""
  num_classes: int
  head: str
  head_kernel_init: _layers.Initializer
  planes: tuple[int, int]
  stage_sizes: tuple[int, int]
  groups: int
  width_per_group: int
  zero_init_residual: bool
  conv: _layers.ConvFactory
  dtype: _layers.Dtype

  @nn.compact
  def __call__(self, x, *, train):
    for stage, (planes, blocks) in enumerate(zip(self.planes,
                                                 self.stage_sizes)):
      for block in range(blocks):
        x = _resnet_imagenet.Bottleneck(
            planes, strides=2 if block == 0 else 1, groups=self.groups,
            width_per_group=self.width_per_group,
            zero_init_residual=self.zero_init_residual, conv=self.conv,
            dtype=self.dtype, name=f"layer{stage + 3}_{block}")(x, train=train)
    features = _layers.global_average_pool(x)
    return _heads.make_head(self, name="head")(features), features


class ResNet50Experts(nn.Module):
  """RIDE's ResNet-50 with E experts (layer3, layer4, head per expert).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized".
    dtype: computation dtype.
    num_experts: E >= 1.
    reduce_dimension: per-expert planes (192, 384) instead of (256, 512).
    detach_later_experts: experts 1.. see the shared layers' output under
      `stop_gradient` (ACE: only expert 0's loss trains the shared layers).
    stage_sizes: blocks per stage, (3, 4, 6, 3).
    groups, width_per_group: ResNeXt options, as `ResNet`.
    zero_init_residual: as `ResNet`.
    conv: the conv factory.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  num_experts: int = 3
  reduce_dimension: bool = False
  detach_later_experts: bool = False
  stage_sizes: tuple[int, ...] = (3, 4, 6, 3)
  groups: int = 1
  width_per_group: int = 64
  zero_init_residual: bool = False
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.torch_linear_default

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """x: [B, H, W, 3] -> (logits f32 [E, B, C], features f32 [E, B, D])."""
    _layers.check_dtype(self.dtype)
    _check_num_experts(self.num_experts)
    if len(self.stage_sizes) != 4:
      raise ValueError(
          f"stage_sizes must give blocks for 4 stages, got {self.stage_sizes}.")
    x = _layers.check_images(x).astype(self.dtype)
    x = self.conv(64, 7, strides=2, groups=1,
                  kernel_init=_layers.kaiming_normal_fan_out,
                  dtype=self.dtype, name="conv1")(x)
    x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                   name="bn1")(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, planes in enumerate((64, 128)):
      for block in range(self.stage_sizes[stage]):
        x = _resnet_imagenet.Bottleneck(
            planes, strides=2 if stage > 0 and block == 0 else 1,
            groups=self.groups, width_per_group=self.width_per_group,
            zero_init_residual=self.zero_init_residual, conv=self.conv,
            dtype=self.dtype, name=f"layer{stage + 1}_{block}")(x, train=train)
    planes = (192, 384) if self.reduce_dimension else (256, 512)
    outs = [
        _ImageNetExpert(self.num_classes, self.head, self.head_kernel_init,
                        planes, tuple(self.stage_sizes[2:]), self.groups,
                        self.width_per_group, self.zero_init_residual,
                        self.conv, self.dtype,
                        name=f"expert{k}")(_shared(x, k, self), train=train)
        for k in range(self.num_experts)]
    return (jnp.stack([o[0] for o in outs]).astype(jnp.float32),
            jnp.stack([o[1] for o in outs]).astype(jnp.float32))


class _MnistExpert(nn.Module):
  """One expert of `MnistCNNExperts`: conv blocks 2.., pool, head."""
  num_classes: int
  head: str
  head_kernel_init: _layers.Initializer
  widths: tuple[int, ...]
  conv: _layers.ConvFactory
  dtype: _layers.Dtype

  @nn.compact
  def __call__(self, x, *, train):
    for i, width in enumerate(self.widths):
      x = self.conv(width, 3, strides=1, groups=1,
                    kernel_init=_layers.kaiming_normal_fan_in,
                    dtype=self.dtype, name=f"conv{i + 2}")(x)
      x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                     name=f"bn{i + 2}")(x))
      if i + 1 < len(self.widths):
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    features = _layers.global_average_pool(x)
    return _heads.make_head(self, name="head")(features), features


class MnistCNNExperts(nn.Module):
  """`MnistCNN` with a shared first conv block and E expert branches.

  Attributes:
    num_classes: C.
    head: "linear" or "normalized".
    dtype: computation dtype.
    num_experts: E >= 1.
    reduce_dimension: per-expert widths scaled by 3/4 (RIDE's ratio).
    detach_later_experts: experts 1.. see the shared layers' output under
      `stop_gradient` (ACE: only expert 0's loss trains the shared layers).
    widths: as `MnistCNN`; widths[0] is shared, widths[1:] per expert.
    conv: the conv factory.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  num_experts: int = 3
  reduce_dimension: bool = False
  detach_later_experts: bool = False
  widths: Sequence[int] = (32, 64, 128)
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """x: [B, 28, 28, 1] -> (logits f32 [E, B, C], features f32 [E, B, D])."""
    _layers.check_dtype(self.dtype)
    _check_num_experts(self.num_experts)
    if len(self.widths) < 2:
      raise ValueError(
          f"widths needs >= 2 entries (one shared, the rest per expert), got "
          f"{tuple(self.widths)}.")
    x = _layers.check_images(x).astype(self.dtype)
    x = self.conv(self.widths[0], 3, strides=1, groups=1,
                  kernel_init=_layers.kaiming_normal_fan_in,
                  dtype=self.dtype, name="conv1")(x)
    x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                   name="bn1")(x))
    x = nn.max_pool(x, (2, 2), strides=(2, 2))
    widths = tuple(self.widths[1:])
    if self.reduce_dimension:
      widths = tuple(w * 3 // 4 for w in widths)
    outs = [
        _MnistExpert(self.num_classes, self.head, self.head_kernel_init,
                     widths, self.conv, self.dtype,
                     name=f"expert{k}")(_shared(x, k, self), train=train)
        for k in range(self.num_experts)]
    return (jnp.stack([o[0] for o in outs]).astype(jnp.float32),
            jnp.stack([o[1] for o in outs]).astype(jnp.float32))


class _MLPExpert(nn.Module):
  """One expert of `MLPExperts`: dense layers 2.. and the head."""
  num_classes: int
  head: str
  head_kernel_init: _layers.Initializer
  widths: tuple[int, ...]
  dtype: _layers.Dtype

  @nn.compact
  def __call__(self, x):
    for i, width in enumerate(self.widths):
      x = nn.relu(nn.Dense(width, kernel_init=_layers.kaiming_normal_fan_in,
                           dtype=self.dtype, param_dtype=_layers.PARAM_DTYPE,
                           name=f"dense{i + 2}")(x))
    features = x.astype(jnp.float32)
    return _heads.make_head(self, name="head")(features), features


class MLPExperts(nn.Module):
  """`MLP` with a shared first dense layer and E expert branches.

  Attributes:
    num_classes: C.
    head: "linear" or "normalized".
    dtype: computation dtype.
    num_experts: E >= 1.
    reduce_dimension: per-expert widths scaled by 3/4 (RIDE's ratio).
    detach_later_experts: experts 1.. see the shared layers' output under
      `stop_gradient` (ACE: only expert 0's loss trains the shared layers).
    widths: as `MLP`; widths[0] is shared, widths[1:] per expert.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  num_experts: int = 3
  reduce_dimension: bool = False
  detach_later_experts: bool = False
  widths: Sequence[int] = (256, 256)
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """x: [B, ...] -> (logits f32 [E, B, C], features f32 [E, B, D])."""
    del train
    _layers.check_dtype(self.dtype)
    _check_num_experts(self.num_experts)
    if len(self.widths) < 2:
      raise ValueError(
          f"widths needs >= 2 entries (one shared, the rest per expert), got "
          f"{tuple(self.widths)}.")
    x = jnp.asarray(x)
    if x.ndim < 2:
      raise ValueError(
          f"x must have shape [B, ...] with a batch axis, got shape {x.shape}.")
    x = x.reshape(x.shape[0], -1).astype(self.dtype)
    x = nn.relu(nn.Dense(self.widths[0],
                         kernel_init=_layers.kaiming_normal_fan_in,
                         dtype=self.dtype, param_dtype=_layers.PARAM_DTYPE,
                         name="dense1")(x))
    widths = tuple(self.widths[1:])
    if self.reduce_dimension:
      widths = tuple(w * 3 // 4 for w in widths)
    outs = [_MLPExpert(self.num_classes, self.head, self.head_kernel_init,
                       widths, self.dtype, name=f"expert{k}")(
                           _shared(x, k, self))
            for k in range(self.num_experts)]
    return (jnp.stack([o[0] for o in outs]).astype(jnp.float32),
            jnp.stack([o[1] for o in outs]).astype(jnp.float32))
