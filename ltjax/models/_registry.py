"""The model registry: names in configs -> Flax Linen model constructors.

An entry is a constructor or its "module:Class" path. The text classifiers
live in `ltjax.text`, which builds on this package (their heads are
`ltjax.models.Head`), so they are registered by path and imported when first
used, as `ltjax.train.TASKS` names the regression task.
"""

import functools
import importlib
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

MODELS: dict[str, Callable[..., nn.Module] | str] = {
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
    # Text classifiers of token ids ({"ids", "lengths"}; `ltjax.text`):
    # a 2-layer BiLSTM (D = 256) and a Transformer encoder (D = 128); the
    # "_pair" ones encode both texts of a pair with one encoder (D = 4 x).
    "bilstm": "ltjax.text:BiLSTMClassifier",
    "text_transformer": "ltjax.text:TransformerClassifier",
    "bilstm_pair": "ltjax.text:BiLSTMPairClassifier",
    "text_transformer_pair": "ltjax.text:TransformerPairClassifier",
}
# What a model reads (`input_kind`): "arrays" (images or feature vectors),
# "tokens" or "token_pairs" (a class's `input_kind` attribute).
INPUT_KINDS = ("arrays", "tokens", "token_pairs")


def constructor(name: str) -> Callable[..., nn.Module]:
  """The constructor of model `name` (a path is imported once)."""
  if name not in MODELS:
    raise ValueError(
        f"Unknown model name {name!r}; known models: {', '.join(MODELS)}.")
  entry = MODELS[name]
  if isinstance(entry, str):
    module, _, attr = entry.partition(":")
    entry = MODELS[name] = getattr(importlib.import_module(module), attr)
  return entry


def model_fields(name: str) -> frozenset[str]:
  """The fields model `name` takes (e.g. "vocab_size", "conv")."""
  built = constructor(name)
  cls = getattr(built, "func", built)
  return frozenset(getattr(cls, "__dataclass_fields__", {}))


def input_kind(name: str) -> str:
  """What model `name` reads: one of `INPUT_KINDS`.

  "tokens": a dict {"ids": int [B, L], "lengths": int [B]} of token ids
  (`ltjax.text.inputs_from_ids`); "token_pairs": the same with "pair_ids"
  and "pair_lengths"; "arrays": images or feature vectors.
  """
  built = constructor(name)
  return getattr(getattr(built, "func", built), "input_kind", "arrays")


def supports_zero_init(name: str) -> bool:
  """Whether model `name` takes `zero_init_residual` (the ResNets)."""
  return "zero_init_residual" in model_fields(name)


def has_convolutions(name: str) -> bool:
  """Whether model `name` takes a `conv` factory (every CNN; not the MLP)."""
  return "conv" in model_fields(name)


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
      (D = 256), "resnet50", "resnext50_32x4d" (D = 2048); of token ids
      (`input_kind`), "bilstm", "text_transformer" (they take
      `vocab_size`, the transformer `max_length` too) and their "_pair"
      variants.
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
  build = constructor(name)
  _heads.check_head_kind(head)
  if isinstance(num_classes, bool) or not isinstance(num_classes, int) or (
      num_classes < 1):
    raise ValueError(
        f"num_classes must be a positive int, got {num_classes!r}.")
  _layers.check_dtype(dtype)
  return build(num_classes=num_classes, head=head, dtype=dtype, **kwargs)
