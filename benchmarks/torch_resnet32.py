"""A PyTorch ResNet-32 train step, the baseline of the speed benchmark.

Written for the benchmark (torch is only in the `bench` extra): the CIFAR
ResNet-32 of He et al. as the LDAM-DRW repository builds it — 3x3 conv 16,
three stages of five basic blocks (16 / 32 / 64 channels), the
parameter-free "option A" shortcut, BatchNorm, global average pooling and a
linear head (464,154 parameters for 10 classes) — trained with
cross-entropy and SGD(lr, momentum 0.9, weight decay 2e-4).
"""

import torch
from torch import nn
import torch.nn.functional as F


class _Shortcut(nn.Module):
  """Option A: subsample by 2 and zero-pad the channels (no parameters)."""

  def __init__(self, planes: int):
    super().__init__()
    self.pad = planes // 4

  def forward(self, x):
    return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class _BasicBlock(nn.Module):

  def __init__(self, in_planes: int, planes: int, stride: int):
    super().__init__()
    self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.shortcut = (_Shortcut(planes) if stride != 1 or in_planes != planes
                     else nn.Identity())

  def forward(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
  """ResNet-32 for 32x32 inputs; returns logits."""

  def __init__(self, num_classes: int = 10):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(16)
    layers, in_planes = [], 16
    for planes, stride in ((16, 1), (32, 2), (64, 2)):
      for i in range(5):
        layers.append(_BasicBlock(in_planes, planes, stride if i == 0 else 1))
        in_planes = planes
    self.layers = nn.Sequential(*layers)
    self.linear = nn.Linear(64, num_classes)
    for module in self.modules():
      if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight)

  def forward(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    out = self.layers(out)
    out = F.adaptive_avg_pool2d(out, 1).flatten(1)
    return self.linear(out)


def make_step(batch_size: int, *, channels_last: bool = False,
              amp: bool = False, lr=0.1, seed: int = 0,
              device: str | None = None):
  """Returns `step()` running one SGD step on a fixed random batch.

  On the GPU when one is visible (or `device`), else on the CPU; the caller
  synchronises by reading the returned loss.

  Args:
    batch_size: images per step.
    channels_last: NHWC memory format for the model and the batch.
    amp: automatic mixed precision: the forward pass under
      `torch.autocast` in bfloat16 (parameters, gradients and the optimizer
      stay float32, like ltjax's `model.dtype="bfloat16"`; bf16 needs no
      loss scaling).
    lr: the SGD learning rate.
    seed: torch's seed (model and batch).
    device: "cuda" / "cpu" (default: cuda when available).
  """
  device = device or ("cuda" if torch.cuda.is_available() else "cpu")
  torch.manual_seed(seed)
  model = ResNet32().to(device)
  optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                              weight_decay=2e-4)
  images = torch.randn(batch_size, 3, 32, 32, device=device)
  labels = torch.randint(0, 10, (batch_size,), device=device)
  if channels_last:
    model = model.to(memory_format=torch.channels_last)
    images = images.contiguous(memory_format=torch.channels_last)
  model.train()

  def step():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=torch.device(device).type,
                        dtype=torch.bfloat16, enabled=amp):
      loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss

  return step


def num_parameters() -> int:
  return sum(p.numel() for p in ResNet32().parameters())
