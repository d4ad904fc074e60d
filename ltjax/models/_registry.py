"""The model registry: names in configs -> Flax Linen model constructors."""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from ltjax.models import _experts
from ltjax.models import _heads
from ltjax.models import _layers
from ltjax.models import _resnet_cifar
from ltjax.models import _resnet_imagenet
from ltjax.models import _small

ResNet32 = functools.partial(_resnet_cifar.ResNetCifar, blocks_per_stage=5)

MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet32": ResNet32,
    # GLMC's CIFAR backbone: ResNet-32 with 4x the widths (D = 256).
    "resnet32_x4": functools.partial(ResNet32, width_multiplier=4),
    "mnist_cnn": _small.MnistCNN,
    "mlp": _small.MLP,
    "resnet50": _resnet_imagenet.ResNet50,
    "resnext50_32x4d": _resnet_imagenet.ResNeXt50_32x4d,
    # RIDE's multi-expert models: logits [E, B, C], features [E, B, D].
    "resnet32_experts": _experts.ResNet32Experts,
    "resnet50_experts": _experts.ResNet50Experts,
    "mnist_cnn_experts": _experts.MnistCNNExperts,
    "mlp_experts": _experts.MLPExperts,
}


def supports_zero_init(name: str) -> bool:
  """Whether model `name` takes `zero_init_residual` (the ResNets)."""
  if name not in MODELS:
    raise ValueError(
        f"Unknown model name {name!r}; known models: {', '.join(MODELS)}.")
  constructor = MODELS[name]
  cls = getattr(constructor, "func", constructor)
  return "zero_init_residual" in getattr(cls, "__dataclass_fields__", {})


def has_convolutions(name: str) -> bool:
  """Whether model `name` takes a `conv` factory (every CNN; not the MLP)."""
  if name not in MODELS:
    raise ValueError(
        f"Unknown model name {name!r}; known models: {', '.join(MODELS)}.")
  constructor = MODELS[name]
  cls = getattr(constructor, "func", constructor)
  return "conv" in getattr(cls, "__dataclass_fields__", {})


def build_model(name: str, *, num_classes: int, head: str = "linear",
                dtype: Any = jnp.float32, **kwargs: Any) -> nn.Module:
  """Builds a registered model; every model maps x to (logits, features).

  Apply it as `model.apply(variables, x, train=False)` -> (logits float32
  [B, C], features float32 [B, D]), or in training with
  `mutable=["batch_stats"]` -> ((logits, features), {"batch_stats": ...}).
  The head's parameters are `variables["params"]["head"]` (see `Head`).

  Args:
    name: one of `MODELS`: "resnet32" (D = 64), "resnet32_x4" (D = 256),
      "mnist_cnn" (D = 128), "mlp"
      (D = 256), "resnet50", "resnext50_32x4d" (D = 2048).
    num_classes: C >= 1.
    head: "linear" (Dense with bias) or "normalized" (cosine logits in
      [-1, 1], no bias; the loss applies the scale, e.g. s = 30 for LDAM).
    dtype: computation dtype, jnp.float32 or jnp.bfloat16; parameters and
      BatchNorm statistics stay float32, logits and features are float32.
    **kwargs: further fields of the model (e.g. `widths` for "mlp",
      `zero_init_residual` for "resnet50", `conv` for a conv factory).

  Returns:
    An unbound Flax Linen module.

  Example:
    >>> model = build_model("resnet32", num_classes=10, head="normalized")
    >>> variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)),
    ...                        train=False)
  """
  if name not in MODELS:
    raise ValueError(
        f"Unknown model name {name!r}; known models: {', '.join(MODELS)}.")
  _heads.check_head_kind(head)
  if isinstance(num_classes, bool) or not isinstance(num_classes, int) or (
      num_classes < 1):
    raise ValueError(
        f"num_classes must be a positive int, got {num_classes!r}.")
  _layers.check_dtype(dtype)
  return MODELS[name](num_classes=num_classes, head=head, dtype=dtype,
                      **kwargs)
