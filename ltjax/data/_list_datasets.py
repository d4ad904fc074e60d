"""Datasets of image files listed with labels (ImageNet-LT, Places-LT).

Each split is a `path label` list file, its paths relative to config field
`path`; the training list is already long-tailed (`imbalance_profile` must be
"given"), and the images are decoded batch by batch (`StreamedSplit`).
"""

import os
from typing import Any

import numpy as np

from ltjax.data import _lists
from ltjax.data import _protocol
from ltjax.data import _splits
from ltjax.data import _types


def _list_path(fields: dict[str, Any], key: str) -> str:
  value = fields[key]
  return value if not value or os.path.isabs(value) else os.path.join(
      fields["path"], value)


def _check_list_fields(name: str, fields: dict[str, Any]) -> None:
  if not fields["path"]:
    raise ValueError(
        f"config.data.path is empty: set it to the folder that the image "
        f"paths in {name}'s list files are relative to.")
  if not os.path.isdir(fields["path"]):
    raise FileNotFoundError(
        f"config.data.path: {fields['path']} is not a folder.")
  if fields["imbalance_profile"] != "given":
    raise ValueError(
        f"{name}'s training list is already long-tailed: "
        f"config.data.imbalance_profile must be 'given', got "
        f"{fields['imbalance_profile']!r}.")
  for key in ("train_list", "test_list"):
    if not fields[key]:
      raise ValueError(f"config.data.{key} is empty; {name} needs one.")


def _list_splits(fields: dict[str, Any]
                ) -> tuple[dict[str, _types.StreamedSplit], dict[str, str]]:
  """Reads the train / val / test lists; returns the splits and a record."""
  splits, record = {}, {}
  for split in ("train", "val", "test"):
    key = f"{split}_list"
    list_path = _list_path(fields, key)
    if not list_path:
      continue
    if not os.path.isfile(list_path):
      raise FileNotFoundError(
          f"config.data.{key}: list file {list_path} does not exist.")
    splits[split] = _lists.list_split(
        fields["path"], list_path, field=key,
        image_size=fields["image_size"], num_workers=fields["num_workers"])
    record[key] = os.path.abspath(list_path)
    record[f"{key}_sha256"] = _splits.file_digest(list_path)
  return splits, record


def _check_class_counts(path: str, labels: np.ndarray, num_classes: int,
                        train_list: str) -> int:
  """Checks a class-counts file against the training labels.

  Returns:
    The number of classes (the file may name classes absent from the lists).
  """
  expected = _lists.read_class_counts_file(path)
  if expected.size < num_classes:
    raise ValueError(
        f"config.data.class_counts_file: {path} has {expected.size} counts "
        f"but the lists have {num_classes} classes.")
  actual = np.bincount(labels, minlength=expected.size)
  if not np.array_equal(actual, expected):
    bad = int(np.flatnonzero(actual != expected)[0])
    raise ValueError(
        f"config.data.class_counts_file: {path} gives class {bad} "
        f"{expected[bad]} training images but train_list {train_list} has "
        f"{actual[bad]}.")
  return expected.size


def _check_list_class_names(names: tuple[str, ...], num_classes: int,
                           train_list: str) -> int:
  if len(names) < num_classes:
    raise ValueError(
        f"config.data.class_names names {len(names)} classes but the "
        f"training list {train_list} has labels up to {num_classes - 1}.")
  return len(names)


def _check_list_labels(labels: np.ndarray, num_classes: int, list_path: str,
                       split: str, origin: str) -> None:
  """Raises naming the file and line of the first label >= num_classes."""
  bad = np.flatnonzero(labels >= num_classes)
  if not bad.size:
    return
  line = _lists.line_number(list_path, int(bad[0]))
  raise ValueError(
      f"{list_path}:{line}: label {labels[bad[0]]} is out of range: there "
      f"are {num_classes} classes (from {origin}), labels 0.."
      f"{num_classes - 1}; {bad.size} line(s) of this {split} list (config "
      f"field {split}_list) are out of range. Fix the labels.")


def load_lists(name: str, spec: Any,
                fields: dict[str, Any]) -> _types.LongTailedDataset:
  """Builds a streamed dataset from `path label` lists under `path`."""
  del spec
  _check_list_fields(name, fields)
  splits, record = _list_splits(fields)
  labels = splits["train"].labels
  # The classes are those of the training list (or of the class-counts file,
  # or class_names): a label typo in a val or test list must not add classes.
  num_classes = int(labels.max()) + 1
  origin = f"the training list {record['train_list']}"
  counts_path = _list_path(fields, "class_counts_file")
  if counts_path:
    num_classes = _check_class_counts(counts_path, labels, num_classes,
                                      record["train_list"])
    record["class_counts_file"] = os.path.abspath(counts_path)
    origin = f"class_counts_file {counts_path}"
  if fields["class_names"]:
    num_classes = _check_list_class_names(fields["class_names"], num_classes,
                                          record["train_list"])
    origin = "config.data.class_names"
  for split, split_data in splits.items():
    _check_list_labels(split_data.labels, num_classes,
                       record[f"{split}_list"], split, origin)
  counts = np.bincount(labels, minlength=num_classes).astype(np.int64)
  val = splits.get("val")
  metadata = dict(
      name=name,
      source=dict(record, format="list", source="list",
                  path=os.path.abspath(fields["path"])),
      imbalance_profile="given",
      imbalance_ratio=(float(counts.max() / counts.min())
                       if counts.min() > 0 else None),
      subset_seed=None, train_size=len(labels),
      train_class_counts=counts.tolist(),
      train_indices_sha256=record["train_list_sha256"],
      image_size=fields["image_size"],
      val=(_protocol.val_record(val.labels, num_classes,
                                source="the official val list")
           if val is not None else {"source": "none", "size": 0}),
      test_size=len(splits["test"]))
  return _types.LongTailedDataset(
      name=name, train=splits["train"], val=val, test=splits["test"],
      class_names=fields["class_names"] or _lists.class_names_from_paths(
          [(s.paths, s.labels) for s in splits.values()], num_classes),
      train_class_counts=counts, metadata=metadata)
