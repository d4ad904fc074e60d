"""The layers every ltjax model is built from, constructed in one place.

Every convolution of every model is made by a *conv factory*, a model field
(`conv`) whose default is `conv2d` below. To try another convolution
formulation (e.g. patch extraction + matmul for XLA:CPU), pass a different
factory; it must honour the same contract so checkpoints stay interchangeable:

  conv(features, kernel_size, *, strides, groups, kernel_init, dtype, name)
      -> a Linen module mapping x [B, H, W, C_in] to [B, H', W', features],
         with one parameter `kernel` of shape
         [kernel_size, kernel_size, C_in // groups, features] in float32, no
         bias, PyTorch padding (kernel_size // 2 on every side, so
         H' = (H + 2 * (kernel_size // 2) - kernel_size) // strides + 1), and
         computation (inputs and kernel cast) in `dtype`.

Batch normalisation (`batch_norm`) follows PyTorch's defaults (momentum 0.1,
which is Flax `momentum=0.9`; epsilon 1e-5) with statistics and parameters in
float32 whatever the compute dtype. One difference: PyTorch stores the
unbiased batch variance in its running variance, Flax the biased one (a factor
n / (n - 1), n = B * H * W, which is 1.0005 at batch 128 on 8 x 8 maps).
"""

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any
Initializer = jax.nn.initializers.Initializer
ConvFactory = Callable[..., nn.Module]

PARAM_DTYPE = jnp.float32

# PyTorch `kaiming_normal_(w)` with its defaults (fan_in, gain sqrt(2)): the
# init of every conv and linear weight in the LDAM-DRW repo. Untruncated,
# unlike Flax's `kaiming_normal`.
kaiming_normal_fan_in = jax.nn.initializers.variance_scaling(
    2.0, "fan_in", "normal")

# torchvision ResNet: `kaiming_normal_(w, mode="fan_out", nonlinearity="relu")`.
kaiming_normal_fan_out = jax.nn.initializers.variance_scaling(
    2.0, "fan_out", "normal")

# PyTorch's default `nn.Linear` weight init, kaiming_uniform(a=sqrt(5)):
# U(-1/sqrt(fan_in), 1/sqrt(fan_in)). torchvision keeps it for `fc`.
torch_linear_default = jax.nn.initializers.variance_scaling(
    1.0 / 3.0, "fan_in", "uniform")


def conv2d(features: int, kernel_size: int, *, strides: int = 1,
           groups: int = 1, kernel_init: Initializer = kaiming_normal_fan_in,
           dtype: Dtype = jnp.float32, name: str | None = None) -> nn.Module:
  """Makes a bias-free 2D convolution with PyTorch's `padding=k // 2`.

  Explicit symmetric padding, not "SAME": for stride 2 on an even-sized input
  "SAME" pads (0, 1) while PyTorch pads (1, 1), which shifts every sampled
  position and breaks weight porting.

  Args:
    features: output channels.
    kernel_size: square kernel side k.
    strides: stride in both spatial dimensions.
    groups: grouped convolution (ResNeXt); the input channels must be
      divisible by it.
    kernel_init: initializer of the kernel [k, k, C_in // groups, features].
    dtype: computation dtype; the kernel is stored in float32.
    name: submodule name.

  Returns:
    An unbound `flax.linen.Conv` module.
  """
  pad = kernel_size // 2
  return nn.Conv(
      features=features,
      kernel_size=(kernel_size, kernel_size),
      strides=(strides, strides),
      padding=((pad, pad), (pad, pad)),
      feature_group_count=groups,
      use_bias=False,
      kernel_init=kernel_init,
      dtype=dtype,
      param_dtype=PARAM_DTYPE,
      name=name)


class PatchConv(nn.Module):
  """A bias-free convolution computed as patch extraction + one matmul.

  Same parameter (`kernel` [k, k, C_in, features], float32) and the same
  padding (k // 2 on each side) as `conv2d`, so the two are interchangeable
  on the same checkpoint; grouped convolutions fall back to
  `lax.conv_general_dilated`. On CPUs where XLA's convolution kernels are
  slow, one large [B*H*W, C_in*k*k] x [C_in*k*k, features] product can be
  faster (see benchmarks/RESULTS.md).
  """
  features: int
  kernel_size: int
  strides: int = 1
  groups: int = 1
  kernel_init: Initializer = kaiming_normal_fan_in
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k, c_in = self.kernel_size, x.shape[-1]
    if c_in % self.groups:
      raise ValueError(
          f"input channels {c_in} must be divisible by groups {self.groups}.")
    kernel = self.param("kernel", self.kernel_init,
                        (k, k, c_in // self.groups, self.features),
                        PARAM_DTYPE)
    x = x.astype(self.dtype)
    kernel = kernel.astype(self.dtype)
    if self.groups != 1:
      return jax.lax.conv_general_dilated(
          x, kernel, (self.strides,) * 2, ((k // 2, k // 2),) * 2,
          dimension_numbers=("NHWC", "HWIO", "NHWC"),
          feature_group_count=self.groups)
    if k == 1:
      return x[:, ::self.strides, ::self.strides, :] @ kernel[0, 0]
    # im2col by k*k strided slices of the padded input (cheap to
    # differentiate: the transpose of a slice is a pad), concatenated on the
    # channel axis in (kh, kw, C_in) order to match the kernel's layout.
    pad = k // 2
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    s = self.strides
    out_h = (x.shape[1] + 2 * pad - k) // s + 1
    out_w = (x.shape[2] + 2 * pad - k) // s + 1
    patches = jnp.concatenate(
        [padded[:, i:i + s * (out_h - 1) + 1:s, j:j + s * (out_w - 1) + 1:s, :]
         for i in range(k) for j in range(k)], axis=-1)
    return patches @ kernel.reshape(k * k * c_in, self.features)


def patch_conv2d(features: int, kernel_size: int, *, strides: int = 1,
                 groups: int = 1,
                 kernel_init: Initializer = kaiming_normal_fan_in,
                 dtype: Dtype = jnp.float32,
                 name: str | None = None) -> nn.Module:
  """`conv2d`'s contract, computed by `PatchConv` (patches + matmul)."""
  return PatchConv(features=features, kernel_size=kernel_size,
                   strides=strides, groups=groups, kernel_init=kernel_init,
                   dtype=dtype, name=name)


CONVS = {"xla": conv2d, "patches": patch_conv2d}


def conv_for(kind: str, platform: str | None = None):
  """The conv factory for a config's `model.conv`.

  "xla" is `conv2d` (XLA's convolution), "patches" `patch_conv2d`; "auto"
  picks by the default backend: the faster of the two on this platform as
  measured in benchmarks/RESULTS.md (both compute the same function).
  """
  if kind == "auto":
    platform = platform or jax.default_backend()
    kind = AUTO_CONV.get(platform, "xla")
  if kind not in CONVS:
    raise ValueError(
        f"model.conv must be 'auto' or one of {sorted(CONVS)}, got {kind!r}.")
  return CONVS[kind]


# The measured winner per platform (benchmarks/RESULTS.md, issue 8).
AUTO_CONV = {"cpu": "xla"}


class GroupedBatchNorm(nn.Module):
  """BatchNorm whose training statistics are per group of the batch.

  The batch [B, ...] is split into `groups` consecutive groups of B / groups
  examples, each normalised with its own mean and variance (as BatchNorm on
  each replica of a data-parallel job without synchronisation: PyTorch's
  DDP default; `model.bn_axis` "replica"); the running statistics move by
  the groups' mean statistics. Parameters and statistics are those of
  `flax.linen.BatchNorm` (scale, bias; mean, var), so a checkpoint loads in
  either; evaluation uses the running statistics as BatchNorm does.
  """
  groups: int
  use_running_average: bool
  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = PARAM_DTYPE
  scale_init: Initializer = jax.nn.initializers.ones

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    scale = self.param("scale", self.scale_init, (features,),
                       self.param_dtype)
    bias = self.param("bias", jax.nn.initializers.zeros, (features,),
                      self.param_dtype)
    ra_mean = self.variable("batch_stats", "mean",
                            lambda: jnp.zeros((features,), jnp.float32))
    ra_var = self.variable("batch_stats", "var",
                           lambda: jnp.ones((features,), jnp.float32))
    if self.use_running_average:
      mean, var = ra_mean.value, ra_var.value
      shape = (1,) * (x.ndim - 1) + (features,)
      mean, var = mean.reshape(shape), var.reshape(shape)
      y = x.astype(jnp.float32)
    else:
      if x.shape[0] % self.groups:
        raise ValueError(
            f"BatchNorm groups: the batch of {x.shape[0]} does not split "
            f"into {self.groups} equal groups.")
      y = x.astype(jnp.float32).reshape(
          (self.groups, x.shape[0] // self.groups) + x.shape[1:])
      axes = tuple(range(1, y.ndim - 1))
      mean = jnp.mean(y, axis=axes, keepdims=True)
      var = jnp.maximum(
          jnp.mean(jnp.square(y), axis=axes, keepdims=True)
          - jnp.square(mean), 0.0)
      if not self.is_initializing():
        m = self.momentum
        ra_mean.value = (m * ra_mean.value
                         + (1 - m) * jnp.mean(mean, axis=0).reshape(-1))
        ra_var.value = (m * ra_var.value
                        + (1 - m) * jnp.mean(var, axis=0).reshape(-1))
    y = (y - mean) * jax.lax.rsqrt(var + self.epsilon)
    y = y * scale.astype(jnp.float32) + bias.astype(jnp.float32)
    return y.reshape(x.shape).astype(self.dtype)


def batch_norm(*, train: bool, dtype: Dtype, name: str | None = None,
               scale_init: Initializer = jax.nn.initializers.ones,
               groups: int = 1) -> nn.Module:
  """Makes a BatchNorm with PyTorch's defaults and float32 statistics.

  Args:
    train: normalise with the batch's statistics and update the running ones
      (apply with `mutable=["batch_stats"]`); False uses the running ones.
    dtype: dtype of the output; mean and variance are computed and stored in
      float32, scale and bias are float32 parameters.
    name: submodule name.
    scale_init: initializer of the scale (zeros for a zero-init residual).
    groups: > 1: statistics per group of consecutive examples, one group a
      data-parallel replica (`GroupedBatchNorm`); 1: over the whole batch.

  Returns:
    An unbound `flax.linen.BatchNorm` module (a `GroupedBatchNorm` with
    `groups` > 1).
  """
  if groups > 1:
    return GroupedBatchNorm(groups=groups, use_running_average=not train,
                            momentum=0.9, epsilon=1e-5, dtype=dtype,
                            param_dtype=PARAM_DTYPE, scale_init=scale_init,
                            name=name)
  return nn.BatchNorm(
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      dtype=dtype,
      param_dtype=PARAM_DTYPE,
      scale_init=scale_init,
      name=name)


def global_average_pool(x: jax.Array) -> jax.Array:
  """Averages [B, H, W, D] over H and W, accumulating in float32 -> [B, D]."""
  return jnp.mean(x, axis=(1, 2), dtype=jnp.float32)


def check_images(x: Any, name: str = "x") -> jax.Array:
  """Checks a batch of NHWC images, float [B, H, W, C]."""
  x = jnp.asarray(x)
  if x.ndim != 4:
    raise ValueError(
        f"{name} must be a batch of images of shape [B, H, W, C] (NHWC), got "
        f"shape {x.shape}; add a batch or channel axis, e.g. x[..., None].")
  return x


def check_dtype(dtype: Dtype, name: str = "dtype") -> None:
  """Checks a computation dtype is floating point."""
  if not jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
    raise ValueError(
        f"{name} must be a floating-point dtype (jnp.float32 or "
        f"jnp.bfloat16), got {dtype}.")
