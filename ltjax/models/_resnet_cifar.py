"""ResNet for CIFAR (He et al. 2016, Sec. 4.2) as in the LDAM-DRW repo.

ResNet-(6n+2): a 3x3 conv with 16 channels, three stages of n basic blocks with
16, 32 and 64 channels (stride 2 in the first block of stages 2 and 3), global
average pooling to 64-d features, and a head. ResNet-32 is n = 5; with a
10-class linear head it has 464,154 parameters. Shortcuts are parameter-free
("option A"): subsample by the stride and zero-pad the new channels.

Parity with `resnet32` in the LDAM-DRW repo's `models/resnet_cifar.py`: same
layout, convs without bias, Kaiming normal init (fan_in, untruncated) for the
convs and the linear head's kernel, PyTorch's default bias init for the head;
parameter names map one to one (`layer1.0.conv1` -> `layer1_0/conv1`,
`linear` -> `head`). Images are NHWC, so conv kernels are HWIO.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax.models import _heads
from ltjax.models import _layers

_STAGE_WIDTHS = (16, 32, 64)


def option_a_shortcut(x: jax.Array, features: int, *,
                      stride: int) -> jax.Array:
  """The parameter-free "option A" shortcut: subsample, then zero-pad channels.

  out = pad(x[:, ::stride, ::stride, :]) with the C_in input channels placed
  in the middle of `features` channels: (features - C_in) // 2 zero channels
  before them and the rest after, as the LDAM repo's
  `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))` does for
  C_in = planes / 2. With stride 1 and C_in = features it is the identity.

  Args:
    x: [B, H, W, C_in].
    features: output channels, >= C_in.
    stride: spatial subsampling factor.

  Returns:
    [B, ceil(H / stride), ceil(W / stride), features], the dtype of x.
  """
  in_features = x.shape[-1]
  if features < in_features:
    raise ValueError(
        f"features ({features}) must be >= the input channels "
        f"({in_features}): option A only pads channels.")
  x = x[:, ::stride, ::stride, :]
  before = (features - in_features) // 2
  after = features - in_features - before
  if before or after:
    x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (before, after)))
  return x


class BasicBlock(nn.Module):
  """conv3x3-BN-ReLU-conv3x3-BN, plus the option-A shortcut, then ReLU."""
  features: int
  strides: int = 1
  conv: _layers.ConvFactory = _layers.conv2d
  dtype: _layers.Dtype = jnp.float32
  zero_init_residual: bool = False
  bn_groups: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    def conv(strides, name):
      return self.conv(self.features, 3, strides=strides, groups=1,
                       kernel_init=_layers.kaiming_normal_fan_in,
                       dtype=self.dtype, name=name)

    def bn(name, scale_init=jax.nn.initializers.ones):
      return _layers.batch_norm(train=train, dtype=self.dtype, name=name,
                                scale_init=scale_init, groups=self.bn_groups)

    y = nn.relu(bn("bn1")(conv(self.strides, "conv1")(x)))
    last_scale = (jax.nn.initializers.zeros if self.zero_init_residual
                  else jax.nn.initializers.ones)
    y = bn("bn2", last_scale)(conv(1, "conv2")(y))
    shortcut = option_a_shortcut(x, self.features, stride=self.strides)
    return nn.relu(y + shortcut.astype(y.dtype))


class ResNetCifar(nn.Module):
  """ResNet-(6n+2) for 32x32 images; returns (logits, features).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype (float32 or bfloat16); parameters and BatchNorm
      statistics are float32, logits and features are returned in float32.
    blocks_per_stage: n; 5 gives ResNet-32 (3 gives ResNet-20, 9 ResNet-56).
    conv: the conv factory (see `ltjax.models.conv2d` for its contract).
    head_kernel_init: initializer of a linear head's kernel.
    width_multiplier: k, the stage widths are (16k, 32k, 64k) and D = 64k
      (GLMC's CIFAR "ResNet-32" is k = 4: `resnet32_x4`).
    zero_init_residual: init each block's last BN scale to 0 (Goyal et al.
      1706.02677), so every block starts as its shortcut.
    bn_groups: > 1: BatchNorm statistics per group of the batch, one a
      data-parallel replica (`model.bn_axis` "replica").
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  blocks_per_stage: int = 5
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in
  width_multiplier: int = 1
  zero_init_residual: bool = False
  bn_groups: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch of images.

    Args:
      x: float [B, H, W, 3] (NHWC; 32x32 for CIFAR, any size >= 1 works).
      train: BatchNorm uses batch statistics and updates its running ones
        (apply with `mutable=["batch_stats"]`); else the running ones.

    Returns:
      logits: float32 [B, C].
      features: float32 [B, 64 k], the pooled input of the head.
    """
    _layers.check_dtype(self.dtype)
    if self.width_multiplier < 1:
      raise ValueError(
          f"width_multiplier must be >= 1, got {self.width_multiplier}.")
    widths = tuple(w * self.width_multiplier for w in _STAGE_WIDTHS)
    x = _layers.check_images(x).astype(self.dtype)
    x = self.conv(widths[0], 3, strides=1, groups=1,
                  kernel_init=_layers.kaiming_normal_fan_in,
                  dtype=self.dtype, name="conv1")(x)
    x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                   name="bn1", groups=self.bn_groups)(x))
    for stage, width in enumerate(widths):
      for block in range(self.blocks_per_stage):
        strides = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(width, strides=strides, conv=self.conv,
                       dtype=self.dtype,
                       zero_init_residual=self.zero_init_residual,
                       bn_groups=self.bn_groups,
                       name=f"layer{stage + 1}_{block}")(x, train=train)
    features = _layers.global_average_pool(x)
    logits = _heads.make_head(self, name="head")(features)
    return logits, features
