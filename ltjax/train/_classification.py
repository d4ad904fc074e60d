"""The classification task: long-tailed classifiers on the one engine.

Objective: a `LOSSES` entry (with re-weighting / DRW read from the step);
epoch plans from the config's sampler; evaluation: mergeable
`ClassificationCounts` (plus post-hoc logit-adjusted counts for plain CE
runs); outputs: per_class.csv and predictions.npz (logits on the loss's
scale).

Inputs by the dataset's kind (`LongTailedDataset.input_kind`): images are
augmented and normalised on the device, feature vectors standardised, and
token ids (a text dataset's `TokenSplit`) only cast into the text models'
input dict (`ltjax.text.inputs_from_ids`); the model must read that kind
(`ltjax.models.input_kind`), and a text model gets the dataset's vocabulary
size and max_length.
"""

import json
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import data as ltdata
from ltjax import metrics as ltmetrics
from ltjax import models
from ltjax import posthoc
from ltjax import sampling
from ltjax import text
from ltjax.data import _augment
from ltjax.train import _component
from ltjax.train import _components  # pylint: disable=unused-import
from ltjax.train import _config
from ltjax.train import _objectives
from ltjax.train import _optim
from ltjax.train import _step
from ltjax.train import _task
from ltjax.train import _tricks


TASK = "classification"  # the component registry's key
# Input kinds of token ids (`ltjax.data.TokenSplit`, `ltjax.models.input_kind`).
TOKEN_KINDS = ("tokens", "token_pairs")


def input_kind(dataset) -> str:
  """"tokens" / "token_pairs" for token ids, else "arrays" (images or
  feature vectors), the kinds `ltjax.models.input_kind` names."""
  kind = getattr(dataset, "input_kind", "arrays")
  return kind if kind in TOKEN_KINDS else "arrays"


def input_sizes(dataset) -> dict[str, int]:
  """The sizes a model of the dataset's inputs takes: a text model's
  vocabulary size and max_length; none for images and features."""
  if input_kind(dataset) == "arrays":
    return {}
  return {"vocab_size": dataset.train.vocab_size,
          "max_length": dataset.train.max_length}


def check_model_input(config, kind: str) -> None:
  """Refuses a model that does not read the data's kind of input."""
  reads = models.input_kind(config.model.name)
  if reads != kind:
    fitting = [m for m in models.MODELS if models.input_kind(m) == kind]
    _config.require_field(
        False, "model.name",
        f"{config.model.name!r} reads {reads} but the data "
        f"({config.data.get('name', '')!r}) gives {kind}; use one of "
        f"{fitting}.")


def normalization(config, dataset) -> tuple[tuple[float, ...],
                                            tuple[float, ...]]:
  """The config's mean/std, else the dataset's standard, else computed
  (none for token ids)."""
  if input_kind(dataset) != "arrays":
    return (), ()
  if config.augment.mean:
    return tuple(config.augment.mean), tuple(config.augment.std)
  if dataset.name in _augment.STANDARD_NORMALIZATION:
    return _augment.STANDARD_NORMALIZATION[dataset.name]
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
  re-weighted, re-sampled or margin-adjusted models (LDAM) are already
  corrected, and so is a run whose components say their logits are
  (`Component.corrects_logits`: e.g. class centres trained with + log pi,
  a classifier trained on class-weighted targets, an ensemble's aggregate).
  """
  return (config.loss.name == "ce"
          and _objectives.resolve_reweight(config.loss) == "none"
          and config.sampler.name == "instance"
          and not any(c.corrects_logits(config)
                      for c in _component.enabled_classes(TASK, config)))


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


def build_classifier(config, num_classes: int, **sizes: int):
  """The classifier of `config.model` with `num_classes` outputs.

  `sizes` (`input_sizes`: vocab_size, max_length) are passed where the model
  takes them; `model.bn_axis` "replica" gives BatchNorm one group of the
  batch per device of the data mesh.
  """
  fields = models.model_fields(config.model.name)
  kwargs = {k: v for k, v in sizes.items() if k in fields}
  if models.has_convolutions(config.model.name):
    kwargs["conv"] = models.conv_for(config.model.conv)
  if config.model.get("bn_axis", "global") == "replica":
    _config.require_field(
        "bn_groups" in fields, "model.bn_axis",
        f"'replica' needs a model with grouped BatchNorm (resnet32, "
        f"resnet32_x4, resnet50, resnext50_32x4d, mnist_cnn); "
        f"{config.model.name!r} has none. Use model.bn_axis='global'.")
    kwargs["bn_groups"] = jax.device_count()  # the data mesh's devices
  for component in _component.enabled_classes(TASK, config):
    kwargs.update(component.model_kwargs(config))
  if config.model.get("zero_init_residual", False):
    kwargs["zero_init_residual"] = True
  return models.build_model(config.model.name, num_classes=num_classes,
                            head=config.model.head,
                            dtype=_config.compute_dtype(config), **kwargs)


def _sizes_in(params) -> dict[str, int]:
  """A text model's vocab_size / max_length from its embedding tables'
  rows ("embedding", "position_embedding"; {} for other models)."""
  found = {}
  if hasattr(params, "items"):
    for key, value in params.items():
      if key == "embedding" and not hasattr(value, "items"):
        found.setdefault("vocab_size", int(value.shape[0]))
      elif key == "position_embedding" and not hasattr(value, "items"):
        found.setdefault("max_length", int(value.shape[0]))
      else:
        for k, v in _sizes_in(value).items():
          found.setdefault(k, v)
  return found


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


class ClassificationTask(_component.ComposesComponents, _task.Task):
  """Long-tailed classification (`config.task` "classification").

  The task trains `config.loss` on the model's logits with the config's
  sampler; each training component the config enables (`_components`,
  composed as `_component` says) adds its hooks.
  """
  name = TASK

  default_config = staticmethod(_config.classification_config)
  load_data = staticmethod(ltdata.load_dataset)

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    _config.validate_task_fields(config, check_data=check_data)
    _component.check_conflicts(TASK, config)

  def __init__(self, config, dataset, *, steps_per_epoch: int):
    super().__init__(config, dataset, steps_per_epoch=steps_per_epoch)
    self.kind = input_kind(dataset)
    check_model_input(config, self.kind)
    self.counts = np.asarray(dataset.train_class_counts)
    self.dtype = _config.compute_dtype(config)
    self.mean, self.std = normalization(config, dataset)
    self.logit_scale = eval_logit_scale(config)
    self.priors = (self.counts / self.counts.sum()
                   if reports_posthoc(config) and np.all(self.counts > 0)
                   else None)
    self.objective = _objectives.make_objective(
        config.loss, self.counts, steps_per_epoch=steps_per_epoch)
    self.components = []  # read by the components made below
    self.components = _component.build(TASK, self)
    if self.kind != "arrays":
      self._check_token_components()
    for component in self.components:
      if component.logit_scale is not None:
        self.logit_scale = component.logit_scale

  def _check_token_components(self):
    """Refuses components that change the inputs (mixing, views, flips):
    token ids cannot be mixed, cropped or flipped."""
    base = _component.Component
    for component in self.components:
      kind = type(component)
      if (kind.transforms is not base.transforms or
          kind.wrap_forward is not base.wrap_forward):
        _config.require_field(
            False, component.fields[0] if component.fields else
            component.name,
            f"the {component.name} component changes the model's inputs "
            f"(mixing, augmented views or flips), which token ids of texts "
            f"do not allow; turn it off for this data.")

  @property
  def wraps_params(self) -> bool:
    """Whether the trained parameters are `{"model": ..., <component's>}`."""
    return any(c.wraps_params for c in self.components)

  @classmethod
  def restore_model(cls, config, params):
    """The model and its params (of a run whose components added their own
    parameters beside the model's: the model's)."""
    if "model" in params:
      params = params["model"]
    return build_classifier(config, _num_classes(params),
                            **_sizes_in(params)), params

  def init_params(self, model_params):
    if self.config.model.get("whiten_init", False):
      model_params = _tricks.whitened_params(
          model_params, self.dataset.train, mean=self.mean, std=self.std,
          seed=self.config.seed, model_name=self.config.model.name)
    for component in self.components:
      model_params = component.init_params(model_params)
    return model_params

  def trainable(self, params):
    return params["model"] if self.wraps_params else params

  def build_model(self):
    return build_classifier(self.config, self.dataset.num_classes,
                            **input_sizes(self.dataset))

  def preprocess(self, images, key):
    """Images augmented (with `key`) and normalised, features
    standardised; token ids only cast into the text models' input dict."""
    if self.kind != "arrays":
      return text.inputs_from_ids(images, pair=self.kind == "token_pairs")
    augment = self.config.augment
    return _augment.augment(images, key, mean=self.mean, std=self.std,
                            padding=augment.padding, flip=augment.flip,
                            dtype=self.dtype)

  def sample_input(self):
    if self.kind != "arrays":  # one text of one token
      return self.preprocess(
          jnp.ones((1, *self.dataset.image_shape), jnp.int32), None)
    return jnp.zeros((1, *self.dataset.image_shape), self.dtype)

  def optimizer(self, schedule):
    optimizer = _optim.make_optimizer(self.config.optim, schedule)
    for component in self.components:
      optimizer = component.optimizer(optimizer)
    return optimizer

  # ---- the objective ----
  def objective_for(self, batch):
    """The objective, at the step's staged `loss.tau` in a sweep of it
    (`batch["hyper"]["tau"]`, `_step.make_step`)."""
    tau = batch.get("hyper", {}).get("tau")
    return self.objective if tau is None else self.objective.at_tau(tau)

  @staticmethod
  def mixed_targets(batch) -> dict[str, Any]:
    """The objective's mixed-target arguments (None: an unmixed batch)."""
    return dict(labels_b=batch.get("mix_label"),
                weight_a=batch.get("mix_weight"))

  def loss(self, params, outputs, batch, state):
    """The objective on the logits (mixed targets when a batch is mixed),
    or the loss of the component that takes the "loss" role; then each
    component's `wrap_loss`. aux: {"logits"} and the components' entries.
    """
    owner = self._role("loss")
    if owner is not None:
      value, aux = owner.loss(params, outputs, batch, state)
    else:
      logits = outputs[0]
      value = self.objective_for(batch)(logits, batch["label"], state.step,
                                        **self.mixed_targets(batch))
      aux = {"logits": logits}
    for component in self.components:
      value, aux = component.wrap_loss(value, aux, batch, state)
    return value, aux

  def train_metrics(self, aux, batch):
    return _step.classification_metrics(aux["logits"], batch)

  def gradient(self):
    """The gradient procedure of the component that takes that role (SAM,
    ImbSAM), else plain."""
    owner = self._role("gradient")
    return owner.gradient() if owner is not None else None

  @property
  def batch_index(self) -> bool:
    """The derandomised flip reads each example's index (images only)."""
    return (self.kind == "arrays" and
            self.config.augment.get("flip_mode", "random") == "alternating")

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
    """Augmentation, then the components' transforms in their order."""
    out = list(super().transforms())
    if self.batch_index:
      out[0] = self._alternating_augment
    for component in self.components:
      out.extend(component.transforms())
    return tuple(out)

  def partner_plan(self, epoch):
    """The second sample of the component that takes the "partner" role.

    "instance": an independent permutation of the training set (each
    example once per epoch, no repeats); "balanced": classes
    drawn uniformly, examples without repeats within a class until the
    class is exhausted. Both on their own seeded stream. None: no partner
    ("shuffle": the batch is its own partner).
    """
    owner = self._role("partner")
    partner = owner.partner() if owner is not None else "shuffle"
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

  # ---- step state (besides `ComposesComponents`') ----
  @property
  def project(self):
    """The projection after every update (role "project"), or None."""
    owner = self._role("project")
    return owner.project if owner is not None else None

  def classifier(self, params):
    """The evaluated linear classifier's kernel [D, C] (a component's own
    classifier where it evaluates one, else the model's head)."""
    for component in self.components:
      if component.classifier is not None:
        return component.classifier(params)
    return params["head"]["kernel"]

  def with_classifier(self, params, kernel):
    """`params` with `kernel` as `classifier`'s kernel."""
    for component in self.components:
      if component.with_classifier is not None:
        return component.with_classifier(params, kernel)
    return {**params, "head": {**params["head"], "kernel": kernel}}

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

  # ---- evaluation ----
  def _forward(self, forward):
    """The evaluated forward: the "eval_forward" role's (e.g. an ensemble
    or another classifier), then the components' wrappers (TTA)."""
    owner = self._role("eval_forward")
    if owner is not None:
      forward = owner.eval_forward(forward)
    for component in self.components:
      forward = component.wrap_forward(forward)
    return forward

  def make_eval_step(self, forward):
    return _eval_from_forward(self._forward(forward),
                              logit_scale=self.logit_scale,
                              class_priors=self.priors,
                              posthoc_tau=self.config.posthoc_tau)

  def make_predict_step(self, forward):
    return _predict_from_forward(self._forward(forward),
                                 logit_scale=self.logit_scale,
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
    """What the model's input pipeline takes from the training data; for
    texts the input kind, max_length and the vocabulary (its JSON record,
    `ltjax.text.vocabulary_from_json`) too."""
    source = self.dataset.metadata.get("source", {})
    fields = {"task": self.name, "dataset": self.dataset.name,
              "class_names": list(self.dataset.class_names),
              "train_class_counts": self.counts.tolist(),
              "input_shape": list(self.dataset.image_shape),
              "mean": list(self.mean), "std": list(self.std),
              "csv_schema": (source.get("csv_schema")
                             if isinstance(source, dict) else None)}
    if self.kind != "arrays":
      vocabulary = self.dataset.train.vocabulary
      fields.update(
          input_kind=self.kind, max_length=self.dataset.train.max_length,
          vocabulary=(None if vocabulary is None else
                      json.loads(text.vocabulary_to_json(vocabulary))))
    return fields

  def evaluated_kernel(self, params):
    """A component's evaluated classifier (several heads concatenated, a
    classifier of its own), else the model's head (None: no head)."""
    for component in self.components:
      kernel = component.evaluated_kernel(params)
      if kernel is not None:
        return kernel
    if self.wraps_params:
      params = params["model"]
    if "head" not in params:
      return None
    return params["head"]["kernel"]

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

  def describe(self, run) -> str:
    dataset = self.dataset
    unit = ("texts" if self.kind != "arrays" else
            "images" if len(dataset.image_shape) == 3 else "rows")
    return (f"{dataset.name}: {len(dataset.train)} train / "
            f"{len(dataset.val) if dataset.val else 0} val / "
            f"{len(dataset.test)} test {unit}, {dataset.num_classes} "
            f"classes, counts {self.counts.tolist()[:20]}")
