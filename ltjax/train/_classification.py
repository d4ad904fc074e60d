"""The classification task: long-tailed classifiers on the one engine.

Objective: a `LOSSES` entry (with re-weighting / DRW read from the step);
epoch plans from the config's sampler; evaluation: mergeable
`ClassificationCounts` (plus post-hoc logit-adjusted counts for plain CE
runs); outputs: per_class.csv and predictions.npz (logits on the loss's
scale).
"""

from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import data as ltdata
from ltjax import losses
from ltjax import metrics as ltmetrics
from ltjax import models
from ltjax import posthoc
from ltjax import sampling
from ltjax.data import _augment
from ltjax.train import _config
from ltjax.train import _contrastive
from ltjax.train import _experts
from ltjax.train import _glmc
from ltjax.train import _objectives
from ltjax.train import _optim
from ltjax.train import _step
from ltjax.train import _task
from ltjax.train import _teacher
from ltjax.train import _tricks

_STANDARD_NORMALIZATION = {
    "cifar10_lt": (_augment.CIFAR_MEAN, _augment.CIFAR_STD),
    "cifar100_lt": (_augment.CIFAR_MEAN, _augment.CIFAR_STD),
    "mnist_lt": (_augment.MNIST_MEAN, _augment.MNIST_STD),
    "imagenet_lt": (_augment.IMAGENET_MEAN, _augment.IMAGENET_STD),
    "places_lt": (_augment.IMAGENET_MEAN, _augment.IMAGENET_STD),
}


def normalization(config, dataset) -> tuple[tuple[float, ...],
                                            tuple[float, ...]]:
  """The config's mean/std, else the dataset's standard, else computed."""
  if config.augment.mean:
    return tuple(config.augment.mean), tuple(config.augment.std)
  if dataset.name in _STANDARD_NORMALIZATION:
    return _STANDARD_NORMALIZATION[dataset.name]
  images, _ = dataset.train.get_batch(
      np.arange(min(len(dataset.train), 10_000)))
  scaled = images.astype(np.float64) / 255.0
  axes = tuple(range(scaled.ndim - 1))
  std = scaled.std(axis=axes)
  # Pixels: a floor for near-constant channels. Feature vectors [N, D] may
  # have any scale: only a constant column (std 0) is left unscaled.
  std = (np.maximum(std, 1e-3) if scaled.ndim == 4 else
         np.where(std > 0, std, 1.0))
  return tuple(scaled.mean(axis=axes).tolist()), tuple(std.tolist())


def reports_posthoc(config) -> bool:
  """Post-hoc adjustment is reported for plain cross-entropy (ERM) runs.

  Its premise is a model whose softmax estimates the long-tailed p(y | x);
  re-weighted, re-sampled or margin-adjusted models (LDAM), PaCo (its
  class centres are the logits + log pi) and GLMC (its evaluated
  classifier is trained on class-weighted targets) are already corrected.
  """
  return (config.loss.name == "ce"
          and _objectives.resolve_reweight(config.loss) == "none"
          and config.sampler.name == "instance"
          # PaCo's loss trains the logits with + log pi: already balanced.
          and _contrastive.method(config) != "paco"
          # GLMC evaluates its re-balanced (class-weighted) classifier.
          and not _glmc.enabled(config))


def eval_logit_scale(config) -> float:
  """The factor the training loss applies to the model's logits.

  LDAM multiplies the (cosine) logits by `loss.scale` s before its softmax;
  every other loss takes the logits as they are. Evaluation uses the same
  factor, so the confidences (ECE, predictions.npz) are those of the
  softmax the model was trained with, not of softmax(cos), which is nearly
  uniform over [-1, 1]. Argmax predictions do not depend on it.
  """
  if _objectives.LOSSES[config.loss.name].needs_normalized_head:
    return float(config.loss.scale)
  return 1.0


def make_eval_step(model, preprocess, *, logit_scale: float = 1.0,
                   class_priors: jax.Array | None = None,
                   posthoc_tau: float = 1.0):
  """Returns `eval_step(state, batch) -> {"plain": counts[, "posthoc": ...]}`.

  The batch carries a bool "mask" (False for padding of the last batch).
  With `class_priors`, also counts the post-hoc logit-adjusted prediction
  argmax(z - tau log pi) (`ltjax.posthoc.adjust_logits`).

  Args:
    model: Flax module, `apply(variables, x, train=False)` -> (logits, feats).
    preprocess: `(uint8 images, None) -> model input`.
    logit_scale: factor applied to the model's logits before they are
      counted, the one the training loss applies (LDAM's s on a cosine
      head). Predictions (argmax) do not depend on it; the confidences,
      hence the ECE, do: softmax over unscaled cosines in [-1, 1] is nearly
      uniform.
    class_priors: optional float [C], for the post-hoc counts.
    posthoc_tau: tau of the post-hoc adjustment.
  """
  return _eval_from_forward(_plain_forward(model, preprocess),
                            logit_scale=logit_scale,
                            class_priors=class_priors, posthoc_tau=posthoc_tau)


def make_predict_step(model, preprocess, *, logit_scale: float = 1.0,
                      class_priors: jax.Array | None = None,
                      posthoc_tau: float = 1.0):
  """Returns `predict_step(state, batch) -> per-example outputs`.

  The outputs, for every row of the batch (padding included; "mask" says
  which rows are real): "logits" float32 [B, C] scaled as in
  `make_eval_step`, "prediction" int32 [B] their argmax (-1 for a row with a
  non-finite logit), "label" and "mask" as given, and with `class_priors`
  "prediction_posthoc", the post-hoc logit-adjusted argmax.
  """
  return _predict_from_forward(_plain_forward(model, preprocess),
                               logit_scale=logit_scale,
                               class_priors=class_priors,
                               posthoc_tau=posthoc_tau)


def _plain_forward(model, preprocess):
  def forward(state, batch):
    images = preprocess(batch["image"], None)
    return model.apply(state.variables(), images, train=False)
  return forward


def _eval_from_forward(forward, *, logit_scale, class_priors, posthoc_tau):

  def eval_step(state, batch):
    logits = _scaled(forward(state, batch)[0], logit_scale)
    counts = {"plain": ltmetrics.ClassificationCounts.from_logits(
        logits, batch["label"], mask=batch["mask"])}
    if class_priors is not None:
      adjusted = posthoc.adjust_logits(logits, class_priors=class_priors,
                                       tau=posthoc_tau)
      counts["posthoc"] = ltmetrics.ClassificationCounts.from_logits(
          adjusted, batch["label"], mask=batch["mask"])
    return counts

  return eval_step


def _predict_from_forward(forward, *, logit_scale, class_priors,
                          posthoc_tau):

  def predict(logits):
    finite = jnp.all(jnp.isfinite(logits), axis=-1)
    return jnp.where(finite, jnp.argmax(logits, axis=-1), -1).astype(
        jnp.int32)

  def predict_step(state, batch):
    logits = _scaled(forward(state, batch)[0], logit_scale)
    out = {"logits": logits.astype(jnp.float32),
           "prediction": predict(logits), "label": batch["label"],
           "mask": batch["mask"]}
    if class_priors is not None:
      out["prediction_posthoc"] = predict(posthoc.adjust_logits(
          logits, class_priors=class_priors, tau=posthoc_tau))
    return out

  return predict_step


def _scaled(logits, logit_scale):
  return logits * jnp.asarray(logit_scale, logits.dtype)


def build_classifier(config, num_classes: int):
  """The classifier of `config.model` with `num_classes` outputs."""
  kwargs = {}
  if models.has_convolutions(config.model.name):
    kwargs["conv"] = models.conv_for(config.model.conv)
  kwargs.update(_experts.model_kwargs(config))
  if config.model.get("zero_init_residual", False):
    kwargs["zero_init_residual"] = True
  return models.build_model(config.model.name, num_classes=num_classes,
                            head=config.model.head,
                            dtype=_config.compute_dtype(config), **kwargs)


def _num_classes(params) -> int:
  """C from the first classifier found in `params` (any model layout)."""
  if isinstance(params, dict) or hasattr(params, "items"):
    if "head" in params and "kernel" in params["head"]:
      return int(params["head"]["kernel"].shape[-1])
    for value in params.values():
      if hasattr(value, "items"):
        found = _num_classes(value)
        if found:
          return found
  return 0


_PARTNER_SEED = 7_919  # the partner plan's seed offset from config.seed
_WHITEN_IMAGES = 5_000  # training images sampled for `model.whiten_init`


def _kernel(params):
  """The evaluated classifier's kernel [D, C] (GLMC: its `fc_cb`)."""
  if "glmc" in params:
    return params["glmc"]["classifier_cb"]["kernel"]
  return params["head"]["kernel"]


def _with_kernel(params, kernel):
  if "glmc" in params:
    glmc = dict(params["glmc"])
    glmc["classifier_cb"] = {**glmc["classifier_cb"], "kernel": kernel}
    return {**params, "glmc": glmc}
  return {**params, "head": {**params["head"], "kernel": kernel}}


def _mixing_transform(mixing_config, class_counts, *, steps_per_epoch: int,
                      balanced: bool):
  """The batch transform of `config.mixing` (`ltjax.mixing`).

  Mixes `batch["input"]` with a partner (the batch permuted, or the
  class-balanced `input_b`), one lambda ~ Beta(alpha, alpha) per batch, and
  writes "mix_label" (the partner's labels) and "mix_weight" (float [B],
  the weight of "label": lambda, CutMix's box-corrected lambda, or Remix's
  rule). Outside [start_epoch, stop_epoch) lambda is 1: the batch is
  unchanged and the loss is the unmixed one, in the same compiled step.
  """
  from ltjax import mixing  # pylint: disable=g-import-not-at-top
  counts = np.asarray(class_counts, np.float32)

  def transform(batch, key):
    lam_key, perm_key, box_key = jax.random.split(key, 3)
    inputs, labels = batch["input"], batch["label"]
    if balanced:
      partner, partner_labels = batch["input_b"], batch["label_b"]
    else:
      perm = jax.random.permutation(perm_key, inputs.shape[0])
      partner, partner_labels = inputs[perm], labels[perm]
    epoch = batch["step"] // steps_per_epoch
    active = epoch >= mixing_config.start_epoch
    if mixing_config.stop_epoch:
      active &= epoch < mixing_config.stop_epoch
    lam = jnp.where(active, mixing.sample_lambda(
        lam_key, alpha=mixing_config.alpha), 1.0)
    if mixing_config.name == "mixup":
      mixed = mixing.mixup(inputs, partner, lam)
    else:
      mixed, lam = mixing.cutmix(inputs, partner, lam, box_key)
    if mixing_config.targets == "remix":
      weight = mixing.remix_targets(
          lam, labels, partner_labels, class_counts=counts,
          kappa=mixing_config.remix_kappa, tau=mixing_config.remix_tau)
      weight = jnp.where(active, weight, 1.0)
    else:
      weight = jnp.full(labels.shape, lam, jnp.float32)
    return {**batch, "input": mixed, "mix_label": partner_labels,
            "mix_weight": weight.astype(jnp.float32)}

  return transform


def check_tail_classes(tail, counts, tail_count) -> None:
  """Refuses an ImbSAM run whose tail set is empty or every class.

  With no class under `imbsam_tail_count` the ascent has no loss to
  sharpen and the run is plain SGD (its tail loss is 0); with every class
  under it, ImbSAM is SAM on the whole loss.
  """
  counts = np.asarray(counts)
  if not np.any(tail):
    raise ValueError(
        f"config.imbsam_tail_count={tail_count}: no class has fewer "
        f"training examples (the smallest has {int(counts.min())}), so "
        f"ImbSAM's tail set is empty and the run would be plain SGD. Set "
        f"config.imbsam_tail_count above {int(counts.min())} (e.g. 100, "
        f"the classes below the many-shot threshold).")
  if np.all(tail):
    raise ValueError(
        f"config.imbsam_tail_count={tail_count}: every class has fewer "
        f"training examples (the largest has {int(counts.max())}), so "
        f"ImbSAM would be SAM on the whole loss; set it at most "
        f"{int(counts.max())} or use optim.sam_kind='sam'.")


class ClassificationTask(_task.Task):
  """Long-tailed classification (`config.task` "classification")."""
  name = "classification"

  default_config = staticmethod(_config.classification_config)
  validate = staticmethod(_config.validate_task_fields)
  load_data = staticmethod(ltdata.load_dataset)

  def __init__(self, config, dataset, *, steps_per_epoch: int):
    super().__init__(config, dataset, steps_per_epoch=steps_per_epoch)
    self.counts = np.asarray(dataset.train_class_counts)
    self.dtype = _config.compute_dtype(config)
    self.mean, self.std = normalization(config, dataset)
    self.logit_scale = eval_logit_scale(config)
    self.priors = (self.counts / self.counts.sum()
                   if reports_posthoc(config) and np.all(self.counts > 0)
                   else None)
    self.objective = _objectives.make_objective(
        config.loss, self.counts, steps_per_epoch=steps_per_epoch)
    self.experts = _experts.enabled(config)
    if self.experts:
      self.logit_scale = _experts.logit_scale(config)
      self.priors = None
      counts = _objectives.check_counts(self.counts).astype(np.float32)
      drw_start = config.loss.drw_start_epoch * steps_per_epoch
      weights_at = _objectives.class_weights(
          _objectives.resolve_reweight(config.loss), config.loss, counts,
          drw_start)
      self._expert_loss = _experts.ExpertLoss(
          config, counts, class_weights_at=weights_at)
    self.teacher = (_teacher.Teacher(config.teacher.workdir,
                                     student_config=config,
                                     counts=self.counts)
                    if _teacher.enabled(config) else None)
    # ImbSAM's tail classes (fewer than imbsam_tail_count examples).
    self.tail_classes = self.counts < config.imbsam_tail_count
    if self._imbsam():
      check_tail_classes(self.tail_classes, self.counts,
                         config.imbsam_tail_count)
    self.contrastive = _contrastive.enabled(config)
    self.glmc = _glmc.enabled(config)
    if self.glmc:
      self._glmc_loss = _glmc.loss(config, self.counts,
                                   steps_per_epoch=steps_per_epoch,
                                   num_classes=dataset.num_classes)

  @classmethod
  def restore_model(cls, config, params):
    """The model and its params (a GLMC run's: the backbone and its `fc`;
    a contrastive run's: without the projection head)."""
    if "model" in params:  # GLMC: {"model", "glmc"}; {"model", "contrast"}
      params = params["model"]
    return build_classifier(config, _num_classes(params)), params

  def init_params(self, model_params):
    if self.config.model.get("whiten_init", False):
      model_params = self._whitened(model_params)
    if self.glmc:
      return _glmc.init_params(self.config, self.dataset.num_classes,
                               model_params)
    if self.contrastive:
      return _contrastive.init_params(self.config, model_params)
    return model_params

  def _whitened(self, model_params):
    """`model_params` with the first convolution a whitening filter bank.

    Computed on the host from up to `_WHITEN_IMAGES` training images (a
    seeded sample), normalised as the model sees them; called once, while
    `init` is traced (the kernel's shape is static there). With more
    channels than twice the patch dimension, the first 2 x dimension are
    whitening filters and the rest keep their initialisation.
    """
    if "conv1" not in model_params or "kernel" not in model_params["conv1"]:
      raise ValueError(
          f"model.whiten_init: model {self.config.model.name!r} has no "
          f"first convolution named conv1; set model.whiten_init=False.")
    shape = model_params["conv1"]["kernel"].shape
    train = self.dataset.train
    rng = np.random.default_rng(self.config.seed)
    count = min(len(train), _WHITEN_IMAGES)
    rows = np.sort(rng.choice(len(train), count, replace=False))
    images, _ = train.get_batch(rows)
    images = ((np.asarray(images, np.float32) / 255.0
               - np.asarray(self.mean, np.float32))
              / np.asarray(self.std, np.float32))
    # As many +/- filter pairs as the patch dimension allows (a 3 x 3 grey
    # patch has 9 directions; MNIST's CNN has 32 channels); the remaining
    # channels keep their initialisation.
    pairs = min(shape[-1] // 2, shape[0] * shape[1] * shape[2])
    kernel = _tricks.whitening_kernel(
        images, kernel_size=shape[0], out_channels=2 * pairs,
        seed=self.config.seed)
    kernel = model_params["conv1"]["kernel"].at[..., :2 * pairs].set(
        jnp.asarray(kernel))
    conv1 = {**model_params["conv1"], "kernel": kernel}
    return {**model_params, "conv1": conv1}

  def trainable(self, params):
    return params["model"] if self.glmc or self.contrastive else params

  def build_model(self):
    return build_classifier(self.config, self.dataset.num_classes)

  def preprocess(self, images, key):
    augment = self.config.augment
    return _augment.augment(images, key, mean=self.mean, std=self.std,
                            padding=augment.padding, flip=augment.flip,
                            dtype=self.dtype)

  def sample_input(self):
    return jnp.zeros((1, *self.dataset.image_shape), self.dtype)

  def optimizer(self, schedule):
    optimizer = _optim.make_optimizer(self.config.optim, schedule)
    if _experts.method(self.config) == "ace":
      return _experts.ace_optimizer(self.config, self.counts, optimizer)
    return optimizer

  def loss(self, params, outputs, batch, state):
    """The objective on the logits, with mixed targets when mixing.

    aux: {"logits"} and, under ImbSAM, "tail_loss" (the tail classes' share
    of the loss, `Objective.part`).
    """
    if self.glmc:
      return self._glmc_loss(params, outputs, batch, state)
    if self.contrastive:
      return self._contrastive_loss(params, outputs, batch, state)
    if self.experts:
      return self._experts_loss(params, outputs, batch, state)
    logits = outputs[0]
    objective = self._objective(batch)
    targets = dict(labels_b=batch.get("mix_label"),
                   weight_a=batch.get("mix_weight"))
    value = objective(logits, batch["label"], state.step, **targets)
    aux = {"logits": logits}
    if self._imbsam():
      # ImbSAM's loss: head part + imbsam_tail_weight * tail part (the
      # original's tail loss is sum / B * 2).
      tail = objective.part(
          logits, batch["label"], state.step, classes=self.tail_classes,
          **targets)
      weight = self.config.imbsam_tail_weight
      value = value + (weight - 1.0) * tail
      aux["tail_loss"] = weight * tail
    if self.teacher is not None:
      value = self._distilled(value, logits, batch, state)
    return value, aux

  def _objective(self, batch):
    """The objective, at the step's traced `loss.tau` in a sweep of it
    (`batch["hyper"]["tau"]`, `_step.make_step`)."""
    tau = batch.get("hyper", {}).get("tau")
    return self.objective if tau is None else self.objective.at_tau(tau)

  def _contrastive_loss(self, params, outputs, batch, state):
    """`config.contrastive`'s loss (`_contrastive.ContrastiveLoss`)."""
    loss = _contrastive.ContrastiveLoss(
        self.config, objective=self._objective(batch), counts=self.counts,
        model=self.model)
    return loss(params, outputs, batch, state)

  def _teacher_logits(self, batch, state):
    return self.teacher.logits(state.extra["teacher"], batch["input"])

  def _distilled(self, value, logits, batch, state):
    """(1 - w) * the loss + w * the distillation loss (`config.teacher`).

    The student's logits are taken on its softmax scale (LDAM's s times a
    cosine head), the teacher's on its own (`_teacher.Teacher.logits`).
    """
    teacher = self.config.teacher
    student = logits.astype(jnp.float32) * self.logit_scale
    distill = jnp.mean(losses.distillation_loss(
        student, self._teacher_logits(batch, state),
        temperature=teacher.temperature, teacher_power=teacher.power))
    return (1.0 - teacher.weight) * value + teacher.weight * distill

  def _experts_loss(self, params, outputs, batch, state):
    """The experts' loss (`config.experts`), on s times their logits."""
    expert_logits = outputs[0].astype(jnp.float32) * self.logit_scale
    if self.teacher is not None:  # RIDE's distillation (validated: ride)
      value = self._expert_loss.distill(
          expert_logits, batch["label"], self._teacher_logits(batch, state),
          state.step)
    else:
      value = self._expert_loss(expert_logits, batch["label"], state.step)
    logits = _experts.aggregate_experts(self.config, outputs[0], self.counts,
                                        params)
    return value, {"logits": logits}

  def train_metrics(self, aux, batch):
    return _step.classification_metrics(aux["logits"], batch)

  def _imbsam(self) -> bool:
    optim = self.config.optim
    return optim.sam_rho > 0 and optim.get("sam_kind", "sam") == "imbsam"

  def gradient(self):
    """SAM (`optim.sam_rho` > 0), ImbSAM (`optim.sam_kind`), or plain."""
    if self._imbsam():
      return _step.imbsam_gradient(float(self.config.optim.sam_rho),
                                   part=lambda aux: aux["tail_loss"])
    return super().gradient()

  @property
  def batch_index(self) -> bool:
    """The derandomised flip reads each example's index."""
    return self.config.augment.get("flip_mode", "random") == "alternating"

  def _alternating_augment(self, batch, key):
    """Crop as usual; mirror by `_tricks.alternating_flip` (the epoch's
    half of the examples), then normalise."""
    augment = self.config.augment
    images = batch[self.input_key]
    if images.ndim == 4:
      images = _augment.random_crop_flip(images, key,
                                         padding=augment.padding, flip=False)
      if augment.flip:
        mirror = _tricks.alternating_flip(
            batch["index"], batch["step"] // self.steps_per_epoch,
            seed=self.config.seed)
        images = jnp.where(mirror[:, None, None, None], images[:, :, ::-1],
                           images)
    return {**batch, "input": _augment.normalize(
        images, mean=self.mean, std=self.std, dtype=self.dtype)}

  def transforms(self):
    """Augmentation (of the partner sample too), then mixing if on."""
    mixing_config = self.config.mixing
    out = list(super().transforms())
    if self.batch_index:
      out[0] = self._alternating_augment
    if self.glmc:
      return tuple(out) + (_glmc.transform(self.config, self.preprocess),)
    if self.contrastive:
      strong = _contrastive.strong_view(self.config, self.mean, self.std,
                                        self.dtype)
      return tuple(out) + (_contrastive.transform(self.config, strong),)
    balanced = (mixing_config.name != "none"
                and mixing_config.partner != "shuffle")
    if balanced:
      def augment_partner(batch, key):
        return {**batch, "input_b": self.preprocess(batch["image_b"], key)}
      out.append(augment_partner)
    if mixing_config.name != "none":
      out.append(_mixing_transform(mixing_config, self.counts,
                                   steps_per_epoch=self.steps_per_epoch,
                                   balanced=balanced))
    return tuple(out)

  def partner_plan(self, epoch):
    """The second sample to mix with (`mixing.partner`), or None.

    "instance": an independent permutation of the training set (each
    example once per epoch: GLMC's second loader at q = 0, without the
    original's replacement); "balanced": classes drawn uniformly, examples
    without repeats within a class until the class is exhausted. Both on
    their own seeded stream.
    """
    mixing_config = self.config.mixing
    if self.glmc:
      partner = self.config.glmc.partner
    elif mixing_config.name == "none":
      return None
    else:
      partner = mixing_config.partner
    if partner == "shuffle":
      return None
    probs = None
    if partner == "balanced":
      probs = sampling.sampling_probabilities(
          "class_balanced", self.dataset.train_class_counts, epoch=epoch,
          num_epochs=self.config.num_epochs)
    return sampling.epoch_plan(np.asarray(self.dataset.train.labels),
                               seed=self.config.seed + _PARTNER_SEED,
                               epoch=epoch, class_probabilities=probs)

  @property
  def advance(self):
    """PaCo's momentum encoder and queue (`config.contrastive`), or None."""
    if _contrastive.method(self.config) == "paco":
      return _contrastive.advance
    return None

  def init_extra(self, model, sample):
    extra = _contrastive.init_extra(self.config, model, sample,
                                    self.dataset.num_classes)
    if self.config.max_norm.mode == "relative":
      # Set from the classifier when projection starts (the first step).
      extra["max_norm_threshold"] = jnp.asarray(-1.0, jnp.float32)
    if self.teacher is not None:  # frozen: checkpointed, never advanced
      extra["teacher"] = self.teacher.variables
    return extra

  @property
  def project(self):
    """MaxNorm after every update (`config.max_norm`), or None."""
    max_norm = self.config.max_norm
    if max_norm.mode == "none":
      return None

    def project(params, extra, previous):
      if max_norm.mode == "relative":
        threshold = extra["max_norm_threshold"]
        threshold = jnp.where(
            threshold < 0, posthoc.relative_max_norm_threshold(
                _kernel(previous), position=max_norm.position),
            threshold)
        extra = {**extra, "max_norm_threshold": threshold}
      else:
        threshold = jnp.asarray(max_norm.threshold, jnp.float32)
      return _with_kernel(params, posthoc.max_norm(
          _kernel(params), threshold=threshold)), extra

    return project

  def epoch_plan(self, epoch: int) -> np.ndarray:
    config, s = self.config, self.config.sampler
    probs = sampling.sampling_probabilities(
        s.name, self.dataset.train_class_counts, epoch=epoch,
        num_epochs=config.num_epochs, start_epoch=s.start_epoch,
        balanced=s.balanced, beta=s.beta)
    return sampling.epoch_plan(np.asarray(self.dataset.train.labels),
                               seed=config.seed, epoch=epoch,
                               class_probabilities=probs,
                               group_size=s.group_size)

  def _forward(self, forward):
    if self.glmc:
      return _glmc.eval_forward(self.config, self.dataset.num_classes,
                                forward)
    if self.experts:
      def aggregated(state, batch):
        expert_logits, features = forward(state, batch)[:2]
        return (_experts.aggregate_experts(self.config, expert_logits,
                                           self.counts, state.params),
                features)
      return aggregated
    return forward

  def _tta(self, forward):
    """`forward` with `config.eval_tta` (its logits only, `(logits,)`).

    The views are made of the raw images (mirror; one-pixel translations
    with reflect padding), which commute with the per-channel
    normalisation, so any forward (experts, GLMC) is augmented the same.
    """
    mode = self.config.get("eval_tta", "none")
    if mode == "none":
      return forward
    key = self.input_key

    def augmented(state, batch):
      images = batch[key]
      if images.ndim != 4:
        raise ValueError(
            f"config.eval_tta={mode!r} needs images [B, H, W, K]; this "
            f"dataset's inputs have shape {images.shape}. Set "
            f"eval_tta='none'.")
      return (_tricks.tta_logits(
          lambda views: forward(state, {**batch, key: views})[0], images,
          mode),)

    return augmented

  def make_eval_step(self, forward):
    forward = self._tta(self._forward(forward))
    return _eval_from_forward(forward, logit_scale=self.logit_scale,
                              class_priors=self.priors,
                              posthoc_tau=self.config.posthoc_tau)

  def make_predict_step(self, forward):
    forward = self._tta(self._forward(forward))
    return _predict_from_forward(forward, logit_scale=self.logit_scale,
                                 class_priors=self.priors,
                                 posthoc_tau=self.config.posthoc_tau)

  def summaries(self, metric) -> dict[str, dict[str, Any]]:
    config = self.config
    out = {}
    for kind, value in metric.items():
      if int(ltmetrics.unscored(value)):
        logging.warning(
            "%d evaluated rows had a non-finite logit and %d a label outside "
            "[0, %d): every metric of this evaluation is NaN.",
            int(value.nonfinite), int(value.out_of_range),
            self.dataset.num_classes)
      summary = ltmetrics.classification_summary(
          value, self.counts, many=config.shot_many, few=config.shot_few)
      summary["per_class"] = np.asarray(
          ltmetrics.per_class_accuracy(value)).tolist()
      out["" if kind == "plain" else f"_{kind}"] = summary
    return out

  def predict_arrays(self, outputs):
    """predictions.npz: the test split's per-example outputs.

    {"index": int64 [N] position in the split, "label": int32 [N],
    "prediction": int32 [N] (argmax; -1 for a row with a non-finite logit),
    "logits": float32 [N, C] on the loss's scale (softmax of them is the
    model's probability), "logit_scale": float scalar (LDAM's s, else 1),
    "class_names" [C], "prediction_posthoc" int32 [N] for a run that
    reports post-hoc adjustment, and "source_line" int64 [N] (the row's
    1-based line in its file) for tabular sources}.
    """
    out = dict(outputs)
    out["index"] = np.arange(len(out["label"]))
    out["logit_scale"] = np.float32(self.logit_scale)
    out["class_names"] = np.asarray(self.dataset.class_names, dtype=str)
    lines = getattr(self.dataset.test, "source_lines", None)
    if lines is not None:
      out["source_line"] = np.asarray(lines, np.int64)
    return out

  def inference_fields(self):
    source = self.dataset.metadata.get("source", {})
    return {"task": self.name, "dataset": self.dataset.name,
            "class_names": list(self.dataset.class_names),
            "train_class_counts": self.counts.tolist(),
            "input_shape": list(self.dataset.image_shape),
            "mean": list(self.mean), "std": list(self.std),
            "csv_schema": (source.get("csv_schema")
                           if isinstance(source, dict) else None)}

  def evaluated_kernel(self, params):
    """GLMC's re-balanced classifier, the experts' heads (concatenated), a
    contrastive run's model head, else the model's head."""
    if self.experts:
      return jnp.concatenate([h["kernel"] for h in
                              models.expert_heads(params)], axis=-1)
    if "model" in params and "glmc" not in params:
      params = params["model"]
    if "glmc" not in params and "head" not in params:
      return None
    return _kernel(params)

  def report_fields(self, stage):
    del stage
    return {"train_class_counts": self.counts.tolist()}

  def csv_rows(self, final, best):
    config, dataset = self.config, self.dataset
    groups = ltmetrics.shot_groups(self.counts, many=config.shot_many,
                                   few=config.shot_few)
    rows = []
    for c in range(dataset.num_classes):
      group = next(g for g in ltmetrics.SHOT_GROUPS if groups[g][c])
      row = {"class": c, "name": dataset.class_names[c],
             "train_count": int(self.counts[c]), "group": group,
             "test_acc_final": final["test"]["per_class"][c]}
      if "test_posthoc" in final:
        row["test_acc_final_posthoc"] = final["test_posthoc"]["per_class"][c]
      if best is not None:
        row["test_acc_best_val"] = best["test"]["per_class"][c]
      rows.append(row)
    return rows

  def pretrained(self, like):
    """`stage2.backbone_workdir`'s model as the stage-1 state, or None."""
    workdir = self.config.get("stage2", {}).get("backbone_workdir", "")
    if not workdir or not self._stage2():
      return None
    import json  # pylint: disable=g-import-not-at-top
    import os  # pylint: disable=g-import-not-at-top
    from ltjax.train import _checkpoint  # pylint: disable=g-import-not-at-top
    from ltjax.train import _load  # pylint: disable=g-import-not-at-top
    field = "config.stage2.backbone_workdir"
    _load.require_finished(
        workdir, field,
        allow_unfinished=self.config.get("allow_unfinished", False))
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
      raise ValueError(f"{field}: {workdir!r} is not a finished ltjax run "
                       f"(no config.json): train the stage-1 model first.")
    with open(path) as f:
      name = json.load(f).get("data", {}).get("name")
    if name != self.config.data.name:
      raise ValueError(f"{field}: the run at {workdir} was trained on "
                       f"{name!r}, this config's data is "
                       f"{self.config.data.name!r}.")
    try:
      state, step = _checkpoint.read_checkpoint(workdir, like)
    except (FileNotFoundError, _checkpoint.CheckpointMismatchError) as error:
      raise ValueError(
          f"{field}: {error} (the backbone must be a run of the same model "
          f"and method family: a plain CE run for smote_crt / "
          f"feature_aug_crt).") from None
    logging.info("stage 2 on the backbone of %s (step %d).", workdir, step)
    return state, "backbone"

  def _stage2(self) -> bool:
    return self.config.get("stage2", {}).get("name", "none") != "none"

  def second_stage(self, run, state, session):
    """`config.stage2` on the frozen backbone (`ltjax.decouple`), or RIDE's
    expert-assignment router (`experts.router_epochs`)."""
    if self.experts:
      return _experts.run_router_stage(run, state, session)
    if not self._stage2():
      return []
    from ltjax import decouple  # pylint: disable=g-import-not-at-top
    return decouple.run_second_stage(run, state, session)

  def final_stage(self):
    return "stage2" if self._stage2() else "train"

  def writes_predictions(self):
    return not self._stage2()

  def describe(self, run) -> str:
    dataset = self.dataset
    unit = "images" if len(dataset.image_shape) == 3 else "rows"
    return (f"{dataset.name}: {len(dataset.train)} train / "
            f"{len(dataset.val) if dataset.val else 0} val / "
            f"{len(dataset.test)} test {unit}, {dataset.num_classes} "
            f"classes, counts {self.counts.tolist()[:20]}")
