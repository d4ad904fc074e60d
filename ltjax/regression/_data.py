"""Datasets for deep imbalanced regression: abalone, AgeDB-DIR, IMDB-WIKI-DIR
and your own CSV table (`load_csv`, `config.data.name = "csv"`).

A split gives host batches with `get_batch(indices, *, rng=None) -> (inputs,
float32 targets [b])`: `RegressionSplit` holds arrays in memory (tabular
float32 [N, F] features or uint8 [N, H, W, C] images), `ImageRegressionSplit`
holds image paths and decodes each batch in a thread pool, resized to
S x S (the reference's `Resize((S, S))`; random crop and flip are done on
device). `load_regression_dataset(config.data)` builds a
`RegressionDataset` from the config's paths (never a hard-coded one).

Abalone (UCI, 4,177 rows, target = rings 1..29): inputs are the one-hot sex
(M, F, I) and the 7 numeric measurements, the numeric ones standardised with
the training split's mean and std. Val and test are balanced over the target
as in the DIR protocol: AgeDB-DIR's published split gives each age
min(30, n // 3) validation and as many test images (n = images of that age;
read off `agedb.csv`: 30 where n >= 90, 25 for n = 76, 0 for n < 3), the
rest training. Abalone uses that rule per ring value with a seeded shuffle:
436 val, 436 test, 3,305 train (30 per ring for rings 5..15; rings with
n < 3 stay entirely in training).

A NaN or infinite feature or target is an error at load time naming the
file, line and column (abalone, the DIR CSV, a CSV table), or with
`drop_nonfinite` the row is dropped and its line logged and recorded in the
metadata; an in-memory `RegressionSplit` refuses non-finite features too.

AgeDB-DIR / IMDB-WIKI-DIR: the reference's CSV (`age,path,split`) with the
images under `image_root` (default: the CSV's folder), as in its
`os.path.join(data_dir, row['path'])`.
"""

import csv
import dataclasses
import hashlib
import os
from typing import Any

from absl import logging
import ml_collections
from ml_collections import config_dict
import numpy as np

from ltjax import data as ltdata
from ltjax.data import _images
from ltjax.regression import _bins

ABALONE_SEXES = ("M", "F", "I")
ABALONE_COLUMNS = ("sex", "length", "diameter", "height", "whole_weight",
                   "shucked_weight", "viscera_weight", "shell_weight", "rings")
AGE_CSV_COLUMNS = ("age", "path", "split")


def _readonly(array: np.ndarray) -> np.ndarray:
  view = array.view()
  view.flags.writeable = False
  return view


def _check_targets(targets, num_examples: int) -> np.ndarray:
  targets = np.asarray(targets)
  if targets.ndim != 1 or targets.shape[0] != num_examples:
    raise ValueError(
        f"targets must be a vector of {num_examples} values, got shape "
        f"{targets.shape}.")
  if not np.all(np.isfinite(targets.astype(np.float64))):
    raise ValueError("targets must be finite.")
  return _readonly(targets.astype(np.float32))


def _check_indices(indices, num_examples: int) -> np.ndarray:
  indices = np.asarray(indices, np.int64)
  if indices.ndim != 1 or (indices.size and (
      indices.min() < 0 or indices.max() >= num_examples)):
    raise ValueError(
        f"indices must be a vector in [0, {num_examples}), got shape "
        f"{indices.shape}.")
  return indices


@dataclasses.dataclass(frozen=True, eq=False)
class RegressionSplit:
  """A split held in memory.

  Attributes:
    inputs: float32 [N, F] features or uint8 [N, H, W, C] images.
    targets: float32 [N].
    source_lines: optional int64 [N], the 1-based line of each row in its
      source file (written with the predictions).
  """
  inputs: np.ndarray
  targets: np.ndarray
  source_lines: np.ndarray | None = None

  def __post_init__(self):
    inputs = np.asarray(self.inputs)
    if inputs.dtype != np.uint8:
      inputs = inputs.astype(np.float32)
    if inputs.ndim < 2:
      raise ValueError(
          f"inputs must be [N, ...] with a feature axis, got {inputs.shape}.")
    if inputs.dtype != np.uint8 and not np.all(np.isfinite(inputs)):
      where = tuple(int(i) for i in np.argwhere(~np.isfinite(inputs))[0])
      raise ValueError(
          f"inputs must be finite: row {where[0]}, feature {where[1:]} is "
          f"{inputs[where]}.")
    object.__setattr__(self, "inputs", _readonly(inputs))
    object.__setattr__(self, "targets",
                       _check_targets(self.targets, inputs.shape[0]))
    if self.source_lines is not None:
      lines = np.asarray(self.source_lines, np.int64)
      if lines.shape != (inputs.shape[0],):
        raise ValueError(
            f"source_lines must be [N] = [{inputs.shape[0]}], got "
            f"{lines.shape}.")
      object.__setattr__(self, "source_lines", _readonly(lines))

  def __len__(self) -> int:
    return self.inputs.shape[0]

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.inputs.shape[1:])

  @property
  def input_dtype(self) -> np.dtype:
    return self.inputs.dtype

  def get_batch(self, indices, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (inputs [b, ...], float32 targets [b]) of `indices`."""
    del rng
    indices = _check_indices(indices, len(self))
    return self.inputs[indices], self.targets[indices]


def _load_resized(path: str, size: int) -> np.ndarray:
  image_lib = _images._pil()  # pylint: disable=protected-access
  try:
    with open(path, "rb") as f:
      with image_lib.open(f) as image:
        image = image.convert("RGB").resize(
            (size, size), image_lib.Resampling.BILINEAR)
        return np.asarray(image, np.uint8)
  except FileNotFoundError as e:
    raise FileNotFoundError(f"image {path} does not exist.") from e
  except (OSError, SyntaxError, ValueError) as e:
    raise ValueError(f"could not decode image {path}: {e}") from e


@dataclasses.dataclass(frozen=True, eq=False)
class ImageRegressionSplit:
  """Image files with float targets, decoded and resized batch by batch.

  Attributes:
    paths: N image paths, relative to `root` (or absolute).
    targets: float32 [N].
    root: folder the paths are relative to.
    image_size: side S of the square images `get_batch` returns.
    num_workers: decoding threads; 0 picks a default from the CPU count.
  """
  paths: tuple[str, ...]
  targets: np.ndarray
  root: str = ""
  image_size: int = 224
  num_workers: int = 0

  def __post_init__(self):
    object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
    object.__setattr__(self, "targets",
                       _check_targets(self.targets, len(self.paths)))
    if int(self.image_size) != self.image_size or self.image_size < 1:
      raise ValueError(
          f"image_size must be a positive integer, got {self.image_size!r}.")

  def __len__(self) -> int:
    return len(self.paths)

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return (self.image_size, self.image_size, 3)

  @property
  def input_dtype(self) -> np.dtype:
    return np.dtype(np.uint8)

  def get_batch(self, indices, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Reads and resizes images `indices`: (uint8 [b, S, S, 3], targets)."""
    del rng  # Training augmentation (crop, flip) runs on device.
    indices = _check_indices(indices, len(self))
    pool = _images.executor(self.num_workers or _images.default_num_workers())
    paths = [os.path.join(self.root, self.paths[i]) for i in indices]
    images = list(pool.map(lambda p: _load_resized(p, self.image_size), paths))
    batch = (np.stack(images) if images else
             np.zeros((0,) + self.input_shape, np.uint8))
    return batch, self.targets[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class RegressionDataset:
  """Train / val / test splits of a regression task.

  Attributes:
    name: registry name, e.g. "abalone".
    train: the (imbalanced) training split.
    val: the balanced validation split.
    test: the balanced test split.
    metadata: JSON-serialisable record of exactly which data this is.
  """
  name: str
  train: Any
  val: Any
  test: Any
  metadata: dict[str, Any]

  @property
  def input_shape(self) -> tuple[int, ...]:
    return self.train.input_shape

  @property
  def is_image(self) -> bool:
    return self.train.input_dtype == np.uint8 and len(self.input_shape) == 3


def digest(indices: np.ndarray) -> str:
  """A short fingerprint of an index set."""
  data = np.ascontiguousarray(np.asarray(indices, np.int64))
  return hashlib.sha256(data.tobytes()).hexdigest()[:16]


def balanced_val_test(labels, *, per_label: int, seed: int,
                      max_fraction: float = 1 / 3
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Splits rows into train / val / test, val and test balanced per label.

  For each distinct label (in increasing order) with n rows, shuffled by one
  `np.random.default_rng(seed)`: the first m = min(per_label,
  floor(n * max_fraction)) go to validation, the next m to test, the rest to
  training (AgeDB-DIR's rule with per_label = 30, max_fraction = 1/3).

  Args:
    labels: [N] values to balance over (e.g. integer rings).
    per_label: the most val (and test) rows per label, >= 0.
    seed: shuffle seed.
    max_fraction: the most of a label's rows each of val and test take.

  Returns:
    (train, val, test) int64 index arrays, each sorted.
  """
  labels = np.asarray(labels)
  if int(per_label) != per_label or per_label < 0:
    raise ValueError(f"per_label must be an integer >= 0, got {per_label!r}.")
  if not 0 <= max_fraction <= 0.5:
    raise ValueError(f"max_fraction must be in [0, 0.5], got {max_fraction}.")
  rng = np.random.default_rng(seed)
  train, val, test = [], [], []
  for value in np.unique(labels):
    rows = rng.permutation(np.flatnonzero(labels == value))
    m = min(int(per_label), int(np.floor(rows.size * max_fraction + 1e-9)))
    val.append(rows[:m])
    test.append(rows[m:2 * m])
    train.append(rows[2 * m:])
  return tuple(np.sort(np.concatenate(part)).astype(np.int64)
               for part in (train, val, test))


def _nonfinite_message(path, line_number, column, name, text, field):
  return (f"{path}:{line_number}: column {column} ({name}) is {text!r}, not "
          f"a finite number. Fix or remove the row, or set "
          f"{field}=True to drop such rows (they are logged).")


def read_abalone_rows(path: str, *, drop_nonfinite: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                 list[int]]:
  """Reads the UCI file, checking every value is a finite number.

  Args:
    path: the UCI `abalone.data` file.
    drop_nonfinite: drop rows with a NaN or infinite measurement or rings
      (and return their line numbers) instead of raising.

  Returns:
    (float64 [N, 10] one-hot sex + 7 numeric, float64 [N] rings, int64 [N]
    1-based line of each row, 1-based lines of the dropped rows).

  Raises:
    ValueError: naming the file, line and column of a malformed row, or of a
      NaN / infinite value unless `drop_nonfinite`.
  """
  rows, lines, dropped = [], [], []
  with open(path, newline="") as f:
    for line_number, row in enumerate(csv.reader(f), 1):
      if not row or not "".join(row).strip():
        continue
      if len(row) != 9 or row[0] not in ABALONE_SEXES:
        raise ValueError(
            f"{path}:{line_number}: expected 9 comma-separated fields "
            f"(sex in {ABALONE_SEXES}, 7 measurements, rings), got {row}.")
      try:
        values = [float(x) for x in row[1:]]
      except ValueError as e:
        raise ValueError(f"{path}:{line_number}: {e}") from e
      bad = [k for k, x in enumerate(values) if not np.isfinite(x)]
      if bad:
        if drop_nonfinite:
          dropped.append(line_number)
          continue
        k = bad[0]
        raise ValueError(_nonfinite_message(
            path, line_number, k + 2, ABALONE_COLUMNS[k + 1], row[k + 1],
            "config.data.drop_nonfinite"))
      sex = [float(row[0] == s) for s in ABALONE_SEXES]
      rows.append(sex + values)
      lines.append(line_number)
  if dropped:
    logging.warning("%s: dropped %d rows with a NaN or infinite value "
                    "(drop_nonfinite), lines %s.", path, len(dropped),
                    _line_list(dropped))
  if not rows:
    raise ValueError(f"{path} holds no abalone rows.")
  table = np.asarray(rows, np.float64)
  return table[:, :-1], table[:, -1], np.asarray(lines, np.int64), dropped


def _line_list(lines: list[int], limit: int = 20) -> str:
  shown = ", ".join(str(n) for n in lines[:limit])
  return shown + (f", ... ({len(lines) - limit} more)"
                  if len(lines) > limit else "")


def read_abalone(path: str) -> tuple[np.ndarray, np.ndarray]:
  """Reads the UCI file: (float64 [N, 10] one-hot sex + 7 numeric, rings).

  A NaN or infinite value is an error naming the file, line and column
  (`read_abalone_rows` can drop such rows instead).
  """
  features, rings, _, _ = read_abalone_rows(path)
  return features, rings


def load_abalone(path: str, *, val_per_label: int = 30,
                 split_seed: int = 0,
                 drop_nonfinite: bool = False) -> RegressionDataset:
  """The abalone DIR task (see the module docstring).

  Args:
    path: the UCI `abalone.data` file.
    val_per_label: validation (and test) rows per ring value, at most a third
      of that ring's rows.
    split_seed: seed of the split.
    drop_nonfinite: drop (and log) rows with a NaN or infinite value instead
      of raising.

  Returns:
    A `RegressionDataset` with float32 [N, 10] inputs and ring targets.
  """
  features, rings, lines, dropped = read_abalone_rows(
      path, drop_nonfinite=drop_nonfinite)
  train, val, test = balanced_val_test(
      rings, per_label=val_per_label, seed=split_seed)
  numeric = features[:, len(ABALONE_SEXES):]
  mean = numeric[train].mean(axis=0)
  std = numeric[train].std(axis=0)
  std = np.where(std > 0, std, 1.0)
  inputs = np.concatenate([features[:, :len(ABALONE_SEXES)],
                           (numeric - mean) / std], axis=1)

  def split(index):
    return RegressionSplit(inputs=inputs[index], targets=rings[index],
                           source_lines=lines[index])

  metadata = {
      "source": "abalone", "path": os.path.abspath(path),
      "rows": int(rings.shape[0]), "val_per_label": int(val_per_label),
      "split_seed": int(split_seed),
      "sizes": {"train": int(train.size), "val": int(val.size),
                "test": int(test.size)},
      "digests": {"train": digest(train), "val": digest(val),
                  "test": digest(test)},
      "feature_mean": mean.tolist(), "feature_std": std.tolist(),
      "dropped_nonfinite_lines": dropped,
  }
  return RegressionDataset(name="abalone", train=split(train),
                           val=split(val), test=split(test),
                           metadata=metadata)


def read_age_csv(path: str) -> dict[str, tuple[list[str], np.ndarray]]:
  """Reads a DIR CSV (`age,path,split`): split -> (paths, float ages)."""
  with open(path, newline="") as f:
    reader = csv.DictReader(f)
    missing = [c for c in AGE_CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
      raise ValueError(
          f"{path} must have the columns {AGE_CSV_COLUMNS} (the reference's "
          f"CSV); missing {missing}.")
    out: dict[str, tuple[list[str], list[float]]] = {}
    for line_number, row in enumerate(reader, 2):
      try:
        age = float(row["age"])
      except ValueError as e:
        raise ValueError(f"{path}:{line_number}: bad age {row['age']!r}") from e
      if not np.isfinite(age):
        raise ValueError(
            f"{path}:{line_number}: column age is {row['age']!r}, not a "
            f"finite number; fix or remove the row.")
      paths, ages = out.setdefault(row["split"], ([], []))
      paths.append(row["path"])
      ages.append(age)
  for split in ("train", "val", "test"):
    if split not in out:
      raise ValueError(f"{path} has no rows with split == {split!r}.")
  return {k: (p, np.asarray(a, np.float32)) for k, (p, a) in out.items()}


def load_age_dataset(name: str, csv_path: str, *, image_root: str = "",
                     image_size: int = 224,
                     num_workers: int = 0) -> RegressionDataset:
  """AgeDB-DIR or IMDB-WIKI-DIR from the reference CSV and an image folder.

  Args:
    name: "agedb_dir" or "imdb_wiki_dir".
    csv_path: the CSV with columns age, path, split (train / val / test).
    image_root: folder the CSV's paths are relative to; "" for the CSV's
      folder.
    image_size: side of the resized images.
    num_workers: decoding threads (0: default).

  Returns:
    A `RegressionDataset` of streamed image splits (images are read when a
    batch is).
  """
  table = read_age_csv(csv_path)
  root = image_root or os.path.dirname(os.path.abspath(csv_path))

  def split(part):
    paths, ages = table[part]
    return ImageRegressionSplit(paths=tuple(paths), targets=ages, root=root,
                                image_size=image_size,
                                num_workers=num_workers)

  metadata = {
      "source": name, "csv": os.path.abspath(csv_path), "image_root": root,
      "image_size": int(image_size),
      "sizes": {k: len(table[k][0]) for k in ("train", "val", "test")},
  }
  return RegressionDataset(name=name, train=split("train"), val=split("val"),
                           test=split("test"), metadata=metadata)


CSV_SPLITS = ("random", "balanced")


def _split_rows(targets, *, split: str, val_fraction: float,
                test_fraction: float, val_per_label: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Train / val / test row indices of a CSV source (see `load_csv`)."""
  n = targets.shape[0]
  if split == "random":
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    n_test = int(round(test_fraction * n))
    parts = (order[n_val + n_test:], order[:n_val],
             order[n_val:n_val + n_test])
    return tuple(np.sort(p).astype(np.int64) for p in parts)
  edges, _ = _bins.data_bin_edges(targets)
  strata = np.asarray(_bins.bin_index(targets, edges))
  return balanced_val_test(strata, per_label=val_per_label, seed=seed)


def load_csv(path: str, *, target: Any, missing: str = "",
             categorical: str = "", header: bool | None = None,
             delimiter: str = ",", drop_nonfinite: bool = False,
             split: str = "random", val_fraction: float = 0.1,
             test_fraction: float = 0.1, val_per_label: int = 30,
             split_seed: int = 0) -> RegressionDataset:
  """A regression task from one CSV file of features and a target column.

  The file is read by `ltjax.data.read_csv_table` (header detection, target
  by name or 0-based index, numeric and one-hot categorical features, the
  `missing` marker; a NaN, inf or missing numeric value or target is an
  error naming the file, line and column unless `drop_nonfinite`, which
  drops and logs those rows). Rows are split with one seeded generator:

  * "random" (default): a uniform random `val_fraction` / `test_fraction` of
    the rows for validation / test, the rest for training. Validation and
    test then follow the data's own (imbalanced) target distribution;
    the many / medium / few-shot metrics show the tail.
  * "balanced": the DIR protocol (as abalone, AgeDB-DIR): the targets are
    cut into the default bins of the whole file (`data_bin_edges`: one per
    value for integer targets over <= 200 values, else ceil(sqrt(N)) in
    [10, 100] equal bins) and each bin with n rows gives
    min(val_per_label, n // 3) rows to validation and as many to test.

  Numeric features are standardised with the training rows' mean and std;
  one-hot features are kept as 0 / 1.

  Args:
    path: the CSV file.
    target: the target column, a header name or a 0-based index.
    missing: the missing-value marker (e.g. "?" or "NA"; "" = empty cell).
    categorical: comma-separated columns to one-hot even if numeric.
    header: whether the first row is a header; None detects it.
    delimiter: "," or another single character, "auto", or "" for
      whitespace.
    drop_nonfinite: drop (and log) rows with a non-finite or missing
      numeric value instead of raising.
    split: "random" or "balanced".
    val_fraction: "random": the fraction of rows for validation.
    test_fraction: "random": the fraction of rows for test.
    val_per_label: "balanced": the most val (and test) rows per bin.
    split_seed: seed of the split.

  Returns:
    A `RegressionDataset` with float32 [N, D] inputs; each split's
    `source_lines` are the rows' lines in the file.
  """
  table = ltdata.read_csv_table(
      path, target=target, task="regression", missing=missing,
      drop_nonfinite=drop_nonfinite, categorical=categorical, header=header,
      delimiter=delimiter or None)
  targets = np.asarray(table.targets, np.float64)
  if split not in CSV_SPLITS:
    raise ValueError(f"split must be one of {CSV_SPLITS}, got {split!r}.")
  train, val, test = _split_rows(
      targets, split=split, val_fraction=val_fraction,
      test_fraction=test_fraction, val_per_label=val_per_label,
      seed=split_seed)
  if not train.size:
    raise ValueError(f"{path}: the split leaves no training rows.")
  numeric = np.asarray([name in table.schema.columns and
                        table.schema.kinds[table.schema.columns.index(name)]
                        == "numeric" for name in table.feature_names], bool)
  features = np.asarray(table.features, np.float64)
  mean = np.where(numeric, features[train].mean(axis=0), 0.0)
  std = features[train].std(axis=0)
  std = np.where(numeric & (std > 0), std, 1.0)
  inputs = (features - mean) / std
  lines = np.asarray(table.line_numbers, np.int64)

  def part(index):
    return RegressionSplit(inputs=inputs[index], targets=targets[index],
                           source_lines=lines[index])

  metadata = {
      "source": "csv", "path": os.path.abspath(path),
      "target": table.target_name, "rows": int(targets.shape[0]),
      "feature_names": list(table.feature_names),
      "dropped_nonfinite_lines": list(table.dropped_lines),
      "split": split, "split_seed": int(split_seed),
      **({"val_fraction": float(val_fraction),
          "test_fraction": float(test_fraction)} if split == "random" else
         {"val_per_label": int(val_per_label)}),
      "sizes": {"train": int(train.size), "val": int(val.size),
                "test": int(test.size)},
      "digests": {"train": digest(train), "val": digest(val),
                  "test": digest(test)},
      "feature_mean": mean.tolist(), "feature_std": std.tolist(),
  }
  return RegressionDataset(name="csv", train=part(train), val=part(val),
                           test=part(test), metadata=metadata)


DATASETS = ("abalone", "agedb_dir", "imdb_wiki_dir", "csv")


def default_data_config(name: str) -> ml_collections.ConfigDict:
  """The `config.data` fields of dataset `name` (paths must be set)."""
  if name == "abalone":
    return ml_collections.ConfigDict(dict(
        name=name,
        path="",  # the UCI abalone.data file
        val_per_label=30,  # val (and test) rows per ring, <= a third
        split_seed=0,
        drop_nonfinite=False,  # True: drop (and log) NaN / inf rows
        standardize_targets=False,  # train on (y - mean) / std
    ))
  if name in ("agedb_dir", "imdb_wiki_dir"):
    return ml_collections.ConfigDict(dict(
        name=name,
        path="",  # the reference CSV (age,path,split)
        image_root="",  # folder of the CSV's image paths; "" = CSV's folder
        image_size=224,
        num_workers=0,
        standardize_targets=False,  # train on (y - mean) / std
    ))
  if name == "csv":
    return ml_collections.ConfigDict(dict(
        name=name,
        path="",  # the CSV file
        target="",  # the target column: header name or 0-based index
        missing="",  # missing-value marker ("" = empty cell; UCI: "?")
        categorical="",  # comma-separated columns to one-hot if numeric
        header=config_dict.placeholder(bool),  # None: detected
        delimiter=",",  # a character, "auto", or "" for whitespace
        drop_nonfinite=False,  # True: drop (and log) NaN / inf / missing
        split="random",  # random | balanced (the DIR protocol)
        val_fraction=0.1,  # random split
        test_fraction=0.1,
        val_per_label=30,  # balanced split: val (and test) rows per bin
        split_seed=0,
        standardize_targets=True,  # train on (y - mean) / std
    ))
  raise ValueError(f"config.data.name: {name!r} is not one of {DATASETS}.")


def validate_data_config(data) -> None:
  """Checks the data fields before anything is read; names the field."""
  if data.name not in DATASETS:
    raise ValueError(
        f"config.data.name: {data.name!r} is not one of {list(DATASETS)}.")
  what, example = {
      "abalone": ("the UCI abalone.data file", "abalone.data"),
      "csv": ("a CSV file of features and a target column", "table.csv"),
  }.get(data.name, ("the DIR CSV file (age,path,split)", f"{data.name}.csv"))
  fields = set(default_data_config(data.name).keys())
  if set(data.keys()) != fields:
    raise ValueError(
        f"config.data: the fields of data.name={data.name!r} are "
        f"{sorted(fields)}, got {sorted(data.keys())}; start from a config "
        f"of that source (a CSV: experiments/configs/csv_dir/*.py).")
  if not data.path:
    raise ValueError(
        f"config.data.path: set it to {what}, e.g. "
        f"--config.data.path=/path/to/{example}.")
  if not os.path.isfile(data.path):
    raise ValueError(f"config.data.path: {data.path!r} is not a file ({what}).")
  if data.name in ("abalone", "csv"):
    if int(data.val_per_label) != data.val_per_label or data.val_per_label < 0:
      raise ValueError(
          f"config.data.val_per_label: must be an integer >= 0, got "
          f"{data.val_per_label!r}.")
  if data.name == "csv":
    if data.target == "":
      raise ValueError(
          "config.data.target: set the target column, a header name or a "
          "0-based index, e.g. --config.data.target=price.")
    if data.split not in CSV_SPLITS:
      raise ValueError(
          f"config.data.split: {data.split!r} is not one of "
          f"{list(CSV_SPLITS)}.")
    if not (0 <= data.val_fraction and 0 <= data.test_fraction and
            data.val_fraction + data.test_fraction < 1):
      raise ValueError(
          f"config.data.val_fraction / test_fraction: need fractions >= 0 "
          f"summing to < 1, got {data.val_fraction} and "
          f"{data.test_fraction}.")
  elif data.name != "abalone":
    if data.image_root and not os.path.isdir(data.image_root):
      raise ValueError(
          f"config.data.image_root: {data.image_root!r} is not a folder.")
    if int(data.image_size) != data.image_size or data.image_size < 1:
      raise ValueError(
          f"config.data.image_size: must be a positive integer, got "
          f"{data.image_size!r}.")
    if data.num_workers < 0:
      raise ValueError(
          f"config.data.num_workers: must be >= 0, got {data.num_workers}.")


def load_regression_dataset(data) -> RegressionDataset:
  """Builds the dataset named by `config.data` from its paths."""
  validate_data_config(data)
  if data.name == "abalone":
    return load_abalone(data.path, val_per_label=data.val_per_label,
                        split_seed=data.split_seed,
                        drop_nonfinite=data.drop_nonfinite)
  if data.name == "csv":
    return load_csv(data.path, target=data.target, missing=data.missing,
                    categorical=data.categorical, header=data.header,
                    delimiter=data.delimiter,
                    drop_nonfinite=data.drop_nonfinite, split=data.split,
                    val_fraction=data.val_fraction,
                    test_fraction=data.test_fraction,
                    val_per_label=data.val_per_label,
                    split_seed=data.split_seed)
  return load_age_dataset(data.name, data.path, image_root=data.image_root,
                          image_size=data.image_size,
                          num_workers=data.num_workers)
