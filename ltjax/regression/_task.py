"""The regression task: deep imbalanced regression on the one engine.

Objective: a per-example regression loss (L1, MSE, focal-R, Huber, Balanced
MSE with a learnable sigma trained beside the model: the trained parameters
are {"model": ..., "loss": {...}}) with per-bin weights; the bins and shot
groups come from the original training targets. Evaluation: mergeable
`RegressionSums` per label bin; outputs: per_bin.csv (the error-vs-label
curve) and predictions.npz in label units. Each training component the
config enables (`_components`: data-level re-sampling, density re-weighting,
feature smoothing, a ranking regulariser, regressor re-training) adds its
hooks: the dataset trained on, the per-bin weights, the features the
regressor trains on, a loss term, step state, a second stage.

Inputs by the dataset's kind (`RegressionDataset.input_kind`): images are
augmented and normalised on the device, feature vectors cast to floats, and
token ids (a text dataset's `TokenRegressionSplit`, e.g. STS-B-DIR's
sentence pairs) only cast into the text models' input dict
(`ltjax.text.inputs_from_ids`). The model must read that kind
(`ltjax.models.input_kind`); a text model gets the dataset's vocabulary size
and max_length, and its sizes from `config.model` (`TEXT_MODEL_FIELDS`).

Files in the workdir besides the engine's: per_bin.csv (and those of the
components' stages).
"""

import json


from absl import logging
import jax.numpy as jnp
import numpy as np

from ltjax import data as ltdata
from ltjax import models
from ltjax import text
from ltjax import train
from ltjax.data import _augment
from ltjax.data import _bins
from ltjax.regression import _components
from ltjax.regression import _config
from ltjax.regression import _metrics
from ltjax.regression import _step


def bins_outside(config, dataset, edges) -> dict[str, int]:
  """Counts the targets of each split outside the bins; checks training's.

  Training targets outside [edges[0], edges[K]] are an error unless
  `config.bins.outside == "clip"` or `config.bins.rule == "range"` (whose
  edges leave the outliers out by design); val / test ones are clipped into
  the edge bins for the per-bin metrics (their errors are exact) and
  reported.
  """
  outside = {}
  for name in ("train", "val", "test"):
    split = getattr(dataset, name, None)
    if split is None:
      continue
    targets = np.asarray(split.targets)
    outside[name] = _bins.count_outside(targets, edges)
    if not outside[name]:
      continue
    what = {"train": "training", "val": "validation"}.get(name, name)
    where = (f"{outside[name]} of {targets.size} {what} targets lie outside "
             f"the bins [{edges[0]:g}, {edges[-1]:g}] (targets in "
             f"[{targets.min():g}, {targets.max():g}])")
    # Rule "range" puts the targets beyond its robust range in the end bins.
    if (name == "train" and config.bins.outside == "error" and
        config.bins.get("rule", "width") != "range"):
      raise ValueError(
          f"config.bins: {where}. Widen config.bins.low / high, leave them "
          f"unset (None) to take the range from the training targets, or set "
          f"config.bins.outside='clip' to count them in the edge bins.")
    logging.warning("%s; they are counted in the edge bins.", where)
  return outside


def target_standardization(config, train_targets) -> tuple[float, float]:
  """(shift, scale): the training targets' mean and std, or (0, 1)."""
  if not config.data.get("standardize_targets", False):
    return 0.0, 1.0
  targets = np.asarray(train_targets, np.float64)
  std = float(targets.std())
  return float(targets.mean()), (std if std > 0 else 1.0)


# Input kinds of token ids (`ltjax.data.TokenRegressionSplit`,
# `ltjax.models.input_kind`).
TOKEN_KINDS = ("tokens", "token_pairs")
# Sizes of a text model read from `config.model` where the config has them
# (e.g. the sts_b_dir recipe's BiLSTM).
TEXT_MODEL_FIELDS = ("embed_dim", "hidden_size", "num_layers", "pooling",
                     "num_heads", "mlp_dim")


def input_kind(dataset) -> str:
  """"tokens" / "token_pairs" for token ids, else "arrays" (images or
  feature vectors), the kinds `ltjax.models.input_kind` names."""
  kind = getattr(dataset, "input_kind", "arrays")
  return kind if kind in TOKEN_KINDS else "arrays"


def input_sizes(dataset) -> dict[str, int]:
  """A text model's vocabulary size and max_length ({} for arrays)."""
  if input_kind(dataset) == "arrays":
    return {}
  return {"vocab_size": dataset.train.vocab_size,
          "max_length": dataset.train.max_length}


def check_model_input(config, kind: str) -> None:
  """Refuses a model that does not read the data's kind of input."""
  reads = models.input_kind(config.model.name)
  if reads != kind:
    fitting = [m for m in models.MODELS if models.input_kind(m) == kind]
    train.require_field(
        False, "model.name",
        f"{config.model.name!r} reads {reads} but the data "
        f"({config.data.get('name', '')!r}) gives {kind}; use one of "
        f"{fitting}.")


def build_regressor(config, **sizes: int):
  """The one-output model of `config.model` (an MLP's `widths` included).

  `sizes` (`input_sizes`: vocab_size, max_length) and the
  `TEXT_MODEL_FIELDS` of `config.model` are passed where the model takes
  them.
  """
  kwargs = {}
  name = config.model.name
  if name == "mlp":
    kwargs["widths"] = tuple(config.model.widths)
  if models.has_convolutions(name):
    kwargs["conv"] = models.conv_for(config.model.conv)
  if models.input_kind(name) != "arrays":
    fields = models.model_fields(name)
    kwargs.update({k: v for k, v in sizes.items() if k in fields})
    kwargs.update({k: config.model[k] for k in TEXT_MODEL_FIELDS
                   if k in config.model and k in fields})
  return models.build_model(name, num_classes=1, head="linear",
                            dtype=train.compute_dtype(config), **kwargs)


def with_word_vectors(params, path: str, vocabulary):
  """A text model's params with its embedding rows from a GloVe file.

  The rows of the vocabulary's tokens found in `path`
  (`ltjax.text.read_word_vectors`) replace the initial ones; the others
  (`<pad>`, `<unk>`, words the file lacks) keep their initialisation. The
  table stays trainable.
  """
  encoder = params.get("encoder", {})
  embed = encoder.get("embed", {}) if hasattr(encoder, "get") else {}
  if "embedding" not in embed:
    train.require_field(False, "model.word_vectors",
                        "the model has no encoder embedding table "
                        "(params['encoder']['embed']) to load vectors into.")
  table = embed["embedding"]
  try:
    vectors, found = text.read_word_vectors(path, vocabulary,
                                            dim=table.shape[1])
  except (OSError, ValueError) as e:
    train.require_field(False, "model.word_vectors", str(e))
  logging.info("%s: vectors of %d of the %d vocabulary tokens.", path,
               int(found.sum()), found.size)
  new = jnp.where(jnp.asarray(found)[:, None], jnp.asarray(vectors), table)
  return {**params, "encoder": {**encoder, "embed": {**embed,
                                                     "embedding": new}}}


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


class RegressionTask(train.ComposesComponents, train.Task):
  """Deep imbalanced regression (`config.task` "regression")."""
  name = "regression"
  input_key = "input"
  target_key = "target"
  target_dtype = np.float32
  select_mode = "min"
  per_item_key = "per_bin"
  csv_name = "per_bin.csv"

  default_config = staticmethod(_config.default_config)

  @staticmethod
  def load_data(data_config):
    return ltdata.load_dataset(data_config, task="regression")

  @staticmethod
  def prepare_data(config, dataset):
    """The dataset the run trains on: each component's `prepare_data`
    (data-level re-sampling) in order; the dataset itself with none."""
    for component in train.enabled_components(_components.TASK, config):
      dataset = component.prepare_data(config, dataset)
    return dataset

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    _config.validate_task_fields(config, check_data=check_data)
    train.check_component_conflicts(_components.TASK, config)

  def __init__(self, config, dataset, *, steps_per_epoch: int):
    super().__init__(config, dataset, steps_per_epoch=steps_per_epoch)
    self.kind = input_kind(dataset)
    check_model_input(config, self.kind)
    train_targets = np.asarray(dataset.train.targets)
    original = getattr(dataset, "original_train", None)
    self.components = []  # read by the components made below
    self.components = train.build_components(_components.TASK, self)
    # The bins and shot groups of the original training targets.
    original_targets = (train_targets if original is None
                        else np.asarray(original.targets))
    self.edges, self.bins_rule = _config.edges_of(config, original_targets,
                                                  warn=True)
    _config.check_bins_for_run(config, self.edges)
    self.outside = bins_outside(config, dataset, self.edges)
    self.train_bin_counts = _bins.bin_counts(original_targets, self.edges)
    self.shot_many, self.shot_few = _metrics.shot_thresholds(
        self.train_bin_counts, rule=config.shot_thresholds,
        many=config.shot_many, few=config.shot_few,
        quantiles=tuple(config.shot_quantiles))
    self.target_shift, self.target_scale = target_standardization(
        config, train_targets)
    self.objective = _step.make_objective(
        config.loss, edges=self.edges, train_targets=train_targets,
        target_shift=self.target_shift, target_scale=self.target_scale)
    # The per-bin weights (of the re-sampled targets), and those the main
    # schedule trains with (a second stage may keep them for itself).
    weigher = self._role("bin_weights")
    self.bin_weights = (
        weigher.bin_weights(train_targets, self.edges) if weigher is not None
        else np.ones(len(self.edges) - 1, np.float32))
    weights = self.bin_weights
    for component in self.components:
      weights = component.encoder_weights(weights)
    self.stage1_weights = np.asarray(weights, np.float32)
    self.dtype = train.compute_dtype(config)
    self.groups = _metrics.bin_groups(self.train_bin_counts,
                                      many=self.shot_many, few=self.shot_few)

  @classmethod
  def restore_model(cls, config, params):
    return (build_regressor(config, **_sizes_in(params["model"])),
            params["model"])

  # ---- model, parameters, objective ----
  def build_model(self):
    return build_regressor(self.config, **input_sizes(self.dataset))

  def preprocess(self, inputs, key):
    """Images augmented (with `key`) and normalised, features cast to
    floats; token ids only cast into the text models' input dict."""
    if self.kind != "arrays":
      return text.inputs_from_ids(inputs, pair=self.kind == "token_pairs")
    if not self.dataset.is_image:
      return jnp.asarray(inputs, jnp.float32).astype(self.dtype)
    aug = self.config.augment
    return _augment.augment(inputs, key, mean=tuple(aug.mean),
                            std=tuple(aug.std), padding=aug.padding,
                            flip=aug.flip, dtype=self.dtype)

  def sample_input(self):
    if self.kind != "arrays":  # one text (or pair) of one token each
      return self.preprocess(
          jnp.ones((1, *self.dataset.input_shape), jnp.int32), None)
    sample = jnp.zeros((1, *self.dataset.input_shape),
                       self.dataset.train.input_dtype)
    return self.preprocess(sample, None)

  def init_params(self, model_params):
    path = self.config.model.get("word_vectors", "")
    if path and self.kind != "arrays":
      model_params = with_word_vectors(model_params, path,
                                       self.dataset.train.vocabulary)
    return {"model": model_params,
            "loss": _step.loss_params_of(self.config.loss)}

  def trainable(self, params):
    return params["model"]

  def optimizer(self, schedule):
    return train.make_optimizer(self.config.optim, schedule,
                                loss_lr=self.config.loss.sigma_lr)

  def scale_updates(self, updates, factor):
    """Only the model's updates follow the schedule; the loss's own
    parameters keep their constant `loss.sigma_lr` (`make_optimizer`)."""
    return {**updates, "model": super().scale_updates(updates["model"],
                                                      factor)}

  def loss(self, params, outputs, batch, state):
    _, features = outputs
    targets = batch["target"].astype(jnp.float32)
    bins = _bins.bin_index(targets, self.edges)
    weights = jnp.asarray(self.stage1_weights)[bins]
    calibrator = self._role("features")
    used = (features if calibrator is None
            else calibrator.train_features(features, bins, state))
    pred = _step.predict(params["model"]["head"], used)
    per_example = self.objective(pred, targets, weights, params["loss"])
    aux = {"pred": pred, "features": features, "bins": bins,
           "noise_sigma": params["loss"].get("noise_sigma")}
    value = jnp.mean(per_example)
    for component in self.components:
      value, aux = component.wrap_loss(value, aux, batch, state)
    return value, aux

  def train_metrics(self, aux, batch):
    pred = _step.to_original(aux["pred"], self.target_shift,
                             self.target_scale)
    out = {"mae": jnp.mean(jnp.abs(pred - batch["target"].astype(
        jnp.float32)))}
    if aux["noise_sigma"] is not None:
      out["noise_sigma"] = jnp.abs(aux["noise_sigma"])
    for component in self.components:
      out.update(component.train_metrics(aux))
    return out

  def train_arrays(self, inputs, targets, fresh):
    return {"input": inputs, "target": np.asarray(targets, np.float32),
            "fresh": fresh}

  # ---- evaluation and outputs ----
  def _predict(self, forward, state, batch):
    _, features = forward(state, batch)  # raw features at inference
    pred = _step.predict(state.params["model"]["head"], features)
    return _step.to_original(pred, self.target_shift, self.target_scale)

  def make_eval_step(self, forward):
    def eval_step(state, batch):
      return _metrics.RegressionSums.from_predictions(
          self._predict(forward, state, batch), batch["target"],
          edges=self.edges, mask=batch["mask"])
    return eval_step

  def make_predict_step(self, forward):
    def predict_step(state, batch):
      return {"prediction": self._predict(forward, state, batch),
              "mask": batch["mask"]}
    return predict_step

  def summaries(self, metric):
    summary = _metrics.regression_summary(
        metric, self.train_bin_counts, many=self.shot_many, few=self.shot_few)
    curve = _metrics.per_bin_errors(metric)
    summary["per_bin"] = {k: v.tolist() for k, v in curve.items()}
    return {"": summary}

  def record_fields(self):
    return {"stage": "train"}

  def predict_arrays(self, outputs):
    """predictions.npz of the test split.

    Keys: "index" (int64 position in the test split), "target" and
    "prediction" (float32, original label units), and "source_line" (the
    row's 1-based line in its source file) for tabular sources.
    """
    split = self.dataset.test
    arrays = {"index": np.arange(len(split), dtype=np.int64),
              "target": np.asarray(split.targets, np.float32),
              "prediction": np.asarray(
                  outputs.get("prediction", np.zeros((0,))), np.float32)}
    lines = getattr(split, "source_lines", None)
    if lines is not None:
      arrays["source_line"] = np.asarray(lines, np.int64)
    return arrays

  def inference_fields(self):
    """What the model's input pipeline takes from the training data; for
    texts the input kind, max_length and the vocabulary (its JSON record,
    `ltjax.text.vocabulary_from_json`) too."""
    meta = self.dataset.metadata
    fields = {"task": self.name, "dataset": self.dataset.name,
            "input_shape": list(self.dataset.input_shape),
            # Raw feature rows -> the model's inputs: (x - mean) / std.
            "standardization": meta.get("standardization"),
            "image_mean": list(self.config.augment.mean),
            "image_std": list(self.config.augment.std),
            "csv_schema": meta.get("csv_schema"),
            "target_standardization": (
                {"mean": self.target_shift, "std": self.target_scale}
                if self.config.data.get("standardize_targets", False)
                else None)}
    if self.kind != "arrays":
      vocabulary = self.dataset.train.vocabulary
      fields.update(
          input_kind=self.kind, max_length=self.dataset.train.max_length,
          vocabulary=(None if vocabulary is None else
                      json.loads(text.vocabulary_to_json(vocabulary))))
    return fields

  def report_fields(self, stage):
    config = self.config
    return {
        "stage": stage,
        "bins": {"edges": self.edges.tolist(), "rule": self.bins_rule,
                 "outside": self.outside,
                 "train_counts": self.train_bin_counts.tolist(),
                 "groups": self.groups},
        "shots": {"thresholds": config.shot_thresholds,
                  "many": self.shot_many, "few": self.shot_few,
                  **({"quantiles": list(config.shot_quantiles)}
                     if config.shot_thresholds == "quantile" else {})},
        "target_standardization": (
            {"mean": self.target_shift, "std": self.target_scale}
            if config.data.get("standardize_targets", False) else None),
    }

  def csv_rows(self, final, best):
    rows = []
    for k in range(len(self.groups)):
      row = {"bin": k, "low": float(self.edges[k]),
             "high": float(self.edges[k + 1]),
             "train_count": int(self.train_bin_counts[k]),
             "group": self.groups[k],
             "loss_weight": float(self.bin_weights[k])}
      for name, record in (("final", final), ("best_val", best)):
        if record is None or "test" not in record:
          continue
        curve = record["test"]["per_bin"]
        row["test_count"] = int(curve["count"][k])
        for metric in ("mae", "gm", "mean_error"):
          value = curve[metric][k]
          row[f"test_{metric}_{name}"] = (
              "" if value is None or not np.isfinite(value) else value)
      rows.append(row)
    return rows

  def describe(self, run) -> str:
    dataset, groups = self.dataset, self.groups
    return (f"{dataset.name}: {len(dataset.train)} train / "
            f"{len(dataset.val)} val / {len(dataset.test)} test; "
            f"{len(groups)} bins ({groups.count('many')} many, "
            f"{groups.count('medium')} medium, {groups.count('few')} few by "
            f"training count)")
