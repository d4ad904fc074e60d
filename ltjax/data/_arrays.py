"""`from_arrays`: a `LongTailedDataset` from your own NumPy arrays."""

import hashlib
from typing import Any, Sequence

import numpy as np

from ltjax.data import _types


def _digest(*arrays: np.ndarray) -> str:
  digest = hashlib.sha256()
  for array in arrays:
    array = np.ascontiguousarray(array)
    digest.update(str((array.dtype.str, array.shape)).encode())
    digest.update(array.tobytes())
  return digest.hexdigest()[:16]


def _inputs(split) -> np.ndarray:
  if isinstance(split, _types.FeatureSplit):
    return split.features
  return split.images


def _split(pair: Any, name: str) -> _types.ArraySplit | _types.FeatureSplit:
  """Checks one (x, y) pair and wraps it as a split."""
  if not isinstance(pair, (tuple, list)) or len(pair) != 2:
    raise ValueError(
        f"{name} must be a pair (x, y) of inputs and labels, got "
        f"{type(pair).__name__}.")
  x, y = np.asarray(pair[0]), np.asarray(pair[1])
  if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or
                         (y.size == 0 and y.dtype == np.float64)):
    raise ValueError(
        f"{name} labels must be a 1-D integer array [N] of class indices, "
        f"got dtype {y.dtype} and shape {y.shape}.")
  if x.ndim < 1 or x.shape[0] != y.shape[0]:
    raise ValueError(
        f"{name} has {x.shape[0] if x.ndim else 0} inputs but {y.shape[0]} "
        f"labels; pass one label per input.")
  if y.size == 0:
    raise ValueError(f"{name} is empty.")
  if y.min() < 0:
    i = int(np.argmin(y))
    raise ValueError(
        f"{name} labels must be class indices >= 0; labels[{i}] = {y[i]}.")
  if x.ndim == 2:
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
      raise ValueError(f"{name} features must be numeric, got {x.dtype}.")
    features = x.astype(np.float32)
    bad = np.argwhere(~np.isfinite(features))
    if bad.size:
      row, column = (int(v) for v in bad[0])
      raise ValueError(
          f"{name} features are not finite: x[{row}, {column}] = "
          f"{features[row, column]} ({len(bad)} non-finite values in "
          f"{len(np.unique(bad[:, 0]))} rows). Drop or impute them first.")
    return _types.FeatureSplit(features=features, labels=y)
  if x.ndim == 3 and x.dtype == np.uint8:
    x = x[..., None]  # Grayscale [N, H, W].
  if x.ndim == 4 and x.dtype == np.uint8:
    if x.shape[-1] not in (1, 3):
      raise ValueError(
          f"{name} images must be [N, H, W, C] with C = 1 or 3 (NHWC), got "
          f"shape {x.shape}.")
    return _types.ArraySplit(images=x, labels=y)
  raise ValueError(
      f"{name} inputs must be uint8 images [N, H, W, C] or [N, H, W] "
      f"(pixel values 0-255), or numeric feature vectors [N, D]; got dtype "
      f"{x.dtype} and shape {x.shape}. Convert float images in [0, 1] with "
      f"(x * 255).round().astype(np.uint8); flatten other inputs to [N, D].")


def from_arrays(train: tuple[Any, Any], *, test: tuple[Any, Any],
                val: tuple[Any, Any] | None = None,
                class_names: Sequence[str] | None = None,
                name: str = "arrays") -> _types.LongTailedDataset:
  """Builds a dataset from in-memory arrays, taken as they are.

  The training split is used as given (it is your long-tailed set; no
  subset is cut). Train on it with
  `ltjax.train.train_and_evaluate(config, workdir, dataset=ds)`; the model
  (`config.model.name`) must suit the inputs: "mlp" for feature vectors.

  Args:
    train: (x, y): x uint8 images [N, H, W, C] (C = 1 or 3) or [N, H, W],
      or numeric feature vectors [N, D]; y int [N] in [0, C).
    test: (x, y) of the test split, inputs shaped as train's.
    val: optional (x, y) of a validation split.
    class_names: C names, index = label (default "0" ... "C-1" with C the
      largest training label + 1). Every class needs a training example.
    name: the dataset's name (in logs and `metadata`).

  Returns:
    A `LongTailedDataset`: images are normalised with statistics computed
    from the training images, feature vectors standardised per feature.

  Raises:
    ValueError: naming the split and the fix: wrong shapes or dtypes, a
      label count that differs from the inputs, negative labels or labels
      >= C, non-finite features, a class with no training example, inputs
      of different shapes across splits.

  Example:
    >>> ds = from_arrays((x_train, y_train), test=(x_test, y_test),
    ...                  class_names=("cat", "dog", "eel"))
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f"name must be a non-empty string, got {name!r}.")
  splits = {"train": _split(train, "train"), "test": _split(test, "test")}
  if val is not None:
    splits["val"] = _split(val, "val")
  shape = splits["train"].image_shape
  for split_name, split in splits.items():
    if split.image_shape != shape or type(split) is not type(
        splits["train"]):
      raise ValueError(
          f"{split_name} inputs have shape {split.image_shape} per example "
          f"but train's have {shape}; every split needs the same shape.")
  labels = splits["train"].labels
  origin = "class_names" if class_names is not None else "the training labels"
  if class_names is None:
    num_classes = int(labels.max()) + 1
    class_names = tuple(str(c) for c in range(num_classes))
  else:
    class_names = tuple(str(c) for c in class_names)
    num_classes = len(class_names)
    if len(set(class_names)) != num_classes:
      raise ValueError(f"class_names has duplicates: {list(class_names)}.")
  for split_name, split in splits.items():
    if split.labels.max() >= num_classes:
      i = int(np.argmax(split.labels))
      raise ValueError(
          f"{split_name} labels[{i}] = {split.labels[i]} but there are "
          f"{num_classes} classes (from {origin}); labels must be in [0, "
          f"{num_classes}).")
  counts = np.bincount(labels, minlength=num_classes).astype(np.int64)
  if counts.min() < 1:
    empty = np.flatnonzero(counts == 0)
    raise ValueError(
        f"class(es) {[class_names[c] for c in empty[:5]]} (labels "
        f"{empty[:5].tolist()}) have no training example; every class needs "
        f"one. Relabel to 0..C-1 without gaps, or drop those class_names.")
  val_split = splits.get("val")
  metadata = dict(
      name=name,
      source={"format": "arrays",
              "inputs": ("features" if isinstance(splits["train"],
                                                  _types.FeatureSplit)
                         else "images"),
              "sha256": {k: _digest(_inputs(s), s.labels)
                         for k, s in splits.items()}},
      imbalance_profile="given", subset_seed=None,
      imbalance_ratio=float(counts.max() / counts.min()),
      train_size=len(labels), train_class_counts=counts.tolist(),
      val=({"source": "given", "size": len(val_split),
            "class_counts": np.bincount(val_split.labels,
                                        minlength=num_classes).tolist()}
           if val_split is not None else {"source": "none", "size": 0}),
      test_size=len(splits["test"]))
  return _types.LongTailedDataset(
      name=name, train=splits["train"], val=val_split, test=splits["test"],
      class_names=class_names, train_class_counts=counts, metadata=metadata)
