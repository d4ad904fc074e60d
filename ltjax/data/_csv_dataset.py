"""Your own CSV table of features and a label / target column, both tasks.

The file is read by `read_csv_table` (header detection, target by name or
0-based index, numeric and one-hot categorical features, missing-value
markers, non-finite values refused or dropped), so a file means the same to
both tasks. Classification (`name="csv"`): the labels are the classes, the
test split is a given file or a seeded stratified fraction, and the
long-tailed protocol applies (`given` profile by default). Regression
(`name="csv"`, task "regression"): the rows are split at random or by the DIR
protocol (`split_rows`) and the numeric features standardised.
"""

import os
from typing import Any

import ml_collections
import numpy as np

from ltjax.data import _csv
from ltjax.data import _dir_protocol
from ltjax.data import _fields
from ltjax.data import _formats
from ltjax.data import _splits
from ltjax.data import _types

CSV_DELIMITERS = {"auto": "auto", "": None, "tab": "\t"}
CLASSIFICATION_FIELDS = {
    "target": "",
    "val_path": "",
    "test_path": "",
    "missing": "",
    "categorical": "",
    "drop_nonfinite": False,
    "header": ml_collections.config_dict.placeholder(bool),
    "delimiter": ",",
    "encoding": "utf-8",
    "test_fraction": 0.2,
    "split_seed": 0,
}


def check_classification_fields(fields: dict[str, Any]) -> None:
  """Checks the fields of the classification CSV source in place."""
  target = fields["target"]
  if isinstance(target, bool) or not isinstance(target, (int, str)):
    raise ValueError(
        f"config.data.target must name the label column: its header name "
        f"or 0-based index (-1 = last), got {target!r}.")
  fields["target"] = target.strip() if isinstance(target, str) else target
  if fields["header"] not in (None, True, False):
    raise ValueError(
        f"config.data.header must be True, False or None (detect), got "
        f"{fields['header']!r}.")
  delimiter = fields["delimiter"]
  if not (delimiter in CSV_DELIMITERS or (isinstance(delimiter, str) and
                                          len(delimiter) == 1)):
    raise ValueError(
        f"config.data.delimiter must be one character or one of "
        f"{list(CSV_DELIMITERS)}, got {delimiter!r}.")
  check_encoding_field(fields)
  _fields.check_bool(fields, "drop_nonfinite", "config.data.")
  _fields.check_fraction(fields, "test_fraction",
                         "it is used when test_path is empty")
  _fields.check_int(fields, "split_seed", 0)
  _fields.expand_paths(fields, ("val_path", "test_path"))
  fields["missing"] = _fields.split_list(fields["missing"])
  fields["categorical"] = _fields.split_list(fields["categorical"])


def check_encoding_field(fields: dict[str, Any]) -> None:
  """Checks config.data.encoding names a text encoding (in place)."""
  fields["encoding"] = _csv.check_encoding(fields["encoding"],
                                           "config.data.encoding")


def check_csv_path(fields: dict[str, Any], key: str) -> None:
  """Names config.data.<key> if its path is not a regular file."""
  _csv.check_regular_file(
      fields[key], fix=f"set config.data.{key} to the CSV file itself")


def check_classes(table: _csv.CsvTable) -> None:
  """Refuses a training table whose label column holds fewer than 2 classes."""
  found = np.unique(table.targets)
  if found.size < 2:
    names = [table.class_names[int(k)] for k in found]
    raise ValueError(
        f"{table.path}: the label column {table.target_name!r} "
        f"(config.data.target) holds {found.size} class {names}, and "
        f"classification needs at least 2; point config.data.target at the "
        f"label column, or train a regression config (csv_dir) on a numeric "
        f"target.")


def held_out_test(labels: np.ndarray, num_classes: int,
                  fields: dict[str, Any]) -> np.ndarray:
  """Rows of a seeded stratified `test_fraction` of each class."""
  if fields["test_fraction"] <= 0:
    raise ValueError(
        "config.data.test_path is empty and config.data.test_fraction is 0: give a "
        "test file or a fraction of the table to test on.")
  return _splits.stratified_split(labels, num_classes=num_classes,
                                  fraction=fields["test_fraction"],
                                  seed=fields["split_seed"])


def _read_classification(fields: dict[str, Any]) -> _types.SourceData:
  """Reads the CSV file(s) into feature splits (test cut out if needed)."""
  path = fields["path"]
  if not path or fields["target"] == "":
    raise ValueError(
        f"config.data.{'path' if not path else 'target'} is empty: set "
        f"path to the CSV file of features and labels and target to the "
        f"label column (its header name or 0-based index, -1 = last).")
  for key in ("path", "val_path", "test_path"):
    if fields[key]:
      check_csv_path(fields, key)
  delimiter = fields["delimiter"]
  table = _csv.read_csv_table(
      path, target=fields["target"], task="classification",
      missing=fields["missing"], drop_nonfinite=fields["drop_nonfinite"],
      categorical=fields["categorical"],
      header=fields["header"],
      delimiter=CSV_DELIMITERS.get(delimiter, delimiter),
      class_names=fields["class_names"] or None,
      encoding=fields["encoding"])
  check_classes(table)
  num_classes = len(table.class_names)

  def split_of(t, rows=None):
    rows = np.arange(len(t)) if rows is None else rows
    return _types.FeatureSplit(features=t.features[rows],
                               labels=t.targets[rows],
                               source_lines=t.line_numbers[rows])

  splits, record = {}, {}
  for key, split in (("val_path", "val"), ("test_path", "test")):
    if fields[key]:
      other = _csv.read_csv_table(fields[key], target=fields["target"],
                                  drop_nonfinite=fields["drop_nonfinite"],
                                  schema=table.schema)
      splits[split] = split_of(other)
      record[split] = {"path": os.path.abspath(fields[key]),
                       "dropped_lines": len(other.dropped_lines)}
  train_rows = np.arange(len(table))
  if "test" not in splits:
    test_rows = held_out_test(table.targets, num_classes, fields)
    train_rows = np.setdiff1d(train_rows, test_rows)
    splits["test"] = split_of(table, test_rows)
    record["test"] = {
        "fraction": fields["test_fraction"], "seed": fields["split_seed"],
        "lines_sha256": _splits.index_digest(table.line_numbers[test_rows])}
  splits["train"] = split_of(table, train_rows)
  return _types.SourceData(
      splits=splits, class_names=table.class_names,
      description={"format": "csv", "path": table.path,
                   "target": table.target_name,
                   "feature_names": list(table.feature_names),
                   "csv_schema": table.schema.to_json(),
                   "dropped_lines": len(table.dropped_lines), **record})


def load_classification(name: str, spec: Any,
                        fields: dict[str, Any]) -> _types.LongTailedDataset:
  return _formats.build_checked(name, spec, fields,
                                _read_classification(fields), "csv")


# ---------------------------------------------------------------------------
# Regression.

REGRESSION_FIELDS = {
    "path": "",
    "target": "",
    "missing": "",
    "categorical": "",
    "header": ml_collections.config_dict.placeholder(bool),
    "delimiter": ",",
    "encoding": "utf-8",
    "drop_nonfinite": False,
    "split": "random",
    "val_fraction": 0.1,
    "test_fraction": 0.1,
    "val_per_label": 30,
    "split_seed": 0,
    "standardize_targets": True,
}


def check_split_fields(fields: dict[str, Any]) -> None:
  """Checks split, val_fraction, test_fraction of a regression table."""
  if fields["split"] not in _dir_protocol.SPLITS:
    raise ValueError(
        f"config.data.split: {fields['split']!r} is not one of "
        f"{list(_dir_protocol.SPLITS)}.")
  if not (0 <= fields["val_fraction"] and 0 <= fields["test_fraction"] and
          fields["val_fraction"] + fields["test_fraction"] < 1):
    raise ValueError(
        f"config.data.val_fraction / test_fraction: need fractions >= 0 "
        f"summing to < 1, got {fields['val_fraction']} and "
        f"{fields['test_fraction']}.")


def check_regression_files(fields: dict[str, Any]) -> None:
  _fields.require_file(fields, "a CSV file of features and a target column",
                       "table.csv")


def check_regression_fields(fields: dict[str, Any]) -> None:
  _fields.check_val_per_label(fields)
  check_encoding_field(fields)
  if fields["target"] == "":
    raise ValueError(
        "config.data.target: set the target column, a header name or a "
        "0-based index, e.g. --config.data.target=price.")
  check_split_fields(fields)


def split_metadata(split: str, split_seed: int, val_fraction: float,
                   test_fraction: float, val_per_label: int
                  ) -> dict[str, Any]:
  """The split's fields in the metadata of a regression table."""
  return {"split": split, "split_seed": int(split_seed),
          **({"val_fraction": float(val_fraction),
              "test_fraction": float(test_fraction)} if split == "random"
             else {"val_per_label": int(val_per_label)})}


def load_csv(path: str, *, target: Any, missing: str = "",
             categorical: str = "", header: bool | None = None,
             delimiter: str = ",", drop_nonfinite: bool = False,
             encoding: str = "utf-8", split: str = "random",
             val_fraction: float = 0.1,
             test_fraction: float = 0.1, val_per_label: int = 30,
             split_seed: int = 0) -> _types.RegressionDataset:
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
    encoding: the file's text encoding ("utf-8", a byte-order mark
      dropped; e.g. "latin-1").
    split: "random" or "balanced".
    val_fraction: "random": the fraction of rows for validation.
    test_fraction: "random": the fraction of rows for test.
    val_per_label: "balanced": the most val (and test) rows per bin.
    split_seed: seed of the split.

  Returns:
    A `RegressionDataset` with float32 [N, D] inputs; each split's
    `source_lines` are the rows' lines in the file.
  """
  table = _csv.read_csv_table(
      path, target=target, task="regression", missing=missing,
      drop_nonfinite=drop_nonfinite, categorical=categorical, header=header,
      delimiter=delimiter or None, encoding=encoding)
  targets = np.asarray(table.targets, np.float64)
  if split not in _dir_protocol.SPLITS:
    raise ValueError(
        f"split must be one of {_dir_protocol.SPLITS}, got {split!r}.")
  rows = _dir_protocol.split_rows(
      targets, split=split, val_fraction=val_fraction,
      test_fraction=test_fraction, val_per_label=val_per_label,
      seed=split_seed)
  if not rows[0].size:
    raise ValueError(f"{path}: the split leaves no training rows.")
  numeric = np.asarray([name in table.schema.columns and
                        table.schema.kinds[table.schema.columns.index(name)]
                        == "numeric" for name in table.feature_names], bool)
  inputs, mean, std = _dir_protocol.standardize(
      np.asarray(table.features, np.float64), rows[0], numeric)
  metadata = {
      "source": "csv", "path": os.path.abspath(path),
      "target": table.target_name, "rows": int(targets.shape[0]),
      "feature_names": list(table.feature_names),
      "csv_schema": table.schema.to_json(),
      "dropped_nonfinite_lines": list(table.dropped_lines),
      **split_metadata(split, split_seed, val_fraction, test_fraction,
                       val_per_label),
      **_dir_protocol.split_record(*rows),
      "feature_mean": mean.tolist(), "feature_std": std.tolist(),
      "standardization": {"mean": mean.tolist(), "std": std.tolist()},
  }
  train, val, test = _dir_protocol.table_splits(
      inputs, targets, np.asarray(table.line_numbers, np.int64), rows)
  return _types.RegressionDataset(name="csv", train=train, val=val,
                                  test=test, metadata=metadata)


def load_regression(name: str, spec: Any,
                    fields: dict[str, Any]) -> _types.RegressionDataset:
  del name, spec
  return load_csv(fields["path"], target=fields["target"],
                  missing=fields["missing"],
                  categorical=fields["categorical"], header=fields["header"],
                  delimiter=fields["delimiter"],
                  drop_nonfinite=fields["drop_nonfinite"],
                  encoding=fields["encoding"], split=fields["split"],
                  val_fraction=fields["val_fraction"],
                  test_fraction=fields["test_fraction"],
                  val_per_label=fields["val_per_label"],
                  split_seed=fields["split_seed"])
