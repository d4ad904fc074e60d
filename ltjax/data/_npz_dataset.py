"""Your own NumPy `.npz` file of inputs and a label / target array.

The source most users reach for first: save what you have with
`np.savez(path, x=inputs, y=labels)` and point a data config at it. Inputs
are feature vectors (numeric [N, D]) or images (uint8 [N, H, W, C]); `y` is
[N] int class labels (classification) or float targets (regression). Both
tasks apply their split protocol:

* classification (`name="npz"`): the test split is `test_path` (another
  .npz with the same keys) or a seeded stratified `test_fraction` of each
  class, the validation split `val_path` or `val_per_class` held-out rows,
  and the training split is kept (`imbalance_profile="given"`, default) or
  cut to an `exp` / `step` profile as for CIFAR-LT.
* regression (`name="npz"`, task "regression"): the DIR split of the rows
  (`split="balanced"`, default: min(val_per_label, n // 3) val and test
  rows per target bin; or `"random"` fractions), feature vectors
  standardised with the training rows' mean and std.

Example:
  >>> np.savez("/tmp/mine.npz", x=features, y=labels)  # [N, D], int [N]
  >>> config = ltjax.data.default_data_config("npz")
  >>> config.path = "/tmp/mine.npz"
  >>> config.imbalance_profile, config.imbalance_ratio = "exp", 50.0
  >>> dataset = ltjax.data.load_dataset(config)  # a LongTailedDataset
  >>> reg = ltjax.data.default_data_config("npz", task="regression")
  >>> reg.path = "/tmp/prices.npz"  # y: float targets
  >>> dataset = ltjax.data.load_dataset(reg, task="regression")
"""

import os
import zipfile
from typing import Any

from absl import logging
import numpy as np

from ltjax.data import _csv_dataset
from ltjax.data import _dir_protocol
from ltjax.data import _fields
from ltjax.data import _formats
from ltjax.data import _splits
from ltjax.data import _types

_KEY_FIELDS = {"inputs_key": "x", "target_key": "y"}
CLASSIFICATION_FIELDS = {
    **_KEY_FIELDS,
    "val_path": "",
    "test_path": "",
    "drop_nonfinite": False,
    "test_fraction": 0.2,
    "split_seed": 0,
}
REGRESSION_FIELDS = {
    "path": "",
    **_KEY_FIELDS,
    "drop_nonfinite": False,
    "split": "balanced",
    "val_fraction": 0.1,
    "test_fraction": 0.1,
    "val_per_label": 30,
    "split_seed": 0,
    "standardize_targets": True,
}


def _check_keys(fields: dict[str, Any], prefix: str) -> None:
  for key in _KEY_FIELDS:
    if not isinstance(fields[key], str) or not fields[key]:
      raise ValueError(
          f"{prefix}{key} must name an array in the .npz file (e.g. "
          f"{_KEY_FIELDS[key]!r}), got {fields[key]!r}.")
  _fields.check_bool(fields, "drop_nonfinite", prefix)


def check_classification_fields(fields: dict[str, Any]) -> None:
  """Checks the fields of the classification npz source in place."""
  _check_keys(fields, "config.data.")
  _fields.check_fraction(fields, "test_fraction",
                         "it is used when test_path is empty")
  _fields.check_int(fields, "split_seed", 0)
  _fields.expand_paths(fields, ("val_path", "test_path"))


def check_regression_files(fields: dict[str, Any]) -> None:
  _fields.require_file(fields, "a .npz file of inputs and targets",
                       "data.npz")


def check_regression_fields(fields: dict[str, Any]) -> None:
  """Checks the fields of the regression npz source in place."""
  _fields.check_val_per_label(fields)
  _check_keys(fields, "config.data.")
  _csv_dataset.check_split_fields(fields)


def read_npz(path: str, *, inputs_key: str = "x", target_key: str = "y",
             task: str = "classification", drop_nonfinite: bool = False,
             field: str = "config.data.path"
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Reads inputs and labels / targets from a `.npz` file, checking them.

  Args:
    path: the file, as written by `np.savez` / `np.savez_compressed`.
    inputs_key: the inputs' array: numeric [N, D] features or uint8
      [N, H, W, C] images.
    target_key: the [N] label (int >= 0) or target (float) array.
    task: "classification" or "regression".
    drop_nonfinite: drop rows with a NaN or inf feature or target (logged,
      returned as dropped) instead of raising.
    field: the config.data.that named `path`, for error messages.

  Returns:
    (inputs (float32 features or uint8 images), int64 labels or float64
    targets, int64 [N'] the kept rows' indices in the file, int64 the
    dropped rows' indices).

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError: naming the file, the key and the fix, for a missing key, a
      wrong shape or dtype, a non-integer or negative label, or a
      non-finite value (unless `drop_nonfinite`).
  """
  if not path:
    raise ValueError(
        f"{field} is empty: set it to a .npz file with arrays "
        f"{inputs_key!r} (inputs) and {target_key!r} (labels or targets), "
        f"e.g. written by np.savez(path, {inputs_key}=x, {target_key}=y).")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{field}: {path} does not exist.")
  try:
    with np.load(path, allow_pickle=False) as npz:
      keys = list(npz.keys())
      missing = [k for k in (inputs_key, target_key) if k not in keys]
      if missing:
        key, what = (("inputs_key", "inputs") if missing[0] == inputs_key
                     else ("target_key", "labels / targets"))
        raise ValueError(
            f"{path} has no array {missing[0]!r} (it has {keys}); set "
            f"config.data.{key} to the name of the {what}.")
      inputs, target = npz[inputs_key], npz[target_key]
  except (zipfile.BadZipFile, OSError, EOFError) as e:
    raise ValueError(
        f"{field}: {path} is not a readable .npz file ({type(e).__name__}: "
        f"{e}); write it with np.savez(path, {inputs_key}=x, "
        f"{target_key}=y).") from e
  where = f"{path}[{inputs_key!r}]"
  images = inputs.dtype == np.uint8 and inputs.ndim == 4
  if not images and (inputs.ndim != 2 or not (
      np.issubdtype(inputs.dtype, np.floating) or
      np.issubdtype(inputs.dtype, np.integer))):
    raise ValueError(
        f"{where} has dtype {inputs.dtype} and shape {inputs.shape}; give "
        f"numeric features [N, D] or uint8 images [N, H, W, C].")
  if target.shape != (inputs.shape[0],):
    raise ValueError(
        f"{path}[{target_key!r}] has shape {target.shape}; give one "
        f"{'label' if task == 'classification' else 'target'} per row of "
        f"{inputs_key!r}, shape ({inputs.shape[0]},).")
  if task == "classification":
    if not (np.issubdtype(target.dtype, np.integer) or (
        np.issubdtype(target.dtype, np.floating) and
        np.all(np.isfinite(target)) and np.all(target == np.round(target)))):
      raise ValueError(
          f"{path}[{target_key!r}] must hold integer class labels 0..C-1, "
          f"got dtype {target.dtype}; for float targets use the regression "
          f"task (task='regression').")
    target = target.astype(np.int64)
    if target.size and target.min() < 0:
      raise ValueError(
          f"{path}[{target_key!r}]: row {int(np.argmin(target))} has label "
          f"{target.min()}; labels must be class indices 0..C-1.")
  elif not (np.issubdtype(target.dtype, np.floating) or
            np.issubdtype(target.dtype, np.integer)):
    raise ValueError(
        f"{path}[{target_key!r}] must hold numeric targets, got dtype "
        f"{target.dtype}.")
  else:
    target = target.astype(np.float64)
  finite = np.isfinite(target.astype(np.float64))
  if not images:
    inputs = inputs.astype(np.float32)
    finite &= np.all(np.isfinite(inputs), axis=1)
  rows = np.arange(inputs.shape[0], dtype=np.int64)
  bad = np.flatnonzero(~finite).astype(np.int64)
  if bad.size:
    if not drop_nonfinite:
      raise ValueError(
          f"{path}: row {bad[0]} has a NaN or infinite input or target "
          f"({bad.size} such rows). Fix or remove those rows, or set config "
          f"field drop_nonfinite=True to drop them (they are logged).")
    logging.warning("%s: dropped %d rows with a NaN or infinite value "
                    "(drop_nonfinite), rows %s.", path, bad.size,
                    bad[:20].tolist())
    rows = rows[finite]
  return inputs[rows], target[rows], rows, bad


def _classification_split(inputs: np.ndarray, labels: np.ndarray):
  if inputs.dtype == np.uint8 and inputs.ndim == 4:
    return _types.ArraySplit(images=inputs, labels=labels)
  return _types.FeatureSplit(features=inputs, labels=labels)


def _read_classification(fields: dict[str, Any]) -> _types.SourceData:
  """Reads the .npz file(s) into splits (test cut out if needed)."""
  keys = dict(inputs_key=fields["inputs_key"],
              target_key=fields["target_key"],
              drop_nonfinite=fields["drop_nonfinite"])
  inputs, labels, kept, dropped = read_npz(fields["path"], **keys)
  parts = {"train": (inputs, labels)}
  record = {}
  for key, split in (("val_path", "val"), ("test_path", "test")):
    if fields[key]:
      x, y, _, _ = read_npz(fields[key], field=f"config.data.{key}", **keys)
      if x.shape[1:] != inputs.shape[1:] or x.dtype != inputs.dtype:
        raise ValueError(
            f"config.data.{key}: {fields[key]} has inputs {x.dtype} "
            f"{x.shape[1:]}, the training file {inputs.dtype} "
            f"{inputs.shape[1:]}; give the same input shape.")
      parts[split] = (x, y)
      record[split] = {"path": os.path.abspath(fields[key])}
  num_classes = int(max(y.max(initial=-1) for _, y in parts.values())) + 1
  if fields["class_names"]:
    if num_classes > len(fields["class_names"]):
      raise ValueError(
          f"config.data.class_names names {len(fields['class_names'])} "
          f"classes but {fields['path']} (or its val / test file) has label "
          f"{num_classes - 1}; name every class 0..{num_classes - 1}.")
    class_names = fields["class_names"]
  else:
    class_names = tuple(str(c) for c in range(num_classes))
  if "test" not in parts:
    test_rows = _csv_dataset.held_out_test(labels, len(class_names), fields)
    train_rows = np.setdiff1d(np.arange(labels.size), test_rows)
    parts["test"] = (inputs[test_rows], labels[test_rows])
    parts["train"] = (inputs[train_rows], labels[train_rows])
    record["test"] = {
        "fraction": fields["test_fraction"], "seed": fields["split_seed"],
        "rows_sha256": _splits.index_digest(kept[test_rows])}
  return _types.SourceData(
      splits={k: _classification_split(*v) for k, v in parts.items()},
      class_names=class_names,
      description={"format": "npz", "path": os.path.abspath(fields["path"]),
                   "inputs_key": fields["inputs_key"],
                   "target_key": fields["target_key"],
                   "dropped_rows": dropped.tolist(), **record})


def load_classification(name: str, spec: Any,
                        fields: dict[str, Any]) -> _types.LongTailedDataset:
  return _formats.build_checked(name, spec, fields,
                                _read_classification(fields), "npz")


def load_regression(name: str, spec: Any,
                    fields: dict[str, Any]) -> _types.RegressionDataset:
  """The DIR split of a .npz file's rows (see the module docstring)."""
  del spec
  inputs, targets, kept, dropped = read_npz(
      fields["path"], inputs_key=fields["inputs_key"],
      target_key=fields["target_key"], task="regression",
      drop_nonfinite=fields["drop_nonfinite"], field="config.data.path")
  rows = _dir_protocol.split_rows(
      targets, split=fields["split"], val_fraction=fields["val_fraction"],
      test_fraction=fields["test_fraction"],
      val_per_label=fields["val_per_label"], seed=fields["split_seed"])
  if not rows[0].size:
    raise ValueError(f"{fields['path']}: the split leaves no training rows; "
                     f"lower config.data.val_per_label or the fractions.")
  stats = {}
  if inputs.dtype != np.uint8:
    inputs, mean, std = _dir_protocol.standardize(
        inputs.astype(np.float64), rows[0],
        np.ones(inputs.shape[1], bool))
    stats = {"feature_mean": mean.tolist(), "feature_std": std.tolist()}
  metadata = {
      "source": "npz", "path": os.path.abspath(fields["path"]),
      "inputs_key": fields["inputs_key"], "target_key": fields["target_key"],
      "rows": int(targets.shape[0]),
      "dropped_nonfinite_rows": dropped.tolist(),
      **_csv_dataset.split_metadata(
          fields["split"], fields["split_seed"], fields["val_fraction"],
          fields["test_fraction"], fields["val_per_label"]),
      **_dir_protocol.split_record(*rows), **stats,
  }
  train, val, test = _dir_protocol.table_splits(inputs, targets, kept + 1,
                                                rows)
  return _types.RegressionDataset(name=name, train=train, val=val, test=test,
                                  metadata=metadata)
