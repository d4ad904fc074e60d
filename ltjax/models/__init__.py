"""Flax Linen models for long-tailed classification, and their heads.

Every model's `__call__(x, *, train)` returns `(logits, features)`: logits
float32 [B, C] and the pooled penultimate features float32 [B, D] that the
head maps to the logits (for decoupled classifiers, NCM and FDS). Parameters
and BatchNorm statistics are float32; `dtype` sets the computation dtype.

The head is the submodule `head`; `apply_head(variables["params"]["head"],
features, kind=...)` applies it on its own and `head_of(model)` builds a fresh
one initialised like the model's. Every convolution is made by the model's
`conv` factory (default `conv2d`, whose docstring states the contract), the
one place to swap in another convolution formulation.
"""

from ltjax.models._experts import aggregate_expert_logits
from ltjax.models._experts import expert_heads
from ltjax.models._experts import MLPExperts
from ltjax.models._experts import MnistCNNExperts
from ltjax.models._experts import ResNet32Experts
from ltjax.models._experts import ResNet50Experts
from ltjax.models._heads import apply_head
from ltjax.models._heads import cosine_logits
from ltjax.models._heads import Head
from ltjax.models._heads import head_of
from ltjax.models._heads import HEADS
from ltjax.models._heads import linear_logits
from ltjax.models._heads import unit_columns_uniform
from ltjax.models._layers import batch_norm
from ltjax.models._layers import GroupedBatchNorm
from ltjax.models._layers import conv2d
from ltjax.models._layers import conv_for
from ltjax.models._layers import CONVS
from ltjax.models._layers import patch_conv2d
from ltjax.models._layers import PatchConv
from ltjax.models._layers import kaiming_normal_fan_in
from ltjax.models._layers import kaiming_normal_fan_out
from ltjax.models._layers import torch_linear_default
from ltjax.models._registry import build_model
from ltjax.models._registry import constructor
from ltjax.models._registry import has_convolutions
from ltjax.models._registry import INPUT_KINDS
from ltjax.models._registry import input_kind
from ltjax.models._registry import model_fields
from ltjax.models._registry import supports_zero_init
from ltjax.models._registry import MODELS
from ltjax.models._registry import ResNet32
from ltjax.models._resnet_cifar import BasicBlock
from ltjax.models._resnet_cifar import option_a_shortcut
from ltjax.models._resnet_cifar import ResNetCifar
from ltjax.models._resnet_imagenet import Bottleneck
from ltjax.models._resnet_imagenet import ResNeXt50_32x4d
from ltjax.models._resnet_imagenet import ResNet
from ltjax.models._resnet_imagenet import ResNet50
from ltjax.models._small import MLP
from ltjax.models._small import MnistCNN

__all__ = (
    "BasicBlock",
    "Bottleneck",
    "Head",
    "HEADS",
    "MLP",
    "MLPExperts",
    "MODELS",
    "MnistCNN",
    "MnistCNNExperts",
    "ResNeXt50_32x4d",
    "ResNet",
    "ResNet32",
    "ResNet50",
    "ResNet50Experts",
    "ResNet32Experts",
    "ResNetCifar",
    "aggregate_expert_logits",
    "apply_head",
    "batch_norm",
    "GroupedBatchNorm",
    "build_model",
    "CONVS",
    "PatchConv",
    "conv2d",
    "conv_for",
    "patch_conv2d",
    "cosine_logits",
    "expert_heads",
    "has_convolutions",
    "INPUT_KINDS",
    "input_kind",
    "model_fields",
    "constructor",
    "supports_zero_init",
    "head_of",
    "kaiming_normal_fan_in",
    "kaiming_normal_fan_out",
    "linear_logits",
    "option_a_shortcut",
    "torch_linear_default",
    "unit_columns_uniform",
)
