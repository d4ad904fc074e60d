r"""One training step of ltjax against the original PyTorch code, numerically.

For GLMC, ImbSAM, weight balancing's stage 2 and ACE, the same tensors go
through one step of the original code (PyTorch, run from a checkout of the
original repository) and of ltjax, and the script prints the largest
absolute difference of the loss, of the gradient of every parameter and,
where the step updates parameters, of the parameters after it:

  | method | quantity | max abs diff | original (repo@commit, file) |

It exits with status 1 if a difference exceeds the tolerance of the
precision ltjax computes that quantity in (1e-5 where ltjax computes in
float32, 1e-10 in float64; the PyTorch side runs in float64 except weight
balancing, whose `CB_loss` casts to float32).

Nothing of the originals is copied here: the script imports their modules
from the checkouts named by the flags, calls the smallest original piece
that holds the step, and writes around it only what the original writes in
a training loop that cannot run here (each such piece names its lines):

  GLMC (ynu-yangpeng/GLMC): `utils.util.GLMC_mixed` (the two mixed views and
    targets; its lambda and box centre, drawn with `np.random`, are set to
    the ones `ltjax.mixing.glmc_mix` drew), the heads of
    `model.ResNet_cifar.ResNet_modify` (fc, fc_cb, projection_head,
    contrast_head) and `Trainer.SimSiamLoss`; the one-hot targets, class
    weights and loss are `Trainer.py` lines 43-44 and 77-120. The backbone is
    a linear map of the image (the same in both). ltjax: `glmc_mix`,
    `GLMCHeads`, `glmc_loss` (batch mean), `cumulative_weight`,
    `losses.inverse_frequency_weights`.
  ImbSAM (cool-xuan/Imbalanced_SAM): `imbsam.ImbSAM` and
    `utils.trainval.forbackward` (optim_mode "imbsam": head loss, tail loss
    x 2, the tail ascent, the descent) on a two-layer MLP, with the
    optimiser of `scripts/train.py` (SGD lr 0.01, momentum 0.9, weight decay
    1e-3, rho 0.05, eta 20); the final gradient is read in
    `optimizer.step()`. ltjax: `train.imbsam_gradient` on the loss the
    classification task builds (`train.make_objective` with the default
    config's CE, its `part` over the classes with fewer than
    `imbsam_tail_count` examples, weighted by `imbsam_tail_weight`), then
    `train.sgd`.
  Weight balancing (ShadeAlsha/LTR-weight-balancing): stage 2 of
    `demo2_second-stage-training.py` (lines 316-354): `utils.trainval.
    train_model` for one epoch with `CB_loss(..., "softmax", 0.9999)`,
    `MaxNorm_via_PGD(thresh=0.1)` (thresholds set before training), SGD lr
    0.01, momentum 0.9, weight decay 0.1 and its CosineAnnealingLR(10),
    which is stepped before the epoch: the step runs at lr 0.01 (1 + cos(pi
    / 10)) / 2, which ltjax is given. Its model is the classifier
    (`model.encoder.fc`) on fixed features. One epoch of one batch compares
    the step and the projection after it; one epoch of `--wb_epoch_steps`
    batches compares the original's once-per-epoch projection with ltjax's
    `max_norm_when="epoch"`. ltjax: `decouple.cb_softmax_bce_loss`,
    `losses.class_balanced_weights`, `posthoc.relative_max_norm_threshold`,
    `posthoc.max_norm`, `decouple.with_projection` over `train.sgd`.
  ACE: the official code (github jrcai/ACE) cannot be fetched here; the
    comparison is with a public port, zvalerie/Alps_LCC at 0e7c361:
    `losses/ACE_losses.py` `CELoss_3experts` (with `L2penalty`, its class
    groups replaced by ltjax's `ace_class_masks`, since the port hard-codes
    those of its 10-class segmentation data, and `ignore_index=-100` as
    every class here is real) and the re-scaled aggregation of
    `XL/lib/core/function_ACE.py` `validate` (lines 158-173 and 211-216,
    written out here: `validate` moves every tensor to CUDA). ltjax's
    `losses.ace_loss` is its reading of the paper's equations (arXiv
    2108.02385), so the loss rows measure that reading against the port,
    not against the official code: the port takes each later expert's
    softmax over all C classes and penalises all C squared logits of the
    examples outside its classes, divided by B C; ltjax takes the softmax
    over the expert's own classes and penalises the mean squared logit of
    those classes, averaged over the outside examples. These rows are
    reported, not failed. Three linear experts on fixed features.
    ltjax: `losses.ace_loss`, `ace_class_masks`, `ace_logit_scales`,
    `ace_aggregate(..., scales=...)`.

Setup (a separate venv for PyTorch, outside the repository; the CPU wheel):

  python3 -m venv /work/benchvenv
  /work/benchvenv/bin/pip install torch==2.13.0 numpy absl-py pillow \
      scikit-learn
  mkdir -p /tmp/orig/{glmc,wb,imbsam,ace_port}
  MIRROR=/work/.mirror  # bare clones without their large blobs: archive
                        # only the paths needed
  git -C $MIRROR/ynu-yangpeng+GLMC/repo archive \
      2c0261cc50c12483cba1c6be9659218f9d42676d GLMC-2023/Trainer.py \
      GLMC-2023/utils GLMC-2023/model GLMC-2023/imbalance_data \
      | tar -x -C /tmp/orig/glmc
  git -C $MIRROR/ShadeAlsha+LTR-weight-balancing/repo archive \
      e89f29273d35bb02d58204e7e450a390920c264d utils \
      | tar -x -C /tmp/orig/wb
  git -C $MIRROR/cool-xuan+Imbalanced_SAM/repo archive \
      c65f41eb6ea54d06846180e2eff70abdfed886db imbsam.py utils \
      | tar -x -C /tmp/orig/imbsam
  git -C $MIRROR/zvalerie+Alps_LCC/repo archive \
      0e7c3612f74d3af6ace1bbbf588853e992a9a135 losses XL/lib/core \
      | tar -x -C /tmp/orig/ace_port

(or `git clone` each repository and check out the commit). Then, from the
repository root, with ltjax's environment:

  python -m benchmarks.compare_originals \
      --torch_python=/work/benchvenv/bin/python \
      --glmc_repo=/tmp/orig/glmc --wb_repo=/tmp/orig/wb \
      --imbsam_repo=/tmp/orig/imbsam --ace_port_repo=/tmp/orig/ace_port

The PyTorch half runs in `--torch_python` (this file with `--side=torch`,
one subprocess per method, as the originals' top-level `utils` packages
clash), exchanging .npz files with this process. Third-party modules the
originals import only for data loading or plotting (torchvision, skimage,
matplotlib) are replaced by empty stand-ins when not installed.
"""

import contextlib
import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile
import types
from unittest import mock

from absl import app
from absl import flags
import numpy as np

_SIDE = flags.DEFINE_enum("side", "compare", ["compare", "torch"],
                          "compare: the whole comparison (ltjax's "
                          "environment); torch: the PyTorch half of one "
                          "method (internal).")
_METHODS = flags.DEFINE_list("methods", ["glmc", "imbsam", "wb", "ace"],
                             "Methods to compare.")
_TORCH_PYTHON = flags.DEFINE_string(
    "torch_python", "/work/benchvenv/bin/python",
    "Python of an environment with torch, numpy, absl-py, pillow and "
    "scikit-learn.")
_GLMC_REPO = flags.DEFINE_string("glmc_repo", "/tmp/orig/glmc",
                                 "Checkout of ynu-yangpeng/GLMC.")
_WB_REPO = flags.DEFINE_string("wb_repo", "/tmp/orig/wb",
                               "Checkout of ShadeAlsha/LTR-weight-balancing.")
_IMBSAM_REPO = flags.DEFINE_string("imbsam_repo", "/tmp/orig/imbsam",
                                   "Checkout of cool-xuan/Imbalanced_SAM.")
_ACE_PORT_REPO = flags.DEFINE_string("ace_port_repo", "/tmp/orig/ace_port",
                                     "Checkout of zvalerie/Alps_LCC.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the inputs and of ltjax's "
                             "GLMC mixing key.")
_WB_EPOCH_STEPS = flags.DEFINE_integer(
    "wb_epoch_steps", 3, "Batches in the weight-balancing epoch whose end "
    "is projected once.")
_EXCHANGE = flags.DEFINE_string("exchange", "", "Folder of the .npz files "
                                "(internal, --side=torch).")

# The commits compared (the checkouts must be of these).
_SOURCES = {
    "glmc": "ynu-yangpeng/GLMC@2c0261c",
    "imbsam": "cool-xuan/Imbalanced_SAM@c65f41e",
    "wb": "ShadeAlsha/LTR-weight-balancing@e89f292",
    "ace": "zvalerie/Alps_LCC@0e7c361 (ACE port, not jrcai/ACE)",
}
_TOLERANCE = {"f32": 1e-5, "f64": 1e-10}
# Long-tailed class counts (C = 10, imbalance 125); classes 7-9 have fewer
# than 20 examples (ImbSAM's tail with eta = 20).
_COUNTS = np.array([500, 300, 180, 100, 60, 35, 20, 12, 7, 4])
_BATCH = 16


@dataclasses.dataclass(frozen=True)
class Row:
  """One compared quantity."""
  method: str
  quantity: str
  diff: float
  precision: str  # "f32" or "f64": the precision ltjax computes it in.
  source: str
  # Why a difference is expected (a port, not the official code, whose
  # formula differs from ltjax's reading); such a row never fails the run.
  differs: str = ""

  @property
  def ok(self) -> bool:
    return bool(self.differs or self.diff <= _TOLERANCE[self.precision])


def _max_abs(a, b) -> float:
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.size == b.size == 1:  # a scalar loss as () or (1,)
    a, b = a.reshape(()), b.reshape(())
  if a.shape != b.shape:
    raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
  return float(np.max(np.abs(a - b))) if a.size else 0.0


def _labels(rng: np.random.Generator, num_classes: int) -> np.ndarray:
  """B labels holding every class at least once (so every group occurs)."""
  extra = rng.integers(0, num_classes, _BATCH - num_classes)
  return rng.permutation(np.concatenate([np.arange(num_classes), extra]))


def _dense(rng, fan_out: int, fan_in: int):
  """A PyTorch-layout [out, in] weight and [out] bias."""
  weight = rng.normal(size=(fan_out, fan_in)) / np.sqrt(fan_in)
  return weight, 0.1 * rng.normal(size=fan_out)


# ----------------------------------------------------------------------------
# The PyTorch half (runs in --torch_python, one method per process).
# ----------------------------------------------------------------------------


class _StubType(type):
  """A stand-in class whose attributes are stand-in classes."""

  def __getattr__(cls, name):
    if name.startswith("__"):
      raise AttributeError(name)
    return _StubType(name, (), {})


class _StubModule(types.ModuleType):

  def __getattr__(self, name):
    if name.startswith("__"):
      raise AttributeError(name)
    return _StubType(name, (), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Serves empty modules for the given top-level packages."""

  def __init__(self, roots):
    self.roots = frozenset(roots)

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname.split(".")[0] in self.roots:
      return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
    return None

  def create_module(self, spec):
    return _StubModule(spec.name)

  def exec_module(self, module):
    del module


def _import_original(repo: str, *modules: str):
  """The originals' modules, imported from the checkout `repo`."""
  missing = [name for name in ("torchvision", "skimage", "matplotlib")
             if importlib.util.find_spec(name) is None]
  if missing:
    sys.meta_path.insert(0, _StubFinder(missing))
  sys.path.insert(0, os.path.abspath(repo))
  return [importlib.import_module(name) for name in modules]


@contextlib.contextmanager
def _fixed_draws(*, beta: float, randint: list[int]):
  """`np.random.beta` and `np.random.randint` return the given values."""
  with mock.patch.object(np.random, "beta", return_value=beta) as b, \
      mock.patch.object(np.random, "randint", side_effect=randint) as r:
    yield
  if b.call_count != 1 or r.call_count != len(randint):
    raise RuntimeError(
        f"GLMC_mixed drew beta {b.call_count} and randint {r.call_count} "
        f"times; the harness assumes 1 and {len(randint)}.")


def _torch_glmc(repo: str, x) -> dict[str, np.ndarray]:
  import torch  # pylint: disable=g-import-not-at-top
  from torch.nn import functional as F  # pylint: disable=g-import-not-at-top
  util, trainer, resnet = _import_original(
      os.path.join(repo, "GLMC-2023"), "utils.util", "Trainer",
      "model.ResNet_cifar")
  torch.set_default_dtype(torch.float64)
  num_classes = len(x["counts"])
  model = resnet.ResNet_modify(resnet.BasicBlock_s, [1, 1, 1],
                               num_classes=num_classes, nf=2).double()
  layers = {"fc": model.fc, "fc_cb": model.fc_cb,
            "projector": model.projection_head[0],
            "predictor": model.contrast_head[0]}
  with torch.no_grad():
    for name, layer in layers.items():
      layer.weight.copy_(torch.from_numpy(x[f"{name}_w"]))
      layer.bias.copy_(torch.from_numpy(x[f"{name}_b"]))
  backbone = torch.from_numpy(x["backbone"]).requires_grad_()
  # Trainer.update_weight (Trainer.py:43-44), without its .cuda().
  counts = np.array(x["counts"])
  per_cls_weights = 1.0 / (counts ** float(x["label_weighting"]))
  per_cls_weights = per_cls_weights / np.sum(per_cls_weights) * len(counts)
  per_cls_weights = torch.from_numpy(per_cls_weights)
  # Trainer.train, lines 77-81.
  target_org = torch.from_numpy(x["labels"])
  target_invs = torch.from_numpy(x["labels_b"])
  one_hot_org = torch.zeros(target_org.size(0), num_classes).scatter_(
      1, target_org.view(-1, 1), 1)
  one_hot_org_w = per_cls_weights * one_hot_org
  one_hot_invs = torch.zeros(target_invs.size(0), num_classes).scatter_(
      1, target_invs.view(-1, 1), 1)
  one_hot_invs = one_hot_invs[:one_hot_org.size()[0]]
  one_hot_invs_w = per_cls_weights * one_hot_invs
  # Lines 99-105, with ltjax's lambda and box centre.
  with _fixed_draws(beta=float(x["lam"]),
                    randint=[int(x["centre_h"]), int(x["centre_w"])]):
    mix_x, cut_x, mixup_y, mixcut_y, mixup_y_w, cutmix_y_w = util.GLMC_mixed(
        org1=torch.from_numpy(x["x1"]), org2=torch.from_numpy(x["x2"]),
        invs1=torch.from_numpy(x["xb1"]), invs2=torch.from_numpy(x["xb2"]),
        label_org=one_hot_org, label_invs=one_hot_invs,
        label_org_w=one_hot_org_w, label_invs_w=one_hot_invs_w)

  def forward(images):
    # ResNet_cifar.py:97-102 on the features of the linear backbone.
    feature = images.reshape(images.shape[0], -1) @ backbone
    out = model.fc(feature)
    out_cb = model.fc_cb(feature)
    z = model.projection_head(feature)
    p = model.contrast_head(z)
    return out, out_cb, z, p

  # Trainer.py:108-120.
  simsiam = trainer.Trainer.SimSiamLoss
  output_1, output_cb_1, z1, p1 = forward(mix_x)
  output_2, output_cb_2, z2, p2 = forward(cut_x)
  contrastive_loss = simsiam(None, p1, z2) + simsiam(None, p2, z1)
  loss_mix = -torch.mean(torch.sum(F.log_softmax(output_1, dim=1) * mixup_y,
                                   dim=1))
  loss_cut = -torch.mean(torch.sum(F.log_softmax(output_2, dim=1) * mixcut_y,
                                   dim=1))
  loss_mix_w = -torch.mean(torch.sum(
      F.log_softmax(output_cb_1, dim=1) * mixup_y_w, dim=1))
  loss_cut_w = -torch.mean(torch.sum(
      F.log_softmax(output_cb_2, dim=1) * cutmix_y_w, dim=1))
  balance_loss = loss_mix + loss_cut
  rebalance_loss = loss_mix_w + loss_cut_w
  alpha = 1 - (int(x["epoch"]) / int(x["num_epochs"])) ** 2  # line 50
  loss = (alpha * balance_loss + (1 - alpha) * rebalance_loss
          + float(x["contrast_weight"]) * contrastive_loss)
  loss.backward()
  out = {"loss": loss.detach().numpy(), "mix_x": mix_x.numpy(),
         "cut_x": cut_x.numpy(), "grad_backbone": backbone.grad.numpy()}
  for name, layer in layers.items():
    out[f"grad_{name}_w"] = layer.weight.grad.numpy()
    out[f"grad_{name}_b"] = layer.bias.grad.numpy()
  return out


def _torch_imbsam(repo: str, x) -> dict[str, np.ndarray]:
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  imbsam, trainval = _import_original(repo, "imbsam", "utils.trainval")
  torch.set_default_dtype(torch.float64)
  model = nn.Sequential(nn.Linear(*x["w1"].shape[::-1]), nn.ReLU(),
                        nn.Linear(*x["w2"].shape[::-1]))
  with torch.no_grad():
    for layer, name in ((model[0], "1"), (model[2], "2")):
      layer.weight.copy_(torch.from_numpy(x[f"w{name}"]))
      layer.bias.copy_(torch.from_numpy(x[f"b{name}"]))

  class RecordingSGD(torch.optim.SGD):
    """SGD that keeps the gradients it steps with."""

    def step(self, closure=None):
      self.recorded = [p.grad.detach().clone() for p in model.parameters()]
      return super().step(closure)

  # scripts/train.py:99-107 (defaults --lr 0.01, -wd 0.001, --rho 0.05).
  loss_func = nn.CrossEntropyLoss(reduction="none")
  sgd = RecordingSGD(model.parameters(), lr=float(x["lr"]), momentum=0.9,
                     weight_decay=float(x["weight_decay"]))
  optimizer = imbsam.ImbSAM(optimizer=sgd, model=model, rho=float(x["rho"]))
  # prepare_data: classes with fewer than eta (20) training examples.
  tail_classes = torch.where(torch.tensor(x["counts"]) < int(x["eta"]))[0]
  images = torch.from_numpy(x["features"])
  targets = torch.from_numpy(x["labels"])
  # utils/trainval.py:61-62, then its forbackward (lines 110-145).
  logits = model(images)
  loss = loss_func(logits, targets)
  tail_mask = (targets[:, None] == tail_classes[None, :]).sum(1) == 1
  # The loss at w (trainval.py:131 + 135); forbackward returns head + the
  # tail loss at the ascended weights instead.
  loss_at_w = (loss[~tail_mask].sum() / targets.size(0)
               + loss[tail_mask].sum() / targets.size(0) * 2)
  trainval.forbackward(model, loss_func, optimizer, "imbsam", tail_classes,
                       images, targets, loss)
  names = ("w1", "b1", "w2", "b2")
  out = {"loss": loss_at_w.detach().numpy()}
  for name, grad, param in zip(names, sgd.recorded, model.parameters()):
    out[f"grad_{name}"] = grad.numpy()
    out[f"new_{name}"] = param.detach().numpy()
  return out


def _torch_wb(repo: str, x) -> dict[str, np.ndarray]:
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  trainval, regularizers, cb = _import_original(
      repo, "utils.trainval", "utils.regularizers", "utils.class_balanced_loss")
  counts = [int(n) for n in x["counts"]]
  num_classes = len(counts)

  class Classifier(nn.Module):
    """The stage-2 model as the PGD sees it: `model.encoder.fc`."""

    def __init__(self):
      super().__init__()
      self.encoder = nn.Module()
      self.encoder.fc = nn.Linear(*x["weight"].shape[::-1])

    def forward(self, features):
      return self.encoder.fc(features)

  def run(num_batches: int) -> dict[str, np.ndarray]:
    model = Classifier()
    with torch.no_grad():
      model.encoder.fc.weight.copy_(torch.from_numpy(x["weight"]))
      model.encoder.fc.bias.copy_(torch.from_numpy(x["bias"]))
    # demo2_second-stage-training.py:316-347.
    pgd_func = regularizers.MaxNorm_via_PGD(thresh=float(x["thresh"]))
    pgd_func.setPerLayerThresh(model)
    threshold = float(pgd_func.perLayerThresh[0])
    active_layers = [model.encoder.fc.weight, model.encoder.fc.bias]
    base_lr = float(x["base_lr"])
    losses = []

    def cb_loss_func(logits, label_list):
      loss = cb.CB_loss(label_list, logits, counts, num_classes, "softmax",
                        float(x["beta"]), 2.0, "cpu")
      losses.append(loss.detach().numpy())
      return loss

    optimizer = torch.optim.SGD([{"params": active_layers, "lr": base_lr}],
                                lr=base_lr, momentum=0.9,
                                weight_decay=float(x["weight_decay"]))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, int(x["total_epoch_num"]), eta_min=0.0)
    batches = [(torch.from_numpy(x["features"][i]),
                torch.from_numpy(x["labels"][i])) for i in range(num_batches)]
    with tempfile.TemporaryDirectory() as work_dir:
      trainval.train_model({"train": batches}, model, cb_loss_func,
                           optimizer, scheduler, pgdFunc=pgd_func,
                           num_epochs=1, device="cpu", work_dir=work_dir,
                           model_name="MaxNorm_WD")
    fc = model.encoder.fc
    return {"loss": losses[0], "grad_weight": fc.weight.grad.numpy(),
            "grad_bias": fc.bias.grad.numpy(),
            "new_weight": fc.weight.detach().numpy(),
            "new_bias": fc.bias.detach().numpy(),
            "threshold": np.asarray(threshold),
            "lr": np.asarray(optimizer.param_groups[0]["lr"])}

  out = run(1)
  epoch = run(int(x["epoch_steps"]))
  out["epoch_weight"], out["epoch_bias"] = (epoch["new_weight"],
                                            epoch["new_bias"])
  return out


def _torch_ace(repo: str, x) -> dict[str, np.ndarray]:
  import torch  # pylint: disable=g-import-not-at-top
  (ace_losses,) = _import_original(repo, "losses.ACE_losses")
  torch.set_default_dtype(torch.float64)
  masks = np.asarray(x["masks"], bool)
  args = types.SimpleNamespace(device="cpu", L2penalty=True)
  criterion = ace_losses.CELoss_3experts(args, ignore_index=-100)
  # Its groups (ACE_losses.py:90-99) are those of its segmentation data;
  # use the nested subsets of `ace_class_masks` (expert 0 covers all).
  criterion.body_index = torch.from_numpy(np.flatnonzero(masks[1]))
  criterion.tail_index = torch.from_numpy(np.flatnonzero(masks[2]))
  criterion.body_masked_celoss.weight = torch.from_numpy(
      masks[1].astype(np.float64))
  criterion.tail_masked_celoss.weight = torch.from_numpy(
      masks[2].astype(np.float64))
  weights = torch.from_numpy(x["weights"]).requires_grad_()  # [E, C, K]
  biases = torch.from_numpy(x["biases"]).requires_grad_()  # [E, C]
  features = torch.from_numpy(x["features"])
  targets = torch.from_numpy(x["labels"])
  logits = [features @ weights[e].T + biases[e] for e in range(3)]
  head, body, tail = criterion({f"exp_{e}": z for e, z in enumerate(logits)},
                               targets)
  loss = (head + body + tail).sum()
  loss.backward()
  # function_ACE.py validate, lines 158-173 (its heads are 1x1 convolutions:
  # weights [C, K, 1, 1]) and 211-216.
  many_index = np.flatnonzero(masks[0] & ~masks[1]).tolist()
  medium_index = np.flatnonzero(masks[1] & ~masks[2]).tolist()
  few_index = np.flatnonzero(masks[2]).tolist()
  conv = x["weights"][..., None, None]
  weight_norm_many = np.linalg.norm(conv[0], axis=1)
  weight_norm_medium = np.linalg.norm(conv[1], axis=1)
  weight_norm_few = np.linalg.norm(conv[2], axis=1)
  m_scale = (np.mean(weight_norm_many)
             / np.mean(weight_norm_medium[medium_index + few_index, :]))
  f_scale = (np.mean(weight_norm_many)
             / np.mean(weight_norm_few[few_index, :]))
  with torch.no_grad():
    many_output, medium_output, few_output = (z.clone() for z in logits)
    medium_output[:, many_index] = 0
    few_output[:, many_index + medium_index] = 0
    final_output = many_output + medium_output * m_scale + few_output * f_scale
    final_output[:, medium_index] /= 2
    final_output[:, few_index] /= 3
  return {"loss": loss.detach().numpy(), "head_loss": head.detach().numpy(),
          "grad_weights": weights.grad.numpy(),
          "grad_biases": biases.grad.numpy(),
          "scales": np.array([1.0, m_scale, f_scale]),
          "aggregate": final_output.numpy()}


_TORCH_SIDE = {"glmc": (_torch_glmc, _GLMC_REPO),
               "imbsam": (_torch_imbsam, _IMBSAM_REPO),
               "wb": (_torch_wb, _WB_REPO),
               "ace": (_torch_ace, _ACE_PORT_REPO)}


def _run_torch_side() -> None:
  (method,) = _METHODS.value
  function, repo = _TORCH_SIDE[method]
  with np.load(os.path.join(_EXCHANGE.value, f"{method}_in.npz")) as data:
    inputs = dict(data)
  outputs = function(repo.value, inputs)
  np.savez(os.path.join(_EXCHANGE.value, f"{method}_out.npz"), **outputs)


def _call_torch(method: str, inputs: dict[str, np.ndarray],
                exchange: str) -> dict[str, np.ndarray]:
  """The PyTorch half of `method` on `inputs`, in `--torch_python`."""
  np.savez(os.path.join(exchange, f"{method}_in.npz"), **inputs)
  command = [_TORCH_PYTHON.value, os.path.abspath(__file__), "--side=torch",
             f"--methods={method}", f"--exchange={exchange}"]
  for flag in (_GLMC_REPO, _WB_REPO, _IMBSAM_REPO, _ACE_PORT_REPO):
    command.append(f"--{flag.name}={flag.value}")
  result = subprocess.run(command, capture_output=True, text=True,
                          check=False)
  if result.returncode:
    raise RuntimeError(f"the PyTorch side of {method} failed:\n"
                       f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
  with np.load(os.path.join(exchange, f"{method}_out.npz")) as data:
    return dict(data)


# ----------------------------------------------------------------------------
# The ltjax half and the comparisons (ltjax's environment).
# ----------------------------------------------------------------------------


def _box_centre(low: int, high: int, size: int, cut: int) -> int:
  """The centre `rand_bbox` must draw to clip to [low, high)."""
  for centre in range(size):
    if (np.clip(centre - cut // 2, 0, size) == low
        and np.clip(centre + cut // 2, 0, size) == high):
      return centre
  raise ValueError(f"no centre in [0, {size}) gives the box [{low}, {high}) "
                   f"of side {cut}: ltjax's box is not one GLMC can draw.")


def _compare_glmc(exchange: str) -> list[Row]:
  """GLMC: the two mixed views, the loss and every gradient."""
  # pylint: disable=g-import-not-at-top
  import jax
  import jax.numpy as jnp
  from ltjax import losses
  from ltjax import mixing
  # pylint: enable=g-import-not-at-top
  rng = np.random.default_rng(_SEED.value)
  num_classes, size, dim, proj_dim = len(_COUNTS), 8, 8, 128
  views_nhwc = [rng.normal(size=(_BATCH, size, size, 3)) for _ in range(4)]
  labels, labels_b = _labels(rng, num_classes), _labels(rng, num_classes)
  x = {"counts": _COUNTS, "labels": labels, "labels_b": labels_b,
       "label_weighting": np.asarray(1.2), "epoch": np.asarray(50),
       "num_epochs": np.asarray(200), "contrast_weight": np.asarray(4.0),
       "backbone": (rng.normal(size=(3 * size * size, dim))
                    / np.sqrt(3 * size * size))}
  for name, (fan_out, fan_in) in (("fc", (num_classes, dim)),
                                  ("fc_cb", (num_classes, dim)),
                                  ("projector", (proj_dim, dim)),
                                  ("predictor", (proj_dim, proj_dim))):
    x[f"{name}_w"], x[f"{name}_b"] = _dense(rng, fan_out, fan_in)

  views = mixing.glmc_mix(jax.random.PRNGKey(_SEED.value),
                          (views_nhwc[0], views_nhwc[1]),
                          (views_nhwc[2], views_nhwc[3]), labels, labels_b)
  lam = float(views.mixup_weight)
  pasted = np.any(np.asarray(views.cutmix_images) != views_nhwc[1],
                  axis=(0, 3))
  rows, cols = np.flatnonzero(pasted.any(1)), np.flatnonzero(pasted.any(0))
  cut = int(np.ceil(size * np.sqrt(1.0 - lam)))
  bounds = ((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if rows.size
            else (0, 0, 0, 0))
  x["lam"] = np.asarray(lam)
  x["centre_h"] = np.asarray(_box_centre(bounds[0], bounds[1], size, cut))
  x["centre_w"] = np.asarray(_box_centre(bounds[2], bounds[3], size, cut))
  for key, view in zip(("x1", "x2", "xb1", "xb2"), views_nhwc):
    x[key] = np.ascontiguousarray(view.transpose(0, 3, 1, 2))  # NCHW
  original = _call_torch("glmc", x, exchange)

  heads = mixing.GLMCHeads(num_classes=num_classes, proj_dim=proj_dim)
  params = {"backbone": x["backbone"],
            "fc": {"kernel": x["fc_w"].T, "bias": x["fc_b"]},
            "glmc": {name: {"kernel": x[f"{key}_w"].T, "bias": x[f"{key}_b"]}
                     for name, key in (("classifier_cb", "fc_cb"),
                                       ("projector", "projector"),
                                       ("predictor", "predictor"))}}
  class_weights = losses.inverse_frequency_weights(
      _COUNTS, power=float(x["label_weighting"]))
  weight = mixing.cumulative_weight(int(x["epoch"]), int(x["num_epochs"]))

  def nchw(images):
    return jnp.transpose(images, (0, 3, 1, 2))

  def loss_fn(p):
    outputs = []
    for images in (views.mixup_images, views.cutmix_images):
      features = nchw(images).reshape(_BATCH, -1) @ p["backbone"]
      outputs.append({"logits": features @ p["fc"]["kernel"]
                                + p["fc"]["bias"],
                      **heads.apply({"params": p["glmc"]}, features)})
    return jnp.mean(mixing.glmc_loss(
        outputs[0], outputs[1], views, class_weights=class_weights,
        weight=weight, contrast_weight=float(x["contrast_weight"])))

  loss, grads = jax.value_and_grad(loss_fn)(params)
  source = f"{_SOURCES['glmc']}, Trainer.py:77-120 + util.GLMC_mixed"
  rows = [
      Row("GLMC", "mixup view", _max_abs(nchw(views.mixup_images),
                                         original["mix_x"]), "f64", source),
      Row("GLMC", "CutMix view", _max_abs(nchw(views.cutmix_images),
                                          original["cut_x"]), "f64", source),
      Row("GLMC", "loss", _max_abs(loss, original["loss"]), "f32", source),
      Row("GLMC", "grad backbone", _max_abs(grads["backbone"],
                                            original["grad_backbone"]),
          "f32", source)]
  ours = {"fc": grads["fc"], "fc_cb": grads["glmc"]["classifier_cb"],
          "projector": grads["glmc"]["projector"],
          "predictor": grads["glmc"]["predictor"]}
  for name, grad in ours.items():
    diff = max(_max_abs(grad["kernel"].T, original[f"grad_{name}_w"]),
               _max_abs(grad["bias"], original[f"grad_{name}_b"]))
    rows.append(Row("GLMC", f"grad {name} (W, b)", diff, "f32", source))
  return rows


def _compare_imbsam(exchange: str) -> list[Row]:
  """ImbSAM: loss, the final gradient of the two passes, the SGD update."""
  # pylint: disable=g-import-not-at-top
  import jax
  import optax
  from ltjax import train
  # pylint: enable=g-import-not-at-top
  rng = np.random.default_rng(_SEED.value + 1)
  num_classes, dim, hidden = len(_COUNTS), 8, 16
  config = train.default_config()
  x = {"counts": _COUNTS, "labels": _labels(rng, num_classes),
       "features": rng.normal(size=(_BATCH, dim)), "lr": np.asarray(0.01),
       "weight_decay": np.asarray(1e-3), "rho": np.asarray(0.05),
       "eta": np.asarray(20)}
  x["w1"], x["b1"] = _dense(rng, hidden, dim)
  x["w2"], x["b2"] = _dense(rng, num_classes, hidden)
  original = _call_torch("imbsam", x, exchange)

  # The classification task's loss under ImbSAM (ClassificationTask.loss):
  # objective + (w - 1) tail part; aux "tail_loss" = w tail part.
  objective = train.make_objective(config.loss, _COUNTS, steps_per_epoch=1)
  tail_classes = _COUNTS < config.imbsam_tail_count
  tail_weight = config.imbsam_tail_weight
  params = {"w1": x["w1"].T, "b1": x["b1"], "w2": x["w2"].T, "b2": x["b2"]}

  def loss_fn(p):
    hidden_units = jax.nn.relu(x["features"] @ p["w1"] + p["b1"])
    logits = hidden_units @ p["w2"] + p["b2"]
    value = objective(logits, x["labels"], 0)
    tail = objective.part(logits, x["labels"], 0, classes=tail_classes)
    return (value + (tail_weight - 1.0) * tail,
            ({"tail_loss": tail_weight * tail}, {}))

  gradient = train.imbsam_gradient(float(x["rho"]),
                                   part=lambda aux: aux["tail_loss"])
  (loss, _), grads = gradient(loss_fn, params)
  tx = train.sgd(float(x["lr"]), momentum=0.9,
                 weight_decay=float(x["weight_decay"]))
  updates, _ = tx.update(grads, tx.init(params), params)
  new = optax.apply_updates(params, updates)
  source = f"{_SOURCES['imbsam']}, imbsam.py ImbSAM + utils/trainval.py:128-143"
  rows = [Row("ImbSAM", "loss at w (head + 2 tail)",
              _max_abs(loss, original["loss"]), "f64", source)]
  for name in ("w1", "b1", "w2", "b2"):
    transpose = (lambda a: a.T) if name[0] == "w" else (lambda a: a)
    rows.append(Row("ImbSAM", f"final grad {name}", _max_abs(
        transpose(grads[name]), original[f"grad_{name}"]), "f64", source))
  rows.append(Row("ImbSAM", "params after SGD step", max(
      _max_abs(new["w1"].T, original["new_w1"]),
      _max_abs(new["b1"], original["new_b1"]),
      _max_abs(new["w2"].T, original["new_w2"]),
      _max_abs(new["b2"], original["new_b2"])), "f64", source))
  return rows


def _compare_wb(exchange: str) -> list[Row]:
  """Weight balancing's stage 2: CB loss, gradient, SGD + MaxNorm."""
  # pylint: disable=g-import-not-at-top
  import jax
  import jax.numpy as jnp
  import optax
  from ltjax import decouple
  from ltjax import losses
  from ltjax import posthoc
  from ltjax import train
  # pylint: enable=g-import-not-at-top
  rng = np.random.default_rng(_SEED.value + 2)
  num_classes, dim, steps = len(_COUNTS), 8, _WB_EPOCH_STEPS.value
  # A stage-1 classifier whose class norms follow the counts, as after
  # long-tailed training, so that MaxNorm has columns to project.
  weight, bias = _dense(rng, num_classes, dim)
  weight *= (0.5 + (_COUNTS / _COUNTS.max()))[:, None]
  x = {"counts": _COUNTS, "weight": weight.astype(np.float32),
       "bias": bias.astype(np.float32),
       "features": rng.normal(size=(steps, _BATCH, dim)).astype(np.float32),
       "labels": np.stack([_labels(rng, num_classes) for _ in range(steps)]),
       "thresh": np.asarray(0.1), "base_lr": np.asarray(0.01),
       "weight_decay": np.asarray(0.1), "beta": np.asarray(0.9999),
       "total_epoch_num": np.asarray(10), "epoch_steps": np.asarray(steps)}
  original = _call_torch("wb", x, exchange)

  lr = float(original["lr"])  # the original's lr in its first epoch
  params = {"kernel": jnp.asarray(x["weight"].T),
            "bias": jnp.asarray(x["bias"])}
  threshold = posthoc.relative_max_norm_threshold(
      params["kernel"], position=float(x["thresh"]))
  class_weights = losses.class_balanced_weights(
      _COUNTS.astype(np.float64), beta=float(x["beta"]))

  def loss_fn(p, features, labels):
    logits = features @ p["kernel"] + p["bias"]
    return jnp.mean(decouple.cb_softmax_bce_loss(
        logits, labels, class_weights=class_weights))

  def project(p):
    return {**p, "kernel": posthoc.max_norm(p["kernel"], threshold=threshold)}

  def run(num_steps):
    tx = decouple.with_projection(
        train.sgd(lr, momentum=0.9, weight_decay=float(x["weight_decay"])),
        project, every=num_steps)
    p, state = params, tx.init(params)
    for i in range(num_steps):
      grads = jax.grad(loss_fn)(p, x["features"][i], x["labels"][i])
      updates, state = tx.update(grads, state, p)
      p = optax.apply_updates(p, updates)
    return p

  loss, grads = jax.value_and_grad(loss_fn)(params, x["features"][0],
                                            x["labels"][0])
  one, epoch = run(1), run(steps)
  source = (f"{_SOURCES['wb']}, demo2_second-stage-training.py:316-354 "
            "(trainval.train_model)")
  return [
      Row("WB stage 2", "MaxNorm threshold", _max_abs(
          threshold, original["threshold"]), "f32", source),
      Row("WB stage 2", "CB softmax loss", _max_abs(loss, original["loss"]),
          "f32", source),
      Row("WB stage 2", "grad W", _max_abs(grads["kernel"].T,
                                           original["grad_weight"]),
          "f32", source),
      Row("WB stage 2", "grad b", _max_abs(grads["bias"],
                                           original["grad_bias"]),
          "f32", source),
      Row("WB stage 2", "W, b after SGD + MaxNorm", max(
          _max_abs(one["kernel"].T, original["new_weight"]),
          _max_abs(one["bias"], original["new_bias"])), "f32", source),
      Row("WB stage 2", f"W, b after {steps} steps + MaxNorm", max(
          _max_abs(epoch["kernel"].T, original["epoch_weight"]),
          _max_abs(epoch["bias"], original["epoch_bias"])), "f32", source)]


def _compare_ace(exchange: str) -> list[Row]:
  """ACE: the loss and its gradient, the re-scaled aggregation."""
  # pylint: disable=g-import-not-at-top
  import jax
  import jax.numpy as jnp
  from ltjax import losses
  # pylint: enable=g-import-not-at-top
  rng = np.random.default_rng(_SEED.value + 3)
  num_classes, dim, num_experts = len(_COUNTS), 8, 3
  masks = np.asarray(losses.ace_class_masks(_COUNTS, num_experts))
  experts = [_dense(rng, num_classes, dim) for _ in range(num_experts)]
  x = {"masks": masks, "labels": _labels(rng, num_classes),
       "features": rng.normal(size=(_BATCH, dim)),
       "weights": np.stack([w * (1.0 + e) for e, (w, _) in
                            enumerate(experts)]),  # different norms
       "biases": np.stack([b for _, b in experts])}
  original = _call_torch("ace", x, exchange)

  def logits_of(p):
    return (jnp.einsum("bk,eck->ebc", x["features"], p["weights"])
            + p["biases"][:, None, :])

  def loss_fn(p):
    return losses.ace_loss(logits_of(p), x["labels"], class_counts=_COUNTS,
                           complementary_weight=1.0)

  params = {"weights": x["weights"], "biases": x["biases"]}
  loss, grads = jax.value_and_grad(loss_fn)(params)
  logits = logits_of(params)
  head_loss = losses.ace_loss(logits[:1], x["labels"], class_counts=_COUNTS)
  scales = losses.ace_logit_scales(
      jnp.linalg.norm(x["weights"], axis=-1), masks)
  aggregate = losses.ace_aggregate(logits, masks, scales=scales)
  loss_source = f"{_SOURCES['ace']}, losses/ACE_losses.py CELoss_3experts"
  # The port's experts 1.. take the softmax over all C classes (ltjax: over
  # the expert's own classes) and penalise all C squared logits of the
  # examples outside the expert's classes divided by B C (ltjax: the mean
  # over those examples of the mean over the expert's classes). Expert 0
  # (every class) is the same in both.
  port = "port's formula differs (see the docstring)"
  agg_source = f"{_SOURCES['ace']}, XL/lib/core/function_ACE.py:158-216"
  rows = [
      Row("ACE", "loss (3 experts)", _max_abs(loss, original["loss"]), "f64",
          loss_source, differs=port),
      Row("ACE", "loss of expert 0 (all classes)", _max_abs(
          head_loss, original["head_loss"]), "f64", loss_source)]
  for e in range(num_experts):
    rows.append(Row("ACE", f"grad expert {e} (W, b)", max(
        _max_abs(grads["weights"][e], original["grad_weights"][e]),
        _max_abs(grads["biases"][e], original["grad_biases"][e])), "f64",
                    loss_source, differs=port if e else ""))
  rows += [
      Row("ACE", "logit scales", _max_abs(scales, original["scales"]), "f64",
          agg_source),
      Row("ACE", "re-scaled aggregate logits", _max_abs(
          aggregate, original["aggregate"]), "f64", agg_source)]
  return rows


_COMPARISONS = {"glmc": _compare_glmc, "imbsam": _compare_imbsam,
                "wb": _compare_wb, "ace": _compare_ace}


def _table(rows: list[Row]) -> str:
  lines = ["| method | quantity | max abs diff "
           "| original (repo@commit, file) |", "|---|---|---|---|"]
  for row in rows:
    diff = f"{row.diff:.2e}"
    if row.differs:
      diff += f" ({row.differs})"
    elif not row.ok:
      diff += f" (> {_TOLERANCE[row.precision]:.0e})"
    lines.append(f"| {row.method} | {row.quantity} ({row.precision}) | "
                 f"{diff} | {row.source} |")
  return "\n".join(lines)


def main(argv):
  del argv
  unknown = set(_METHODS.value) - set(_COMPARISONS)
  if unknown:
    raise app.UsageError(f"unknown methods {sorted(unknown)}; known: "
                         f"{sorted(_COMPARISONS)}.")
  if _SIDE.value == "torch":
    _run_torch_side()
    return
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_enable_x64", True)
  rows = []
  with tempfile.TemporaryDirectory() as exchange:
    for method in _METHODS.value:
      rows += _COMPARISONS[method](exchange)
  print(_table(rows))
  if "ace" in _METHODS.value:
    print(f"\nACE: compared with the port {_SOURCES['ace']} and the paper's "
          "equations (arXiv 2108.02385) as ltjax reads them; the official "
          "code (jrcai/ACE) could not be fetched.")
  failed = [row for row in rows if not row.ok]
  if failed:
    print(f"\n{len(failed)} of {len(rows)} differences exceed the tolerance "
          f"(f32 {_TOLERANCE['f32']:.0e}, f64 {_TOLERANCE['f64']:.0e}).")
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
