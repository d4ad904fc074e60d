"""`predict(workdir, inputs)`: a finished run's predictions on raw inputs.

Everything the model needs besides its checkpoint is in the workdir:
config.json and inference.json (`Task.inference_fields`: the normalisation,
the class names and training counts, a CSV's column encoding, the target
standardisation). Inputs are raw, as the data source gave them to the run:
uint8 images [N, H, W, C], feature rows [N, D] before any standardisation,
a CSV file with the training file's columns (the target column optional),
or image files; for a text run, a list of texts (pairs: of (text, second
text) tuples) or a CSV file with its text column(s), tokenised with the
run's vocabulary (inference.json). The evaluation path of the run is used
as it is (GLMC's re-balanced classifier, an expert ensemble's aggregation,
test-time augmentation, weight averaging), so the predictions on the test
split are those of the run's predictions.npz.
"""

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

from flax import struct
import jax
import numpy as np

from ltjax import data as ltdata
from ltjax import text
from ltjax.train import _checkpoint
from ltjax.train import _engine
from ltjax.train import _load
from ltjax.train import _task

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclasses.dataclass(frozen=True)
class Predictions:
  """A run's predictions for N inputs.

  Attributes:
    task: "classification" or "regression".
    labels: int [N] predicted class (classification).
    label_names: the predicted classes' names [N].
    logits: float32 [N, C] on the training loss's scale (softmax of them
      is the model's probability).
    probabilities: float32 [N, C].
    posthoc_labels: int [N], the post-hoc logit-adjusted prediction, for a
      run that reports post-hoc adjustment (plain CE); else None.
    values: float32 [N] predicted targets in the original units
      (regression).
    targets: the inputs' own labels / targets where given (a CSV with its
      target column), else None.
    source_line: int64 [N], each row's 1-based line in its CSV file, else
      None.
  """
  task: str
  labels: np.ndarray | None = None
  label_names: tuple[str, ...] | None = None
  logits: np.ndarray | None = None
  probabilities: np.ndarray | None = None
  posthoc_labels: np.ndarray | None = None
  values: np.ndarray | None = None
  targets: np.ndarray | None = None
  source_line: np.ndarray | None = None

  def rows(self) -> list[dict[str, Any]]:
    """One dict per input: line, prediction (name), probability, ..."""
    out = []
    for i in range(len(self.values if self.task == "regression"
                       else self.labels)):
      row = {}
      if self.source_line is not None:
        row["line"] = int(self.source_line[i])
      if self.task == "regression":
        row["prediction"] = float(self.values[i])
      else:
        row["prediction"] = self.label_names[i]
        row["label"] = int(self.labels[i])
        row["probability"] = float(self.probabilities[i, self.labels[i]])
        if self.posthoc_labels is not None:
          row["prediction_posthoc"] = int(self.posthoc_labels[i])
      if self.targets is not None:
        row["target"] = (float(self.targets[i]) if self.task == "regression"
                         else int(self.targets[i]))
      out.append(row)
    return out


def read_inference_info(workdir: str) -> dict[str, Any]:
  path = os.path.join(workdir, _engine.INFERENCE_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"{path} not found: {workdir} is not a run made by this version of "
        f"ltjax (inference.json is written when a run starts); train it "
        f"again, or use load_model(workdir) and preprocess the inputs "
        f"yourself.")
  with open(path) as f:
    return json.load(f)


def _is_image_list(inputs) -> bool:
  return (isinstance(inputs, (list, tuple)) and inputs
          and all(isinstance(p, (str, os.PathLike)) for p in inputs))


def _read_images(paths: Sequence[str], shape) -> np.ndarray:
  """Decodes image files to uint8 [N, H, W, C] of the run's image shape."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  height, width, channels = shape
  out = []
  for path in paths:
    with Image.open(path) as image:
      image = image.convert("L" if channels == 1 else "RGB")
      if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
      array = np.asarray(image, np.uint8)
    out.append(array[..., None] if channels == 1 else array)
  return np.stack(out)


def _text_rows(inputs, config, pair: bool):
  """(texts, second texts or None, class names or None) of `inputs`."""
  if isinstance(inputs, (str, os.PathLike)):
    fields = config.data
    columns = dict(text=fields.text or "text",
                   text_pair=fields.text_pair or None,
                   delimiter={"": None, "tab": "\t"}.get(fields.delimiter,
                                                         fields.delimiter))
    try:
      rows = text.read_text_csv(os.fspath(inputs), target=fields.target,
                                **columns)
      names = [rows.class_names[c] for c in rows.labels]
    except text.MissingColumnError as e:
      if e.role != "target":
        raise
      # New rows without labels: the text column read as the label too.
      rows = text.read_text_csv(os.fspath(inputs), target=columns["text"],
                                **columns)
      names = None
    return list(rows.texts), rows.pair_texts, names
  if isinstance(inputs, str) or not isinstance(inputs, Sequence):
    raise ValueError(
        "a text run predicts a list of texts or a CSV file of them, got "
        f"{type(inputs).__name__}.")
  if pair:
    if not all(isinstance(t, (tuple, list)) and len(t) == 2 for t in inputs):
      raise ValueError(
          "this run reads pairs of texts: pass a list of (text, second "
          "text) tuples.")
    return [t[0] for t in inputs], [t[1] for t in inputs], None
  return list(inputs), None, None


def token_inputs(inputs, info: dict[str, Any], config):
  """(token ids [N, L] or [N, 2 L], targets or None, None) of texts."""
  vocabulary = text.vocabulary_from_json(json.dumps(info["vocabulary"]))
  pair = info["input_kind"] == "token_pairs"
  first, second, names = _text_rows(inputs, config, pair)
  ids, _ = text.encode(first, vocabulary, max_length=info["max_length"])
  if pair:
    more, _ = text.encode(second, vocabulary, max_length=info["max_length"])
    ids = np.concatenate([ids, more], axis=1)
  targets = None
  if names is not None:
    known = {name: c for c, name in enumerate(info["class_names"])}
    targets = np.asarray([known.get(n, -1) for n in names], np.int64)
  return ids, targets, None


def raw_inputs(inputs, info: dict[str, Any]):
  """(raw inputs array, targets or None, CSV lines or None) of `inputs`."""
  shape = tuple(info["input_shape"])
  if isinstance(inputs, (str, os.PathLike)):
    path = os.fspath(inputs)
    if path.lower().endswith(IMAGE_SUFFIXES):
      return _read_images([path], shape), None, None
    if info.get("csv_schema") is None:
      raise ValueError(
          f"{path}: this run did not train on a CSV file, so it has no "
          f"column encoding to read one with; pass an array of raw inputs "
          f"of shape [N, {', '.join(map(str, shape))}] or image files.")
    schema = ltdata.CsvSchema.from_json(info["csv_schema"])
    features, targets, lines = ltdata.read_csv_features(path, schema)
    return features, targets, lines
  if _is_image_list(inputs):
    return _read_images([os.fspath(p) for p in inputs], shape), None, None
  array = np.asarray(inputs)
  if array.shape[1:] != shape:
    if array.shape == shape:
      array = array[None]
    else:
      raise ValueError(
          f"inputs must have shape [N, {', '.join(map(str, shape))}] (the "
          f"run's inputs), got {array.shape}.")
  return array, None, None


@dataclasses.dataclass(frozen=True)
class _Dataset:
  """What a task reads of its dataset at construction, from inference.json."""
  name: str
  class_names: tuple[str, ...]
  train_class_counts: np.ndarray
  image_shape: tuple[int, ...]
  metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
  train: Any = None
  val: Any = None
  test: Any = None

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def input_kind(self) -> str:
    return getattr(self.train, "input_kind", "arrays")


@struct.dataclass
class _State:
  """The parts of a train state that the evaluation reads."""
  params: Any
  batch_stats: Any
  extra: Any
  step: int = struct.field(pytree_node=False, default=0)


def _batches(array: np.ndarray, batch_size: int):
  for start in range(0, len(array), batch_size):
    part = array[start:start + batch_size]
    mask = np.ones(len(part), bool)
    if len(part) < batch_size:  # one compiled shape: pad and mask
      pad = batch_size - len(part)
      part = np.concatenate([part, np.repeat(part[:1], pad, axis=0)])
      mask = np.concatenate([mask, np.zeros(pad, bool)])
    yield part, mask


def _classify(workdir, config, info, raw, batch_size):
  with config.unlocked():
    config.augment.mean = tuple(info["mean"])
    config.augment.std = tuple(info["std"])
    if "teacher" in config:  # the student's evaluation needs no teacher
      config.teacher.workdir, config.teacher.recipe = "", ""
  train = None
  if info.get("input_kind") in ("tokens", "token_pairs"):
    # The model's sizes: the vocabulary's and max_length.
    train = ltdata.TokenSplit(
        ids=np.zeros((0, *info["input_shape"]), np.int32),
        labels=np.zeros((0,), np.int32),
        vocabulary=text.vocabulary_from_json(json.dumps(info["vocabulary"])),
        pair=info["input_kind"] == "token_pairs")
  dataset = _Dataset(name=info["dataset"],
                     class_names=tuple(info["class_names"]),
                     train_class_counts=np.asarray(info["train_class_counts"]),
                     image_shape=tuple(info["input_shape"]), train=train)
  task = _task.get_task("classification")(config, dataset, steps_per_epoch=1)
  tree, step = _checkpoint.read_checkpoint(workdir)
  state = _State(tree["params"], tree.get("batch_stats") or {},
                 tree.get("extra") or {}, step)
  model = task.build_model()
  predict = jax.jit(task.make_predict_step(_engine.model_forward(model,
                                                                 task)))
  parts = []
  for part, mask in _batches(raw, batch_size):
    batch = {task.input_key: part, "label": np.zeros(len(part), np.int32),
             "mask": mask}
    out = jax.device_get(predict(state, batch))
    parts.append({k: v[mask] for k, v in out.items()
                  if getattr(v, "ndim", 0)})
  out = _task.stack_outputs(parts)
  logits = np.asarray(out["logits"], np.float32)
  shifted = logits - logits.max(axis=1, keepdims=True)
  probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1,
                                                        keepdims=True)
  labels = np.asarray(out["prediction"])
  names = tuple(dataset.class_names[i] if i >= 0 else "" for i in labels)
  return dict(labels=labels, label_names=names, logits=logits,
              probabilities=probabilities.astype(np.float32),
              posthoc_labels=out.get("prediction_posthoc"))


def _regress(workdir, config, info, raw, batch_size):
  model, variables, _ = _load.load_model(workdir)
  tree, _ = _checkpoint.read_checkpoint(workdir)
  head = tree["params"]["model"]["head"]
  if raw.dtype == np.uint8 and raw.ndim == 4:
    inputs = ltdata.normalize(raw, mean=tuple(info["image_mean"]),
                              std=tuple(info["image_std"]))
  else:
    scaling = info.get("standardization")
    inputs = np.asarray(raw, np.float64)
    if scaling is not None:
      inputs = (inputs - np.asarray(scaling["mean"])) / np.asarray(
          scaling["std"])
    inputs = inputs.astype(np.float32)
  target = info.get("target_standardization") or {"mean": 0.0, "std": 1.0}
  kernel = np.asarray(head["kernel"], np.float32)
  bias = np.asarray(head["bias"], np.float32)

  @jax.jit
  def features_of(x):
    return model.apply(variables, x, train=False)[1]

  values = []
  for part, mask in _batches(np.asarray(inputs), batch_size):
    features = np.asarray(features_of(part), np.float32)[mask]
    values.append((features @ kernel + bias)[:, 0])
  values = np.concatenate(values) if values else np.zeros((0,), np.float32)
  return dict(values=(values * target["std"] + target["mean"]).astype(
      np.float32))


def predict(workdir: str, inputs, *, batch_size: int = 256) -> Predictions:
  """Predicts raw inputs with a finished run, from its workdir alone.

  Args:
    workdir: the run's workdir (config.json, inference.json, checkpoints/).
    inputs: raw inputs as the run's data source gave them: uint8 images
      [N, H, W, C] (or one [H, W, C]), feature rows [N, D] before
      standardisation, the path of a CSV file with the training file's
      columns (the target column optional), or a list of image file paths
      (decoded and resized to the run's image size). A text run: a list
      of texts (of (text, second text) tuples for pairs), or a CSV file
      with the run's text column(s) (`config.data.text`, `text_pair`; the
      label column optional), tokenised with the run's vocabulary.
    batch_size: inputs per compiled call.

  Returns:
    `Predictions`; for a CSV file, `source_line` holds each row's line.

  Example:
    preds = ltjax.predict("runs/my_table", "new_rows.csv")
    preds.label_names[:5], preds.probabilities[:5].max(axis=1)
  """
  config = _load.load_config(workdir)
  stage2 = config.get("stage2", {}).get("name", "none")
  if stage2 != "none" or config.get("rrt", {}).get("enabled", False):
    raise ValueError(
        f"{workdir}: a run with a second stage (stage2.name={stage2!r}, "
        f"rrt) evaluates a re-trained classifier that its checkpoint does "
        f"not hold; predict supports single-stage runs.")
  info = read_inference_info(workdir)
  if info.get("input_kind") in ("tokens", "token_pairs"):
    raw, targets, lines = token_inputs(inputs, info, config)
  else:
    raw, targets, lines = raw_inputs(inputs, info)
  if info["task"] == "classification":
    fields = _classify(workdir, config, info, raw, batch_size)
  else:
    fields = _regress(workdir, config, info, raw, batch_size)
  return Predictions(task=info["task"], targets=targets, source_line=lines,
                     **fields)


def write_predictions_csv(path: str, predictions: Predictions) -> None:
  """Writes `predictions.rows()` as a CSV file (a header, one row each)."""
  import csv  # pylint: disable=g-import-not-at-top
  rows = predictions.rows()
  names = list(rows[0]) if rows else ["prediction"]
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
