"""Contrastive representation learning on the one engine (`config.contrastive`).

Two augmented views are a batch transform, the projection head is a second
set of trained parameters beside the model's ({"model", "contrast"}), and
PaCo's momentum encoder and feature queue are extra state advanced by pure
functions. The model's own head stays the evaluated classifier.

Methods (`contrastive.method`):

  supcon: supervised contrastive pre-training (Khosla et al. 2004.11362;
    official HobbitLong/SupContrast). The model runs on two strong views of
    each example ([2B]); the loss is `contrastive.weight` times SupCon on
    the projections. The classifier is an online linear probe: the model's
    head on the *stop-gradient* features of the first view, trained with
    `config.loss` times `contrastive.ce_weight`, so every evaluation of the
    run reports a real classifier while the representation is trained by
    the contrastive loss alone (SupCon's own linear stage is a separate
    run). The paper's second stage, a linear or cRT head on the frozen
    backbone, is `config.stage2` (the `supcon` recipe: cRT on cached
    features).
  bcl: balanced contrastive learning end to end (Zhu et al., CVPR 2022;
    official FlamieZhu/Balanced-Contrastive-Learning, `cl_views="sim-sim"`):
    three views ([3B]): the classification view (the standard augmentation)
    trained with `config.loss` (logit adjustment in the recipe) times
    `contrastive.ce_weight` (its alpha, 1), and two strong views trained
    with `balanced_contrastive_loss` times `contrastive.weight` (its beta,
    0.35), with the class prototypes the classifier's weight columns
    through a second MLP (`head_fc`), L2-normalised.
  paco: parametric contrastive learning (Cui et al. 2107.12028; official
    dvlab-research/Parametric-Contrastive-Learning, `paco_cifar.py`). The
    query encoder (model + projection) runs on the standard view; the
    momentum encoder (EMA parameters in `extra["paco"]`, momentum
    `contrastive.momentum`, updated before its forward pass, as MoCo's
    `_momentum_update_key_encoder`) on a strong view; its keys join a
    ring-buffer queue of `contrastive.queue_size` keys and labels. The loss
    is `paco_loss` on [queries, keys, queue] with the classifier's logits as
    the parametric class centres (it replaces `config.loss`). Evaluation
    uses the classifier's logits as they are (PaCo's inference).

Differences from the originals:
- the projection head is Linear-ReLU-Linear for every method (SupCon's;
  BCL's has a BatchNorm after the first Linear, PaCo's CIFAR head is the
  model's own `fc` of width moco_dim = 32: `contrastive.proj_hidden = 0`
  gives a single Linear);
- BCL's classifier on CIFAR is here the model's head (`model.head`);
  its ImageNet code uses a cosine head without scale;
- the momentum encoder's BatchNorm statistics are its own (as MoCo's
  `encoder_k` buffers, which the momentum update does not touch); the
  batch shuffle across GPUs (MoCo's shuffle BN) has no single-device
  counterpart and is not done;
- the strong view is `ltjax.data.strong_augment` (random-resized crop,
  flip, colour jitter, grayscale, and RandAugment / AutoAugment-CIFAR when
  `contrastive.view` asks for them); PaCo's Gaussian blur and Cutout are
  not applied. Its flip follows `augment.flip` (off for MNIST's digits).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import data as ltdata
from ltjax import losses
from ltjax import models
from ltjax.train import _component
from ltjax.train import _config


_PARAMS_SEED = 5  # the projection heads' key: fold_in(PRNGKey(seed), 5)
_QUEUE_SEED = 6


def method(config) -> str:
  return config.get("contrastive", {}).get("method", "none")


def enabled(config) -> bool:
  return method(config) != "none"


class ProjectionHead(nn.Module):
  """Linear(D, H) - ReLU - Linear(H, K), or Linear(D, K) when H = 0.

  SupCon's `head="mlp"` (H = D). Computes in float32.
  """
  hidden: int
  out: int

  @nn.compact
  def __call__(self, x):
    x = jnp.asarray(x, jnp.float32)
    if self.hidden:
      x = nn.relu(nn.Dense(self.hidden,
                           kernel_init=models.torch_linear_default)(x))
    return nn.Dense(self.out, kernel_init=models.torch_linear_default)(x)


class ContrastHeads(nn.Module):
  """The projection head, and BCL's prototype head (`head_fc`)."""
  hidden: int
  out: int
  prototypes: bool

  def setup(self):
    self.projection = ProjectionHead(self.hidden, self.out)
    if self.prototypes:
      self.prototype = ProjectionHead(self.hidden, self.out)

  def __call__(self, features):
    return self.projection(features)

  def centres(self, kernel):
    """L2-normalised prototypes [C, K] from the classifier's [D, C]."""
    return _unit(self.prototype(kernel.T))

  def both(self, features, kernel):  # for init: creates both heads
    return self(features), self.centres(kernel)


def _unit(x):
  return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def heads(config, feature_dim: int) -> ContrastHeads:
  c = config.contrastive
  hidden = feature_dim if c.proj_hidden < 0 else c.proj_hidden
  return ContrastHeads(hidden=hidden, out=c.proj_dim,
                       prototypes=c.method == "bcl")


def init_params(config, model_params) -> dict[str, Any]:
  """{"model": the model's, "contrast": the heads' (from config.seed)}."""
  kernel = model_params["head"]["kernel"]
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), _PARAMS_SEED)
  module = heads(config, kernel.shape[0])
  method_ = "both" if module.prototypes else "__call__"
  contrast = module.init(key, jnp.zeros((1, kernel.shape[0]), jnp.float32),
                         *((kernel,) if module.prototypes else ()),
                         method=method_)["params"]
  return {"model": model_params, "contrast": contrast}


def strong_view(config, mean, std, dtype):
  """`(uint8 images, key) -> normalised strong view`."""
  policy = config.contrastive.view
  flip = bool(config.augment.flip)  # off for digits (MNIST-LT's recipe)

  def view(images, key):
    if images.shape[-1] == 1:
      # A grayscale image (MNIST) through the colour pipeline: its three
      # equal channels stay equal (jitter and graying act on luma), so one
      # is kept.
      out = ltdata.strong_augment(
          jnp.repeat(images, 3, axis=-1), key, policy=policy, flip=flip,
          mean=tuple(mean) * 3, std=tuple(std) * 3, dtype=dtype)
      return out[..., :1]
    return ltdata.strong_augment(images, key, policy=policy, flip=flip,
                                 mean=mean, std=std, dtype=dtype)

  return view


def transform(config, strong):
  """The views: [strong, strong] (supcon), [standard, strong, strong]
  (bcl), the standard view plus a strong "key_input" (paco)."""
  name = method(config)

  def apply(batch, key):
    k1, k2 = jax.random.split(key)
    images = batch["image"]
    if name == "supcon":
      inputs = jnp.concatenate([strong(images, k1), strong(images, k2)])
      return {**batch, "input": inputs}
    if name == "bcl":
      inputs = jnp.concatenate([batch["input"], strong(images, k1),
                                strong(images, k2)])
      return {**batch, "input": inputs}
    return {**batch, "key_input": strong(images, k1)}

  return apply


def init_extra(config, model, sample, num_classes: int) -> dict[str, Any]:
  """PaCo's state: EMA encoder (params and BN statistics) and the queue.

  The EMA starts equal to the query encoder: the model's and the heads'
  initial parameters are re-derived from the same seeds
  (`create_train_state`'s fold_in(key, 0), `init_params`'s). The queue
  starts as the official `randn(K, dim)` normalised along the queue axis
  (its `normalize(queue, dim=0)`; the first K / B steps contrast against
  these near-zero keys) with uniform random labels; `ptr` the next row.
  """
  if method(config) != "paco":
    return {}
  variables = model.init(
      jax.random.fold_in(jax.random.PRNGKey(config.seed), 0), sample,
      train=False)
  params = init_params(config, variables["params"])
  c = config.contrastive
  qkey, lkey = jax.random.split(
      jax.random.fold_in(jax.random.PRNGKey(config.seed), _QUEUE_SEED))
  queue = jax.random.normal(qkey, (c.queue_size, c.proj_dim), jnp.float32)
  queue = queue / jnp.linalg.norm(queue, axis=0, keepdims=True)
  return {"paco": {
      "params": params,
      "batch_stats": variables.get("batch_stats", {}),
      "queue": queue,
      "queue_labels": jax.random.randint(lkey, (c.queue_size,), 0,
                                         num_classes, jnp.int32),
      "ptr": jnp.zeros((), jnp.int32),
  }}


def enqueue(paco: dict[str, Any], keys: jax.Array, labels: jax.Array
            ) -> dict[str, Any]:
  """Writes `keys` [B, K] and `labels` [B] at `ptr` and advances it by B.

  A ring buffer: rows ptr .. ptr + B - 1 (mod the queue size) are replaced,
  the pointer moves to (ptr + B) mod size. MoCo asserts size % B == 0; this
  wraps around instead, so any batch size works.
  """
  size = paco["queue"].shape[0]
  rows = (paco["ptr"] + jnp.arange(keys.shape[0])) % size
  return {**paco,
          "queue": paco["queue"].at[rows].set(keys.astype(jnp.float32)),
          "queue_labels": paco["queue_labels"].at[rows].set(
              labels.astype(jnp.int32)),
          "ptr": (paco["ptr"] + keys.shape[0]) % size}


def ema(previous, current, momentum: float):
  """MoCo's key-encoder update: m * previous + (1 - m) * current."""
  return jax.tree.map(
      lambda p, q: momentum * p + (1.0 - momentum) * jax.lax.stop_gradient(q),
      previous, current)


class ContrastiveLoss:
  """`(params, outputs, batch, state) -> (scalar, aux)` of the method."""

  def __init__(self, config, *, objective, counts, model):
    self.config = config
    self.method = method(config)
    self.objective = objective  # config.loss on (logits, labels, step)
    self.model = model
    self.head_kind = config.model.head
    counts = np.asarray(counts, np.float64)
    self.priors = (counts / counts.sum()).astype(np.float32)

  def __call__(self, params, outputs, batch, state):
    c = self.config.contrastive
    logits, features = outputs[0], outputs[1]
    kernel = params["model"]["head"]["kernel"]
    module = heads(self.config, kernel.shape[0])
    labels = batch["label"]
    size = labels.shape[0]

    def project(f):
      return _unit(module.apply({"params": params["contrast"]}, f))

    if self.method == "supcon":
      z = project(features)
      views = jnp.stack([z[:size], z[size:]], axis=1)
      contrast = jnp.mean(losses.supervised_contrastive_loss(
          views, labels, temperature=c.temperature,
          base_temperature=c.base_temperature))
      probe = models.apply_head(
          params["model"]["head"],
          jax.lax.stop_gradient(features[:size]).astype(jnp.float32),
          kind=self.head_kind)
      ce = self.objective(probe, labels, state.step)
      value = c.weight * contrast + c.ce_weight * ce
      return value, {"logits": probe, "contrast_loss": contrast}
    if self.method == "bcl":
      z = project(features[size:])
      views = jnp.stack([z[:size], z[size:]], axis=1)
      prototypes = module.apply({"params": params["contrast"]},
                                kernel.astype(jnp.float32),
                                method=ContrastHeads.centres)
      contrast = jnp.mean(losses.balanced_contrastive_loss(
          views, labels, prototypes, temperature=c.temperature))
      ce = self.objective(logits[:size], labels, state.step)
      value = c.weight * contrast + c.ce_weight * ce
      return value, {"logits": logits[:size], "contrast_loss": contrast}
    return self._paco(params, logits, features, batch, state, project)

  def _paco(self, params, logits, features, batch, state, project):
    c = self.config.contrastive
    paco = state.extra["paco"]
    labels = batch["label"]
    key_params = ema(paco["params"], params, c.momentum)
    variables = {"params": key_params["model"]}
    if paco["batch_stats"]:
      variables["batch_stats"] = paco["batch_stats"]
    (_, key_features), updates = self.model.apply(
        variables, batch["key_input"], train=True, mutable=["batch_stats"])
    keys = jax.lax.stop_gradient(_unit(
        heads(self.config, key_features.shape[-1]).apply(
            {"params": key_params["contrast"]}, key_features)))
    queries = project(features)
    contrast = jnp.concatenate([queries, keys, paco["queue"]])
    contrast_labels = jnp.concatenate([labels, labels,
                                       paco["queue_labels"]])
    value = c.weight * jnp.mean(losses.paco_loss(
        contrast, contrast_labels, logits.astype(jnp.float32),
        class_priors=self.priors, alpha=c.paco_alpha, beta=c.paco_beta,
        gamma=c.paco_gamma, temperature=c.temperature))
    advanced = enqueue({**paco, "params": key_params,
                        "batch_stats": updates.get("batch_stats",
                                                   paco["batch_stats"])},
                       keys, labels)
    return value, {"logits": logits, "paco": advanced}


def advance(extra, aux, batch, step):
  """PaCo: the advanced EMA encoder and queue from the loss's aux."""
  del batch, step
  if "paco" not in aux:
    return extra
  return {**extra, "paco": aux["paco"]}


CONTRASTIVE_METHODS = ("none", "supcon", "bcl", "paco")
CONTRASTIVE_VIEWS = ("simclr", "randaugment", "autoaugment")


def validate_contrastive(config) -> None:
  """Checks `config.contrastive` and the features it cannot combine with."""
  c = config.contrastive
  _config.require_known(c.method, CONTRASTIVE_METHODS, "contrastive.method")
  if c.method == "none":
    return
  _config.require_known(c.view, CONTRASTIVE_VIEWS, "contrastive.view")
  _config.require_field(c.temperature > 0, "contrastive.temperature",
                f"must be > 0, got {c.temperature}.")
  _config.require_field(c.base_temperature > 0, "contrastive.base_temperature",
                f"must be > 0, got {c.base_temperature}.")
  for field in ("weight", "ce_weight", "paco_alpha", "paco_beta",
                "paco_gamma"):
    _config.require_field(c[field] >= 0, f"contrastive.{field}",
                  f"must be >= 0, got {c[field]}.")
  _config.require_field(c.proj_dim >= 1, "contrastive.proj_dim",
                f"must be >= 1, got {c.proj_dim}.")
  _config.require_field(c.proj_hidden >= -1, "contrastive.proj_hidden",
                f"must be -1 (the feature dimension), 0 (no hidden layer) "
                f"or a width, got {c.proj_hidden}.")
  _config.require_field(0 <= c.momentum < 1, "contrastive.momentum",
                f"must be in [0, 1), got {c.momentum}.")
  _config.require_field(c.queue_size >= 1, "contrastive.queue_size",
                f"must be >= 1, got {c.queue_size}.")
  if c.method == "paco":
    _config.require_field(c.paco_beta > 0 or c.paco_alpha > 0, "contrastive.paco_beta",
                  "paco_alpha and paco_beta are both 0: the loss has no "
                  "positive; set paco_beta=1.")
    _config.require_field(config.loss.name == "ce" and config.loss.reweight in (
        "default", "none"), "loss.name",
                  "PaCo's loss replaces config.loss (its class centres are "
                  "the classifier's logits + log prior): leave loss.name="
                  "'ce' and loss.reweight='default'.")
  _config.require_field(not config.model.name.endswith("_experts"), "model.name",
                "contrastive learning trains one backbone: use a single-head "
                "model, not an expert model.")
  _config.require_field(config.model.name not in ("mlp",), "model.name",
                "the strong views are image augmentations: contrastive "
                "learning needs an image model and dataset.")
  for field, off in (("mixing.name", config.mixing.name == "none"),
                     ("max_norm.mode", config.max_norm.mode == "none"),
                     ("glmc.enabled", not config.get("glmc", {}).get(
                         "enabled", False)),
                     ("teacher.workdir", not config.get("teacher", {}).get(
                         "workdir", ""))):
    _config.require_field(off, field, f"is not supported with contrastive.method "
                  f"{c.method!r}: turn it off.")


class Contrastive(_component.Component):
  """SupCon / BCL / PaCo as a training component (`config.contrastive`).

  Adds the projection heads to the trained parameters (`{"model",
  "contrast"}`), a strong view of each image to the batch, and replaces the
  objective by the method's loss (which takes `config.loss` as its
  classification term); PaCo keeps its momentum encoder and queue in the
  step state, and its logits are already balanced (class centres with
  + log pi), so no post-hoc adjustment is reported for it.
  """
  name = "contrastive"
  fields = ("contrastive.method",)
  roles = frozenset({"loss", "params"})
  wraps_params = True

  @staticmethod
  def add_defaults(config) -> None:
    # Contrastive representation learning (`ltjax.train._contrastive`):
    # supcon (two strong views, SupCon + an online linear probe; cRT in
    # stage 2), bcl (LA-CE + BCL), paco (PaCo with a momentum encoder and a
    # feature queue).
    config.contrastive = ml_collections.ConfigDict(dict(
        method="none",  # none | supcon | bcl | paco
        temperature=0.1,  # SupCon CIFAR 0.1; BCL 0.07; PaCo CIFAR 0.05
        base_temperature=0.07,  # SupCon's T_base (bcl / paco: unused)
        weight=1.0,  # the contrastive term's weight (BCL's beta: 0.35)
        ce_weight=1.0,  # config.loss's weight (BCL's alpha; supcon's probe)
        proj_dim=128,  # the projection's width (PaCo CIFAR: 32)
        proj_hidden=-1,  # hidden width of the projection MLP; -1: the
        # feature dimension (SupCon's mlp head), 0: a single Linear
        view="simclr",  # the strong view: simclr | randaugment | autoaugment
        momentum=0.999,  # paco: the key encoder's EMA momentum
        queue_size=1024,  # paco: K keys in the ring buffer
        paco_alpha=0.01,  # paco: contrastive positives' weight
        paco_beta=1.0,  # paco: the class centre's weight
        paco_gamma=1.0,  # paco: contrast rows' weight in the denominator
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    if "contrastive" in config:
      validate_contrastive(config)

  @staticmethod
  def corrects_logits(config) -> bool:
    return method(config) == "paco"

  def init_params(self, params):
    return init_params(self.config, params)

  def loss(self, params, outputs, batch, state):  # pylint: disable=method-hidden
    task = self.task
    loss = ContrastiveLoss(self.config, objective=task.objective_for(batch),
                           counts=task.counts, model=task.model)
    return loss(params, outputs, batch, state)

  def transforms(self):
    task = self.task
    strong = strong_view(self.config, task.mean, task.std, task.dtype)
    return (transform(self.config, strong),)

  def init_extra(self, model, sample):
    return init_extra(self.config, model, sample,
                      self.task.dataset.num_classes)

  @property
  def advance(self):  # pylint: disable=invalid-overridden-method
    return advance if method(self.config) == "paco" else None
