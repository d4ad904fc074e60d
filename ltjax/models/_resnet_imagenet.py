"""ResNet-50 and ResNeXt-50 (32x4d) for ImageNet-LT, torchvision's layout.

A 7x7/2 conv with 64 channels, BN, ReLU, 3x3/2 max pool; four stages of
[3, 4, 6, 3] bottleneck blocks with 64, 128, 256, 512 "planes" (stride 2 in the
first block of stages 2-4, on the 3x3 conv as in torchvision, "ResNet v1.5");
global average pooling to 2048-d features; a head. A bottleneck is
conv1x1(width)-BN-ReLU-conv3x3(width, stride, groups)-BN-ReLU-
conv1x1(4 planes)-BN, plus a projection shortcut conv1x1(stride)-BN where the
shape changes, then ReLU; width = int(planes * width_per_group / 64) * groups.
ResNet-50 is groups = 1, width_per_group = 64 (25,557,032 parameters with a
1000-class linear head); ResNeXt-50 32x4d is groups = 32, width_per_group = 4
(25,028,904), its grouped conv a `feature_group_count`.

Init as torchvision: convs Kaiming normal (fan_out, gain sqrt(2)), BN scale 1
and bias 0 (scale 0 on each block's last BN with `zero_init_residual`), and
PyTorch's default `nn.Linear` init for a linear head. Parameter names map one
to one (`layer1.0.downsample.0` -> `layer1_0/downsample_conv`, `fc` -> `head`).
Images are NHWC.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax.models import _heads
from ltjax.models import _layers

_STAGE_PLANES = (64, 128, 256, 512)
_EXPANSION = 4


class Bottleneck(nn.Module):
  """torchvision's `Bottleneck` (stride on the 3x3 conv)."""
  planes: int
  strides: int = 1
  groups: int = 1
  width_per_group: int = 64
  zero_init_residual: bool = False
  conv: _layers.ConvFactory = _layers.conv2d
  dtype: _layers.Dtype = jnp.float32
  bn_groups: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    width = int(self.planes * (self.width_per_group / 64.0)) * self.groups
    out_features = self.planes * _EXPANSION

    def conv(features, kernel_size, name, strides=1, groups=1):
      return self.conv(features, kernel_size, strides=strides, groups=groups,
                       kernel_init=_layers.kaiming_normal_fan_out,
                       dtype=self.dtype, name=name)

    def bn(name, scale_init=jax.nn.initializers.ones):
      return _layers.batch_norm(train=train, dtype=self.dtype, name=name,
                                scale_init=scale_init, groups=self.bn_groups)

    y = nn.relu(bn("bn1")(conv(width, 1, "conv1")(x)))
    y = nn.relu(bn("bn2")(conv(width, 3, "conv2", strides=self.strides,
                               groups=self.groups)(y)))
    last_scale = (jax.nn.initializers.zeros if self.zero_init_residual
                  else jax.nn.initializers.ones)
    y = bn("bn3", last_scale)(conv(out_features, 1, "conv3")(y))
    if self.strides != 1 or x.shape[-1] != out_features:
      x = conv(out_features, 1, "downsample_conv", strides=self.strides)(x)
      x = bn("downsample_bn")(x)
    return nn.relu(y + x)


class ResNet(nn.Module):
  """Bottleneck ResNet / ResNeXt for 224x224 images; returns (logits, features).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype (float32 or bfloat16); parameters and BatchNorm
      statistics are float32, logits and features are returned in float32.
    stage_sizes: blocks per stage; (3, 4, 6, 3) is the 50-layer net.
    groups: groups of the 3x3 convs (ResNeXt cardinality).
    width_per_group: channels per group at 64 planes (ResNeXt "d").
    zero_init_residual: init each block's last BN scale to 0 (Goyal et al.
      2017); torchvision's default, False.
    conv: the conv factory (see `ltjax.models.conv2d` for its contract).
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  stage_sizes: tuple[int, ...] = (3, 4, 6, 3)
  groups: int = 1
  width_per_group: int = 64
  zero_init_residual: bool = False
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.torch_linear_default
  bn_groups: int = 1  # > 1: BatchNorm statistics per group (replica)

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch of images.

    Args:
      x: float [B, H, W, 3] (NHWC; 224x224 for ImageNet).
      train: BatchNorm uses batch statistics and updates its running ones
        (apply with `mutable=["batch_stats"]`); else the running ones.

    Returns:
      logits: float32 [B, C].
      features: float32 [B, 2048], the pooled input of the head.
    """
    _layers.check_dtype(self.dtype)
    if len(self.stage_sizes) != len(_STAGE_PLANES):
      raise ValueError(
          f"stage_sizes must give blocks for {len(_STAGE_PLANES)} stages, got "
          f"{self.stage_sizes}.")
    x = _layers.check_images(x).astype(self.dtype)
    x = self.conv(64, 7, strides=2, groups=1,
                  kernel_init=_layers.kaiming_normal_fan_out,
                  dtype=self.dtype, name="conv1")(x)
    x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                   name="bn1", groups=self.bn_groups)(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, (planes, blocks) in enumerate(zip(_STAGE_PLANES,
                                                 self.stage_sizes)):
      for block in range(blocks):
        strides = 2 if stage > 0 and block == 0 else 1
        x = Bottleneck(planes, strides=strides, groups=self.groups,
                       width_per_group=self.width_per_group,
                       zero_init_residual=self.zero_init_residual,
                       conv=self.conv, dtype=self.dtype,
                       bn_groups=self.bn_groups,
                       name=f"layer{stage + 1}_{block}")(x, train=train)
    features = _layers.global_average_pool(x)
    logits = _heads.make_head(self, name="head")(features)
    return logits, features


ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3))
ResNeXt50_32x4d = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3),
                                    groups=32, width_per_group=4)
