"""The classification engine's second stage: re-training the classifier.

`run_second_stage(run, state, session)` is called by the classification task
after its main schedule when `config.stage2.name != "none"`. It re-trains
(or calibrates) the classifier on the frozen stage-1 backbone, evaluates the
result on val and test, records it as a "stage2" record and writes
predictions.npz of the re-trained classifier.

Methods (`STAGE2_METHODS`); each trains for `stage2.num_epochs` epochs with
SGD (momentum, coupled weight decay) and the originals' epoch-wise cosine
learning rate (`epoch_cosine_schedule`), on the frozen backbone's features
of every augmented batch (`stage2.features="augmented"`, as every original)
or on features extracted once ("cached"):

  crt: cRT (Kang et al. 1910.09217): a re-initialised head
    (`models.head_of(model)`, the model's own init), cross-entropy,
    `stage2.sampler` (class-balanced in the paper).
  mislas: MiSLAS stage 2 (Zhong et al. 2104.00466, official
    `train_stage2.py`): the stage-1 classifier is *kept* (loaded, not
    re-initialised) and fine-tuned at lr_factor * lr together with learnable
    per-class logit scales (its `LearnableWeightScaling`, init 1, lr lr;
    weight decay on both groups), under label-aware smoothing
    (`ltjax.losses.label_aware_smoothing_loss`), with the class-aware
    sampler (4 examples per class draw). Shift learning (`shift_bn`) is
    `model.train()` on the no-grad backbone: only the BatchNorm running
    statistics move; the BN affine parameters get no gradient and are not
    in the optimiser. The official CIFAR-10 configs have shift_bn False,
    CIFAR-100 (and ImageNet-LT, iNat, Places) True. Not copied: its epoch
    of ceil(N / B) + 1 batches (`if i > end_steps: break`) and its choice of
    the best epoch on the test set.
  weight_balancing: stage 2 of Alshammari et al. 2203.14197 (official
    `demo2_second-stage-training.py`): the stage-1 classifier (kernel and
    bias) is kept and fine-tuned with the class-balanced loss
    (`cb_softmax_bce_loss`, the code's `CB_loss(..., "softmax")`;
    `cb_loss="ce"` for class-weighted CE), weight decay, and MaxNorm on the
    kernel (`ltjax.posthoc.max_norm`; the bias is never projected) with the
    relative threshold computed from the kept kernel when stage 2 starts
    and then frozen. Its code projects once per epoch (after the training
    phase of `train_model`); the issue asks for every update, the default
    (`max_norm_when="step"`; "epoch" follows the code). Its model is in
    train mode (BatchNorm statistics drift: shift_bn True follows it), its
    `CosineAnnealingLR` is stepped before each epoch (so its last epoch has
    lr 0; here epoch e has eta(e)), and it keeps the epoch with the best
    test accuracy (not copied).
  disalign: DisAlign (Zhang et al. 2103.16370, official cvpods
    `DisAlignLinear` + `GRWCrossEntropyLoss`): the stage-1 classifier frozen,
    its logits calibrated by `disalign_logits` (the code's
    (1 + sigma s) z + sigma beta), trained with the GRW cross-entropy
    (`generalized_reweight_weights`, PyTorch's weighted batch mean). The
    cvpods trainer keeps the backbone in train mode (shift_bn True follows
    it); its ImageNet-LT stage 2: 10 epochs, lr 0.1, wd 5e-4, batch 256,
    instance sampling, rho 1.2.

With cached features the training set can be re-balanced before the
classifier trains (`stage2.resample`, `stage2.feature_aug`; see
`_rebalance`): random under/over-sampling, SMOTE or ADASYN
(`ltjax.sampling`), or head-class variation transferred to the tail classes
(`ltjax.mixing.transfer_head_variation`). The sampler (`stage2.sampler`,
usually "instance" then) draws from the re-balanced set, whose size sets the
epoch length.

Each run records one "stage2" record (after the last epoch) and writes
predictions.npz of the re-trained classifier on the test split.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ltjax import _watchdog
from ltjax import losses
from ltjax import metrics
from ltjax import mixing
from ltjax import models
from ltjax import posthoc
from ltjax import sampling
from ltjax import train
from ltjax.decouple import _disalign

STAGE2_METHODS = ("none", "crt", "mislas", "weight_balancing", "disalign")
STAGE2_FEATURES = ("cached", "augmented")
SMOOTH_SHAPES = ("concave", "linear", "convex", "exp")
MAX_NORM_WHEN = ("step", "epoch")
CB_LOSSES = ("softmax_bce", "ce")
STAGE2_RESAMPLERS = ("none", "under", "over", "smote", "adasyn")
STAGE2_FEATURE_AUGS = ("none", "head_variation")


def default_stage2_config() -> ml_collections.ConfigDict:
  """`config.stage2`: the classifier's second stage (off by default).

  The generic fields default to MiSLAS's CIFAR-10-LT (rho = 100) stage 2
  (`config/cifar10/cifar10_imb001_stage2_mislas.yaml`); a recipe of another
  method sets its own (the values of each original are in the comments).

  The stage-2 length is `stage2.num_epochs`: a field named `num_epochs` is
  not a duration of the stage-1 schedule, so the configs' `:EPOCHS` argument
  (`ltjax.train.scale_schedule`) does not scale it; every original runs its
  stage 2 for 10 epochs whatever the length of stage 1.

  Returns:
    A ConfigDict with `name="none"`.
  """
  return ml_collections.ConfigDict(dict(
      # none | crt | mislas | weight_balancing | disalign
      name="none",
      # Passes of N sampled training examples (N = the training set size).
      # 10 in MiSLAS, weight balancing, DisAlign and cRT. Not scaled by
      # `:EPOCHS` (see above).
      num_epochs=10,
      # MiSLAS CIFAR 128; weight balancing 64; DisAlign ImageNet-LT 256.
      batch_size=128,
      # Peak learning rate, cosine-annealed to 0 by epoch as in the MiSLAS,
      # weight-balancing and DisAlign code (lr of epoch e: lr (1 + cos(pi
      # e / num_epochs)) / 2). MiSLAS 0.1; weight balancing 0.01; DisAlign
      # 0.1; cRT (ltjax.decouple) 0.2.
      lr=0.1,
      # mislas: the kept classifier's learning rate is lr_factor * lr, the
      # per-class scales' is lr (MiSLAS CIFAR-10 rho=100: 0.5; rho=50, 10:
      # 0.2; CIFAR-100: 0.2 / 0.1 / 0.1).
      lr_factor=0.5,
      momentum=0.9,  # SGD momentum (every original: 0.9)
      # Coupled L2 weight decay (torch.optim.SGD). MiSLAS CIFAR 2e-4; weight
      # balancing 0.1 (its tuned stage-2 value); DisAlign 5e-4; cRT 5e-4.
      weight_decay=2e-4,
      # A `ltjax.sampling.SAMPLERS` name. MiSLAS and cRT: class_balanced;
      # weight balancing and DisAlign: instance.
      sampler="class_balanced",
      # Consecutive examples per class draw of a class-balanced sampler
      # (MiSLAS / cRT's ClassAwareSampler: 4).
      group_size=4,
      # The stage-2 seed is config.seed + seed_offset (head init, sampling,
      # augmentation), so stage 2 draws other numbers than stage 1.
      seed_offset=1,
      # cached: the backbone's features are extracted once (evaluation mode,
      # no augmentation) and the classifier trains on them
      # (`ltjax.train.retrain_head`), fast. augmented: the frozen backbone
      # runs on every augmented batch, as every original does.
      features="augmented",
      # BatchNorm of the frozen backbone in train mode during stage 2: its
      # running statistics are updated on the stage-2 (augmented,
      # re-sampled) batches and used at evaluation; its parameters stay
      # frozen. MiSLAS's "shift learning" (`shift_bn`: False for CIFAR-10,
      # True for CIFAR-100 / ImageNet-LT / iNat / Places). Weight balancing
      # and DisAlign keep the model in train mode too (True). Needs
      # features="augmented".
      shift_bn=False,
      # mislas: label-aware smoothing (`ltjax.losses.label_aware_smoothing_
      # loss`); epsilon runs from smooth_tail (smallest class) to
      # smooth_head (largest). CIFAR-10 rho=100: 0.3 / 0.0 (rho=50: 0.2,
      # rho=10: 0.1; CIFAR-100 rho=100: 0.4 / 0.1). The original's shape is
      # concave (its default); smooth_power is used by shape "exp" only.
      smooth_head=0.3,
      smooth_tail=0.0,
      smooth_shape="concave",
      smooth_power=3.0,
      # weight_balancing: MaxNorm's relative threshold, min + position (max
      # - min) of the kept classifier's per-class norms when stage 2 starts
      # (the original's `thresh = 0.1`).
      max_norm_position=0.1,
      # weight_balancing: project after every update ("step") or once per
      # epoch ("epoch", what the original's `train_model` does).
      max_norm_when="step",
      # weight_balancing: beta of the class-balanced (effective number)
      # weights of its loss (the original: 0.9999).
      cb_beta=0.9999,
      # weight_balancing: the class-balanced loss. softmax_bce: the
      # original's `CB_loss(..., "softmax")`, a binary cross-entropy of the
      # softmax probabilities against the one-hot label, weighted by the
      # label's class weight, averaged over B x C; ce: class-weighted
      # softmax cross-entropy (the paper's description).
      cb_loss="softmax_bce",
      # disalign: rho of the generalised re-weighting, w_c ∝ (1 / n_c)^rho
      # (the original's GRW_SCALE for ImageNet-LT: 1.2).
      grw_power=1.2,
      # Re-balancing of the cached training features (needs
      # features="cached"), done once before the classifier trains, with a
      # key derived from the stage-2 seed: none | under (random
      # under-sampling) | over (random copies) | smote | adasyn
      # (`ltjax.sampling`). The sampler then draws from the re-balanced
      # set; "instance" is the usual choice with it.
      resample="none",
      # smote / adasyn: neighbours per example (clamped to n_c - 1 in a
      # class of n_c <= k examples).
      resample_k_neighbors=5,
      # The per-class target of resample and feature_aug:
      # `ltjax.sampling.target_counts(counts, level=L)`; 0 means L = the
      # largest class count (over, smote, adasyn, head_variation) or the
      # smallest (under), i.e. balanced classes; L > 0 brings every class
      # up (or down, for under) to L.
      resample_level=0,
      # Feature-space tail augmentation of the cached training features
      # (needs features="cached"; not with resample): none |
      # head_variation (`ltjax.mixing.transfer_head_variation`: tail
      # feature + strength * (head feature - its class mean)).
      feature_aug="none",
      feature_aug_strength=1.0,
      # Head classes: those with more than this many training examples
      # (100: the many-shot split of the long-tailed benchmarks).
      feature_aug_head_threshold=100,
      # sample: a real tail feature as the base; mean: the tail class mean.
      feature_aug_base="sample",
      # A finished run's workdir: its newest checkpoint (same dataset and
      # model) is the stage-1 model, and only stage 2 runs (its stage-1
      # evaluation is recorded as stage "backbone"). "" trains stage 1.
      backbone_workdir="",
  ))


def _require(ok: bool, field: str, message: str) -> None:
  if not ok:
    raise ValueError(f"config.stage2.{field}: {message}")


def validate_stage2_config(config) -> None:
  """Checks `config.stage2`; raises ValueError("config.stage2.<field>: ...").

  Args:
    config: a classification config with a `stage2` section.
  """
  s = config.stage2
  _require(s.name in STAGE2_METHODS, "name",
           f"{s.name!r} is not one of {list(STAGE2_METHODS)}.")
  _require(not s.get("backbone_workdir", "") or s.name != "none",
           "backbone_workdir", "a backbone from another run is for a second "
           "stage: set stage2.name (e.g. 'crt') or clear backbone_workdir.")
  for field in ("num_epochs", "batch_size", "group_size"):
    _require(isinstance(s[field], int) and s[field] >= 1, field,
             f"must be an integer >= 1, got {s[field]!r}.")
  _require(s.lr > 0, "lr", f"must be > 0, got {s.lr}.")
  _require(s.lr_factor > 0, "lr_factor", f"must be > 0, got {s.lr_factor}.")
  _require(0 <= s.momentum < 1, "momentum",
           f"must be in [0, 1), got {s.momentum}.")
  _require(s.weight_decay >= 0, "weight_decay",
           f"must be >= 0, got {s.weight_decay}.")
  _require(s.sampler in sampling.SAMPLERS, "sampler",
           f"{s.sampler!r} is not one of {list(sampling.SAMPLERS)}.")
  _require(s.features in STAGE2_FEATURES, "features",
           f"{s.features!r} is not one of {list(STAGE2_FEATURES)}.")
  _require(not s.shift_bn or s.features == "augmented", "shift_bn",
           "updating the BatchNorm statistics needs the backbone to run on "
           "every batch: set stage2.features='augmented' (or shift_bn=False).")
  for field in ("smooth_head", "smooth_tail"):
    _require(0 <= s[field] < 1, field, f"must be in [0, 1), got {s[field]}.")
  _require(s.smooth_shape in SMOOTH_SHAPES, "smooth_shape",
           f"{s.smooth_shape!r} is not one of {list(SMOOTH_SHAPES)}.")
  _require(s.smooth_power > 0, "smooth_power",
           f"must be > 0, got {s.smooth_power}.")
  _require(0 <= s.max_norm_position <= 1, "max_norm_position",
           f"must be in [0, 1], got {s.max_norm_position}.")
  _require(s.max_norm_when in MAX_NORM_WHEN, "max_norm_when",
           f"{s.max_norm_when!r} is not one of {list(MAX_NORM_WHEN)}.")
  _require(0 <= s.cb_beta < 1, "cb_beta", f"must be in [0, 1), got "
           f"{s.cb_beta}.")
  _require(s.cb_loss in CB_LOSSES, "cb_loss",
           f"{s.cb_loss!r} is not one of {list(CB_LOSSES)}.")
  _require(s.grw_power >= 0, "grw_power",
           f"must be >= 0, got {s.grw_power}.")
  _require(s.resample in STAGE2_RESAMPLERS, "resample",
           f"{s.resample!r} is not one of {list(STAGE2_RESAMPLERS)}.")
  _require(s.feature_aug in STAGE2_FEATURE_AUGS, "feature_aug",
           f"{s.feature_aug!r} is not one of {list(STAGE2_FEATURE_AUGS)}.")
  for field in ("resample", "feature_aug"):
    _require(s[field] == "none" or s.features == "cached", field,
             f"{s[field]!r} re-balances the cached training features: set "
             f"stage2.features='cached' (or {field}='none').")
  _require(s.resample == "none" or s.feature_aug == "none", "feature_aug",
           f"choose one re-balancing: resample={s.resample!r} and "
           f"feature_aug={s.feature_aug!r} are both set.")
  _require(isinstance(s.resample_k_neighbors, int)
           and s.resample_k_neighbors >= 1, "resample_k_neighbors",
           f"must be an integer >= 1, got {s.resample_k_neighbors!r}.")
  for field in ("resample_level", "feature_aug_head_threshold"):
    _require(isinstance(s[field], int) and s[field] >= 0, field,
             f"must be an integer >= 0, got {s[field]!r}.")
  _require(s.feature_aug_strength >= 0, "feature_aug_strength",
           f"must be >= 0, got {s.feature_aug_strength}.")
  _require(s.feature_aug_base in mixing.VARIATION_BASES, "feature_aug_base",
           f"{s.feature_aug_base!r} is not one of "
           f"{list(mixing.VARIATION_BASES)}.")
  if s.name == "weight_balancing":
    head = config.model.head
    _require(head == "linear", "name",
             f"MaxNorm bounds a linear classifier's weight norms; model.head "
             f"is {head!r} (a cosine head's norms are 1 already): use "
             f"model.head='linear' or another stage2.name.")


# ---- the pieces of a method ----

LogitsFn = Callable[[Any, jax.Array], jax.Array]  # (params, [B, D]) -> [B, C]
LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (z, y) -> [B]


@dataclasses.dataclass(frozen=True)
class _Method:
  """What a stage-2 method trains: parameters, logits, loss, optimizer."""
  params: Any
  logits_fn: LogitsFn
  loss_fn: LossFn
  tx: optax.GradientTransformation
  notes: dict[str, Any] = dataclasses.field(default_factory=dict)
  # Optional trainer on cached features (features, labels, **retrain_head
  # keywords) -> params; default `ltjax.train.retrain_head` on logits_fn.
  fit_cached: Callable[..., Any] | None = None


def epoch_cosine_schedule(lr: float, *, steps_per_epoch: int,
                          num_epochs: int) -> optax.Schedule:
  r"""The originals' epoch-wise cosine annealing to 0.

  .. math::
    \eta(e) = \eta_0 \, (1 + \cos(\pi e / E)) / 2, \quad
    e = \lfloor \mathrm{step} / \mathrm{steps\_per\_epoch} \rfloor

  (MiSLAS `adjust_learning_rate`; DisAlign's epoch-wise `WarmupCosineLR`.
  Weight balancing's `CosineAnnealingLR` is stepped before each epoch, so
  its epoch e uses eta(e + 1) and its last epoch has lr 0; ltjax uses
  eta(e) for every method.)
  """
  def schedule(step):
    epoch = jnp.floor_divide(step, steps_per_epoch).astype(jnp.float32)
    return lr * 0.5 * (1.0 + jnp.cos(jnp.pi * epoch / num_epochs))
  return schedule


def _sgd(schedule, s) -> optax.GradientTransformation:
  return train.sgd(schedule, momentum=s.momentum,
                   weight_decay=s.weight_decay)


def with_projection(tx: optax.GradientTransformation,
                    project: Callable[[Any], Any], *,
                    every: int = 1) -> optax.GradientTransformation:
  """`tx`, then the updated parameters projected every `every` updates.

  Projected gradient descent as an optax transformation: the returned
  update moves the parameters to project(params + tx's update) on updates
  number every, 2 every, ... (1 = after every update), and is tx's update
  otherwise.
  """
  def init(params):
    return (tx.init(params), jnp.zeros([], jnp.int32))

  def update(updates, state, params=None):
    inner, count = state
    updates, inner = tx.update(updates, inner, params)
    moved = optax.apply_updates(params, updates)
    do = (count + 1) % every == 0
    target = jax.tree.map(lambda a, b: jnp.where(do, a, b), project(moved),
                          moved)
    updates = jax.tree.map(lambda t, p: t - p, target, params)
    return updates, (inner, count + 1)

  return optax.GradientTransformation(init, update)


def cb_softmax_bce_loss(logits: jax.Array, labels: jax.Array, *,
                        class_weights: jax.Array) -> jax.Array:
  r"""Weight balancing's class-balanced "softmax" loss, per example [B].

  .. math::
    \ell_b = w_{y_b} \, \frac{1}{C} \sum_c -[\,1_{c = y_b} \log p_{bc}
             + (1 - 1_{c = y_b}) \log(1 - p_{bc})\,], \quad p = softmax(z)

  The original's `CB_loss(..., loss_type="softmax")`:
  `F.binary_cross_entropy(softmax(z), one_hot(y), weight=w_y)`, whose mean
  over B x C is the batch mean of these; logs clamped at -100 as PyTorch
  (log(1 - p) at about -69 where p rounds to 1, for a finite gradient).
  """
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  # log(1 - p) = log(-expm1(log p)); log p is kept below 0 so that a
  # saturated p = 1 gives a finite value (and gradient) instead of -inf.
  log_not_p = jnp.log(-jnp.expm1(jnp.minimum(log_p, -1e-30)))
  log_p, log_not_p = jnp.maximum(log_p, -100.0), jnp.maximum(log_not_p,
                                                             -100.0)
  onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
  bce = -(onehot * log_p + (1.0 - onehot) * log_not_p)
  return jnp.asarray(class_weights, jnp.float32)[labels] * jnp.mean(bce, -1)


def _frozen_logits(run, head_params) -> LogitsFn:
  """The stage-1 classifier on features, on the loss's scale (LDAM's s)."""
  kind = run.config.model.head
  scale = float(getattr(run.task, "logit_scale", 1.0))
  frozen = jax.tree.map(jnp.asarray, head_params)
  return lambda f: scale * models.apply_head(frozen, f, kind=kind)


def _crt(run, s, head_params, counts, key, schedule, feature_dim):
  """cRT: a re-initialised head (the model's own init), cross-entropy."""
  del head_params, counts
  kind = run.config.model.head
  scale = float(getattr(run.task, "logit_scale", 1.0))
  params = models.head_of(run.model).init(
      key, jnp.zeros((1, feature_dim), jnp.float32))["params"]
  return _Method(
      params=params,
      logits_fn=lambda p, f: scale * models.apply_head(p, f, kind=kind),
      loss_fn=losses.weighted_cross_entropy, tx=_sgd(schedule, s))


def _mislas(run, s, head_params, counts, key, schedule, feature_dim):
  """MiSLAS stage 2: the kept classifier and LWS scales, LAS loss."""
  del key, feature_dim
  kind = run.config.model.head
  scale = float(getattr(run.task, "logit_scale", 1.0))
  params = {"head": jax.tree.map(jnp.asarray, head_params),
            "scales": jnp.ones((run.dataset.num_classes,), jnp.float32)}

  def logits_fn(p, f):
    return p["scales"] * (scale * models.apply_head(p["head"], f, kind=kind))

  power = s.smooth_power if s.smooth_shape == "exp" else None
  counts = np.asarray(counts)

  def loss_fn(z, y):
    return losses.label_aware_smoothing_loss(
        z, y, class_counts=counts, smooth_head=s.smooth_head,
        smooth_tail=s.smooth_tail, shape=s.smooth_shape, power=power)

  def head_lr(step):
    return s.lr_factor * schedule(step)

  tx = optax.multi_transform(
      {"head": _sgd(head_lr, s), "scales": _sgd(schedule, s)},
      lambda p: {"head": jax.tree.map(lambda _: "head", p["head"]),
                 "scales": "scales"})
  return _Method(params=params, logits_fn=logits_fn, loss_fn=loss_fn, tx=tx)


def _weight_balancing(run, s, head_params, counts, key, schedule,
                      feature_dim, *, steps_per_epoch):
  """Weight balancing's stage 2: kept classifier, CB loss, WD and MaxNorm."""
  del key, feature_dim
  params = jax.tree.map(jnp.asarray, head_params)
  threshold = posthoc.relative_max_norm_threshold(
      params["kernel"], position=s.max_norm_position)
  weights = losses.class_balanced_weights(np.asarray(counts, np.float64),
                                          beta=s.cb_beta)

  def loss_fn(z, y):
    if s.cb_loss == "softmax_bce":
      return cb_softmax_bce_loss(z, y, class_weights=weights)
    return losses.weighted_cross_entropy(z, y, class_weights=weights)

  def project(p):
    return {**p, "kernel": posthoc.max_norm(p["kernel"],
                                            threshold=threshold)}

  every = 1 if s.max_norm_when == "step" else steps_per_epoch
  kind = run.config.model.head
  return _Method(
      params=params,
      logits_fn=lambda p, f: models.apply_head(p, f, kind=kind),
      loss_fn=loss_fn,
      tx=with_projection(_sgd(schedule, s), project, every=every),
      notes={"max_norm_threshold": float(threshold)})


def _disalign_method(run, s, head_params, counts, key, schedule,
                     feature_dim):
  """DisAlign: the frozen classifier's logits calibrated, GRW loss."""
  frozen = _frozen_logits(run, head_params)
  params = _disalign.disalign_init(feature_dim, run.dataset.num_classes, key)
  weights = _disalign.generalized_reweight_weights(
      np.asarray(counts, np.float64), power=s.grw_power)

  def loss_fn(z, y):
    return _disalign.weighted_mean_cross_entropy(z, y, class_weights=weights)

  tx = _sgd(schedule, s)

  def fit_cached(features, labels, **kwargs):
    logits = _logits(lambda _, f: frozen(f), None, features,
                     run.eval_batch_size)
    return _disalign.fit_disalign(params, features, logits, labels,
                                  class_counts=counts, power=s.grw_power,
                                  tx=tx, **kwargs)

  return _Method(
      params=params,
      logits_fn=lambda p, f: _disalign.disalign_logits(p, f, frozen(f)),
      loss_fn=loss_fn, tx=tx, fit_cached=fit_cached)


# ---- training ----


def _plan_fn(labels, counts, s, seed) -> Callable[[int], np.ndarray]:
  def plan(epoch):
    probs = sampling.sampling_probabilities(
        s.sampler, counts, epoch=epoch, num_epochs=s.num_epochs)
    return sampling.epoch_plan(labels, seed=seed, epoch=epoch,
                               class_probabilities=probs,
                               group_size=s.group_size)
  return plan


def _train_augmented(run, variables, method: _Method, plan, s, *, seed: int,
                     max_steps: int):
  """Trains on the frozen backbone's features of every augmented batch.

  The backbone's parameters never move (its features pass through
  `stop_gradient` and only `method.params` are differentiated); with
  `s.shift_bn` its BatchNorm normalises by batch statistics and updates
  its running statistics (train mode), as the originals' `model.train()`.

  Returns:
    (params, the backbone variables with the updated batch statistics,
    the last epoch's mean loss, steps taken).
  """
  split = run.dataset.train
  per_epoch = sampling.steps_per_epoch(len(split), s.batch_size)
  key = jax.random.fold_in(jax.random.PRNGKey(seed), 7)
  model, preprocess = run.model, run.preprocess
  shift_bn = bool(s.shift_bn) and "batch_stats" in variables

  @jax.jit
  def step(params, opt_state, variables, images, labels, index):
    inputs = preprocess(images, jax.random.fold_in(key, index))
    if shift_bn:
      (_, features), updates = model.apply(variables, inputs, train=True,
                                           mutable=["batch_stats"])
      variables = {**variables, **updates}
    else:
      _, features = model.apply(variables, inputs, train=False)
    features = jax.lax.stop_gradient(features.astype(jnp.float32))

    def loss(p):
      return jnp.mean(method.loss_fn(method.logits_fn(p, features), labels))

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = method.tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, variables,
            value)

  params, opt_state = method.params, method.tx.init(method.params)
  done, values = 0, []
  for epoch in range(s.num_epochs):
    epoch_plan, values = plan(epoch), []
    for i in range(per_epoch):
      if 0 < max_steps <= done:
        break
      _watchdog.beat(f"second-stage step {done}")
      indices = sampling.batch_indices(epoch_plan, i,
                                       global_batch_size=s.batch_size)
      rng = np.random.default_rng([seed, done])
      images, labels = split.get_batch(indices, rng=rng)
      params, opt_state, variables, value = step(
          params, opt_state, variables, images,
          np.asarray(labels).astype(np.int32), done)
      values.append(value)
      done += 1
  loss = float(np.mean(jax.device_get(values))) if values else float("nan")
  return params, variables, loss, done


def _rebalance(features: np.ndarray, labels: np.ndarray, s, key: jax.Array,
               *, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
  """The cached training set re-balanced by `s.resample` / `s.feature_aug`.

  Done once, before the classifier trains (the same synthetic features in
  every epoch), with `key`. The targets are `sampling.target_counts` of the
  training counts at `s.resample_level` (0: the largest count, or the
  smallest for "under"); feature_aug's head classes are those with more
  than `s.feature_aug_head_threshold` examples.

  Args:
    features: float [N, D], the frozen backbone's training features.
    labels: int [N] in [0, C).
    s: `config.stage2`.
    key: PRNG key of the draws.
    num_classes: C.

  Returns:
    (features [N', D], labels [N']), unchanged when both are "none".
  """
  counts = np.bincount(labels, minlength=num_classes)
  if s.resample == "none" and s.feature_aug == "none":
    return features, labels
  under = s.resample == "under"
  level = s.resample_level or ("min" if under else "max")
  target = sampling.target_counts(counts, level=level,
                                  mode="under" if under else "over")
  if s.resample == "under":
    return sampling.random_under_sample(features, labels, key,
                                        target_counts=target)
  if s.resample == "over":
    return sampling.random_over_sample(features, labels, key,
                                       target_counts=target)
  if s.resample in ("smote", "adasyn"):
    resample = getattr(sampling, s.resample)
    return resample(features, labels, key,
                    k_neighbors=s.resample_k_neighbors, target_counts=target)
  heads = np.flatnonzero(counts > s.feature_aug_head_threshold)
  if not heads.size:
    raise ValueError(
        f"config.stage2.feature_aug_head_threshold: no class has more than "
        f"{s.feature_aug_head_threshold} training examples (the largest has "
        f"{counts.max()}), so there is no head class to transfer from.")
  return mixing.transfer_head_variation(
      features, labels, key, target_counts=target, head_classes=heads,
      strength=s.feature_aug_strength, base=s.feature_aug_base)


def _train_cached(method: _Method, features, labels, plan, s, *,
                  max_steps: int):
  """Trains on cached features (`ltjax.train.retrain_head`)."""
  losses_seen = []
  schedule = dict(epochs=s.num_epochs, batch_size=s.batch_size, plan=plan,
                  on_epoch_end=lambda e, p, value: losses_seen.append(value),
                  max_steps=max_steps)
  if method.fit_cached is not None:
    params = method.fit_cached(features, labels, **schedule)
  else:
    params = train.retrain_head(
        method.params, features, labels, apply_fn=method.logits_fn,
        loss_fn=lambda z, y, w: method.loss_fn(z, y), tx=method.tx,
        **schedule)
  per_epoch = sampling.steps_per_epoch(len(labels), s.batch_size)
  done = s.num_epochs * per_epoch
  if max_steps > 0:
    done = min(done, max_steps)
  return params, (losses_seen[-1] if losses_seen else float("nan")), done


def _logits(logits_fn, params, features, batch_size: int) -> np.ndarray:
  apply = jax.jit(logits_fn)
  parts = []
  for i in range(0, len(features), batch_size):
    _watchdog.beat(f"second-stage logits at example {i}")
    parts.append(np.asarray(apply(params,
                                  jnp.asarray(features[i:i + batch_size]))))
  return np.concatenate(parts)


def _predictions(logits: np.ndarray) -> np.ndarray:
  finite = np.all(np.isfinite(logits), axis=-1)
  return np.where(finite, np.argmax(logits, axis=-1), -1).astype(np.int32)


_BUILDERS = {"crt": _crt, "mislas": _mislas,
             "weight_balancing": _weight_balancing,
             "disalign": _disalign_method}


def run_second_stage(run, state, session) -> list[dict]:
  """Re-trains the stage-1 classifier (`config.stage2`); evaluates, records.

  The stage-1 backbone (and, for disalign, classifier) stays frozen. The
  method of `config.stage2.name` trains its parameters for
  `stage2.num_epochs` epochs of `ceil(N / batch_size)` steps (or
  `config.max_steps` steps when that is > 0: a smoke run), on cached or
  augmented features (`stage2.features`; cached ones re-balanced first by
  `stage2.resample` or `stage2.feature_aug`, the record then holding the
  re-balanced "stage2_class_counts", which the sampler and the method's
  loss use as the class counts), then the new classifier is
  evaluated on val and test with the task's summaries, recorded through
  `session.record` as {"epoch": stage-1 epochs + stage-2 epochs, "step":
  the stage-1 step, "stage": "stage2", "train_loss", "val", "test", ...}
  and its test predictions written to predictions.npz
  (`session.write_predictions`).

  Args:
    run: the classification `ltjax.train.Run`.
    state: the stage-1 train state.
    session: the engine's `Session` (`record`, `write_predictions`).

  Returns:
    [the record].
  """
  config, s = run.config, run.config.stage2
  if s.name == "none":
    return []
  if s.name not in _BUILDERS:
    raise ValueError(f"config.stage2.name: {s.name!r} is not one of "
                     f"{list(STAGE2_METHODS)}.")
  if jax.process_count() > 1:
    raise ValueError("config.stage2: the second stage runs in a single "
                     "process; run it on one host.")
  started = time.perf_counter()
  seed = int(config.seed + s.seed_offset)
  variables = jax.device_get(train.model_variables(run.task, state))
  head_params = variables["params"]["head"]
  counts = np.asarray(run.dataset.train_class_counts)
  feature_dim = int(head_params["kernel"].shape[0])
  labels = np.asarray(run.dataset.train.labels).astype(np.int32)
  notes = {}
  if s.features == "cached":
    features = train.extract_features(
        run.model, variables, run.dataset.train, preprocess=run.preprocess,
        mesh=run.mesh, batch_size=run.eval_batch_size)
    if s.resample != "none" or s.feature_aug != "none":
      features, labels = _rebalance(
          np.asarray(features), labels, s,
          jax.random.fold_in(jax.random.PRNGKey(seed), 3),
          num_classes=len(counts))
      labels = labels.astype(np.int32)
      # The classifier's sampler and loss see the re-balanced counts.
      counts = np.bincount(labels, minlength=len(counts))
      notes["stage2_class_counts"] = [int(n) for n in counts]
  per_epoch = sampling.steps_per_epoch(len(labels), s.batch_size)
  schedule = epoch_cosine_schedule(s.lr, steps_per_epoch=per_epoch,
                                   num_epochs=s.num_epochs)
  builder = _BUILDERS[s.name]
  extra = ({"steps_per_epoch": per_epoch} if s.name == "weight_balancing"
           else {})
  method = builder(run, s, head_params, counts,
                   jax.random.fold_in(jax.random.PRNGKey(seed), 0), schedule,
                   feature_dim, **extra)
  plan = _plan_fn(labels, counts, s, seed)
  max_steps = int(config.max_steps)
  if s.features == "augmented":
    params, variables, loss, done = _train_augmented(
        run, variables, method, plan, s, seed=seed, max_steps=max_steps)
  else:
    params, loss, done = _train_cached(method, features, labels, plan, s,
                                       max_steps=max_steps)
  stage1_step = int(state.step)
  record = {"epoch": stage1_step / run.steps_per_epoch + done / per_epoch,
            "step": stage1_step, "stage": "stage2",
            "method": s.name, "train_loss": loss, **method.notes, **notes}
  test_logits = None
  for name in ("val", "test"):
    split = getattr(run.dataset, name, None)
    if split is None or not len(split):
      continue
    features = train.extract_features(
        run.model, variables, split, preprocess=run.preprocess,
        mesh=run.mesh, batch_size=run.eval_batch_size)
    logits = _logits(method.logits_fn, params, features,
                     run.eval_batch_size)
    split_counts = metrics.ClassificationCounts.from_logits(
        logits, np.asarray(split.labels))
    record[name] = run.task.summaries({"plain": split_counts})[""]
    if name == "test":
      test_logits = logits
  logging.info("stage 2 (%s): %d steps, %.1f s.", s.name, done,
               time.perf_counter() - started)
  session.record(record)
  if test_logits is not None:
    session.write_predictions(run.task.predict_arrays({
        "logits": test_logits.astype(np.float32),
        "prediction": _predictions(test_logits),
        "label": np.asarray(run.dataset.test.labels).astype(np.int32)}))
  return [record]
