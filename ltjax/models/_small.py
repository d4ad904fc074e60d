"""Small models for MNIST-LT (28x28x1) that train in minutes on a CPU.

`MnistCNN`: per width w in `widths`, conv3x3(w)-BN-ReLU, followed by a 2x2 max
pool after every block but the last (28 -> 14 -> 7); global average pooling
to `widths[-1]`-d features; a head. With the default widths (32, 64, 128) and a
10-class linear head it has 94,186 parameters.

`MLP`: flatten, then per width Dense(w)-ReLU; the last hidden activation is the
feature vector; a head. Default (256, 256): 269,322 parameters for 10 classes.
It has no BatchNorm, so it has no "batch_stats" collection.

Both use the LDAM repo's init (Kaiming normal, fan_in) and accept `train` for a
uniform interface.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax.models import _heads
from ltjax.models import _layers


class MnistCNN(nn.Module):
  """A small conv net; returns (logits, features).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype; parameters and BatchNorm statistics are float32,
      logits and features are returned in float32.
    widths: channels of the conv blocks; features have widths[-1] dims.
    conv: the conv factory (see `ltjax.models.conv2d` for its contract).
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  widths: Sequence[int] = (32, 64, 128)
  conv: _layers.ConvFactory = _layers.conv2d
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in
  bn_groups: int = 1  # > 1: BatchNorm statistics per group (replica)

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch of images.

    Args:
      x: float [B, H, W, C] (NHWC; 28x28x1 for MNIST).
      train: BatchNorm uses batch statistics and updates its running ones
        (apply with `mutable=["batch_stats"]`); else the running ones.

    Returns:
      logits: float32 [B, C].
      features: float32 [B, widths[-1]].
    """
    _layers.check_dtype(self.dtype)
    x = _layers.check_images(x).astype(self.dtype)
    for i, width in enumerate(self.widths):
      x = self.conv(width, 3, strides=1, groups=1,
                    kernel_init=_layers.kaiming_normal_fan_in,
                    dtype=self.dtype, name=f"conv{i + 1}")(x)
      x = nn.relu(_layers.batch_norm(train=train, dtype=self.dtype,
                                     name=f"bn{i + 1}",
                                     groups=self.bn_groups)(x))
      if i + 1 < len(self.widths):
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    features = _layers.global_average_pool(x)
    logits = _heads.make_head(self, name="head")(features)
    return logits, features


class MLP(nn.Module):
  """A multilayer perceptron on flattened inputs; returns (logits, features).

  Attributes:
    num_classes: C.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype; parameters are float32, logits and features are
      returned in float32.
    widths: hidden widths; features have widths[-1] dims.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  head: str = "linear"
  dtype: _layers.Dtype = jnp.float32
  widths: Sequence[int] = (256, 256)
  head_kernel_init: _layers.Initializer = _layers.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, x: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch.

    Args:
      x: float [B, ...] (e.g. [B, 28, 28, 1] or [B, 784]); flattened per row.
      train: unused (no BatchNorm or dropout); kept for a uniform interface.

    Returns:
      logits: float32 [B, C].
      features: float32 [B, widths[-1]].
    """
    del train
    _layers.check_dtype(self.dtype)
    x = jnp.asarray(x)
    if x.ndim < 2:
      raise ValueError(
          f"x must have shape [B, ...] with a batch axis, got shape {x.shape}.")
    x = x.reshape(x.shape[0], -1).astype(self.dtype)
    for i, width in enumerate(self.widths):
      x = nn.relu(nn.Dense(width, kernel_init=_layers.kaiming_normal_fan_in,
                           dtype=self.dtype, param_dtype=_layers.PARAM_DTYPE,
                           name=f"dense{i + 1}")(x))
    features = x.astype(jnp.float32)
    logits = _heads.make_head(self, name="head")(features)
    return logits, features
