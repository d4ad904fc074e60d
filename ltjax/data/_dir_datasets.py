"""The DIR benchmarks: abalone, AgeDB-DIR and IMDB-WIKI-DIR.

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
file, line and column, or with `drop_nonfinite` the row is dropped and its
line logged and recorded in the metadata.

AgeDB-DIR / IMDB-WIKI-DIR: the reference's CSV (`age,path,split`) with the
images under `image_root` (default: the CSV's folder), as in its
`os.path.join(data_dir, row['path'])`; the images are read and resized batch
by batch (`ImageRegressionSplit`).
"""

import csv
import io
import os
from typing import Any

from absl import logging
import numpy as np

from ltjax.data import _csv
from ltjax.data import _dir_protocol
from ltjax.data import _fields
from ltjax.data import _splits
from ltjax.data import _types

ABALONE_SEXES = ("M", "F", "I")
ABALONE_COLUMNS = ("sex", "length", "diameter", "height", "whole_weight",
                   "shucked_weight", "viscera_weight", "shell_weight", "rings")
AGE_CSV_COLUMNS = ("age", "path", "split")


def nonfinite_message(path, line_number, column, name, text, field):
  return (f"{path}:{line_number}: column {column} ({name}) is {text!r}, not "
          f"a finite number. Fix or remove the row, or set "
          f"{field}=True to drop such rows (they are logged).")


def line_list(lines: list[int], limit: int = 20) -> str:
  shown = ", ".join(str(n) for n in lines[:limit])
  return shown + (f", ... ({len(lines) - limit} more)"
                  if len(lines) > limit else "")


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
  text = _csv.read_text(
      path, what="UCI abalone file",
      decode_fix="replace it with the UCI file, which is ASCII")
  with io.StringIO(text, newline="") as f:
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
        raise ValueError(nonfinite_message(
            path, line_number, k + 2, ABALONE_COLUMNS[k + 1], row[k + 1],
            "config.data.drop_nonfinite"))
      sex = [float(row[0] == s) for s in ABALONE_SEXES]
      rows.append(sex + values)
      lines.append(line_number)
  if dropped:
    logging.warning("%s: dropped %d rows with a NaN or infinite value "
                    "(drop_nonfinite), lines %s.", path, len(dropped),
                    line_list(dropped))
  if not rows:
    raise ValueError(f"{path} holds no abalone rows.")
  table = np.asarray(rows, np.float64)
  return table[:, :-1], table[:, -1], np.asarray(lines, np.int64), dropped


def read_abalone(path: str) -> tuple[np.ndarray, np.ndarray]:
  """Reads the UCI file: (float64 [N, 10] one-hot sex + 7 numeric, rings).

  A NaN or infinite value is an error naming the file, line and column
  (`read_abalone_rows` can drop such rows instead).
  """
  features, rings, _, _ = read_abalone_rows(path)
  return features, rings


def load_abalone(path: str, *, val_per_label: int = 30,
                 split_seed: int = 0,
                 drop_nonfinite: bool = False) -> _types.RegressionDataset:
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
  rows = _splits.balanced_val_test(
      rings, per_label=val_per_label, seed=split_seed)
  numeric = np.arange(features.shape[1]) >= len(ABALONE_SEXES)
  inputs, mean, std = _dir_protocol.standardize(features, rows[0], numeric)
  metadata = {
      "source": "abalone", "path": os.path.abspath(path),
      "rows": int(rings.shape[0]), "val_per_label": int(val_per_label),
      "split_seed": int(split_seed),
      **_dir_protocol.split_record(*rows),
      "feature_mean": mean[numeric].tolist(),
      "feature_std": std[numeric].tolist(),
      # Of every input column (one-hot ones 0 / 1): inputs = (x - mean) /
      # std, what `ltjax.predict` applies to raw rows.
      "standardization": {"mean": mean.tolist(), "std": std.tolist()},
      "dropped_nonfinite_lines": dropped,
  }
  train, val, test = _dir_protocol.table_splits(inputs, rings, lines, rows)
  return _types.RegressionDataset(name="abalone", train=train, val=val,
                                  test=test, metadata=metadata)


def read_age_csv(path: str) -> dict[str, tuple[list[str], np.ndarray]]:
  """Reads a DIR CSV (`age,path,split`): split -> (paths, float ages)."""
  text = _csv.read_text(path, what="DIR age CSV file",
                        decode_fix="save the file as UTF-8")
  with io.StringIO(text, newline="") as f:
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
                     num_workers: int = 0) -> _types.RegressionDataset:
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
    return _types.ImageRegressionSplit(
        paths=tuple(paths), targets=ages, root=root, image_size=image_size,
        num_workers=num_workers)

  metadata = {
      "source": name, "csv": os.path.abspath(csv_path), "image_root": root,
      "image_size": int(image_size),
      "sizes": {k: len(table[k][0]) for k in ("train", "val", "test")},
  }
  return _types.RegressionDataset(name=name, train=split("train"),
                                  val=split("val"), test=split("test"),
                                  metadata=metadata)


# ---------------------------------------------------------------------------
# Registry entries (config fields `config.data.<field>`, as the regression
# task has always named them).

ABALONE_FIELDS = {
    "path": "",
    "val_per_label": 30,
    "split_seed": 0,
    "drop_nonfinite": False,
    "standardize_targets": False,
}
AGE_FIELDS = {
    "path": "",
    "image_root": "",
    "image_size": 224,
    "num_workers": 0,
    "standardize_targets": False,
}


def check_abalone_files(fields: dict[str, Any]) -> None:
  _fields.require_file(fields, "the UCI abalone.data file", "abalone.data")


def check_abalone_fields(fields: dict[str, Any]) -> None:
  _fields.check_val_per_label(fields)


def check_age_fields(fields: dict[str, Any]) -> None:
  _fields.check_count(fields, "image_size", 1)
  if fields["num_workers"] < 0:
    raise ValueError(
        f"config.data.num_workers: must be >= 0, got "
        f"{fields['num_workers']}.")


def check_age_files(fields: dict[str, Any]) -> None:
  _fields.require_file(fields, "the DIR CSV file (age,path,split)",
             f"{fields['name']}.csv")
  if fields["image_root"] and not os.path.isdir(fields["image_root"]):
    raise ValueError(
        f"config.data.image_root: {fields['image_root']!r} is not a folder.")


def load_abalone_entry(name: str, spec: Any,
                       fields: dict[str, Any]) -> _types.RegressionDataset:
  del name, spec
  return load_abalone(fields["path"], val_per_label=fields["val_per_label"],
                      split_seed=fields["split_seed"],
                      drop_nonfinite=fields["drop_nonfinite"])


def load_age_entry(name: str, spec: Any,
                   fields: dict[str, Any]) -> _types.RegressionDataset:
  del spec
  return load_age_dataset(name, fields["path"],
                          image_root=fields["image_root"],
                          image_size=fields["image_size"],
                          num_workers=fields["num_workers"])
