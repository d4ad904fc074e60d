"""Tables of features in CSV files, for classification and regression.

`read_csv_table(path, target=...)` reads a delimited text file into float32
features [N, D] and a target column; both the classification `csv` dataset
and the regression task's CSV source use it, so a file means the same thing
to both.

The file:
  - Delimiter: `,` (default), or any single character; `delimiter=None`
    takes `,` / tab / `;` from the first line, else splits on whitespace.
  - Header: `header=None` detects one: the first row is a header when
    `target` is a column name, or when some column holds numbers below the
    first row and a non-number in it. `header=True` / `False` overrides.
  - Target: a header name, or a 0-based column index (negative counts from
    the end: -1 is the last column).
  - Feature columns: a column is numeric when every non-missing cell parses
    as a number; a column with no number in it is categorical and becomes
    one one-hot feature per category (sorted; named `column=value`). A
    column that mixes numbers and text is an error naming the first text
    cell: mark it missing (`missing`) or list the column in `categorical`
    (which also makes a numeric-looking column, e.g. a code, categorical).
  - Missing values: an empty cell, or a cell equal to one of the `missing`
    markers (e.g. "?" as in UCI files, or "NA,?"), is missing. In a numeric column or
    the target it counts as non-finite (below); in a categorical column it
    is all zeros in that column's one-hot block.
  - Non-finite values (NaN, inf, or missing) in a numeric feature or the
    target are an error naming the file, line and column, unless
    `drop_nonfinite=True`, which drops those rows and logs how many and
    which lines.

Classification targets are class names: the labels are their indices in
`class_names` (given, or else the sorted distinct values, numerically when
all are integers). Regression targets are float32.

A validation or test file is read with the training file's `schema`, so its
columns, categories and classes are the training file's: a category or class
the training file lacks is an error naming the line.

The text: `encoding` (default UTF-8, a leading byte-order mark dropped, as
spreadsheets write it); a byte the encoding cannot decode is an error naming
the file and line, and a file with NUL bytes (a spreadsheet, archive or other
binary file) is refused as not a text CSV. A path that is a directory or not
a regular file (a FIFO, socket or device) is refused without being opened.
"""

import codecs
import csv
import dataclasses
import math
import os
import stat
from typing import Any, Sequence

from absl import logging
import numpy as np

TASKS = ("classification", "regression")
_AUTO_DELIMITERS = (",", "\t", ";")


@dataclasses.dataclass(frozen=True)
class CsvSchema:
  """How a CSV file maps to features and a target (from the training file).

  Attributes:
    columns: names of the file's columns (`column_<i>` without a header).
    header: whether the file has a header row.
    delimiter: the delimiter, or None for whitespace.
    target: index of the target column.
    kinds: per column, "numeric", "categorical" or "target".
    categories: per categorical column name, its categories (one-hot order).
    class_names: classification: the classes, index = label; else None.
    task: "classification" or "regression".
    missing: the missing-value markers.
    encoding: the text encoding of the file (a UTF-8 byte-order mark is
      dropped); files of new rows are read with it too.
  """
  columns: tuple[str, ...]
  header: bool
  delimiter: str | None
  target: int
  kinds: tuple[str, ...]
  categories: dict[str, tuple[str, ...]]
  class_names: tuple[str, ...] | None
  task: str
  missing: tuple[str, ...]
  encoding: str = "utf-8"

  def to_json(self) -> dict[str, Any]:
    """The schema as JSON values (`from_json` reads it back)."""
    return {"columns": list(self.columns), "header": self.header,
            "delimiter": self.delimiter, "target": self.target,
            "kinds": list(self.kinds),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "class_names": (None if self.class_names is None
                            else list(self.class_names)),
            "task": self.task, "missing": list(self.missing),
            "encoding": self.encoding}

  @classmethod
  def from_json(cls, value: dict[str, Any]) -> "CsvSchema":
    return cls(columns=tuple(value["columns"]), header=value["header"],
               delimiter=value["delimiter"], target=value["target"],
               kinds=tuple(value["kinds"]),
               categories={k: tuple(v) for k, v in
                           value["categories"].items()},
               class_names=(None if value["class_names"] is None
                            else tuple(value["class_names"])),
               task=value["task"], missing=tuple(value["missing"]),
               # Runs made before the field existed read UTF-8.
               encoding=value.get("encoding", "utf-8"))

  @property
  def feature_names(self) -> tuple[str, ...]:
    names = []
    for name, kind in zip(self.columns, self.kinds):
      if kind == "numeric":
        names.append(name)
      elif kind == "categorical":
        names.extend(f"{name}={c}" for c in self.categories[name])
    return tuple(names)


@dataclasses.dataclass(frozen=True, eq=False)
class CsvTable:
  """A CSV file read as features and targets.

  Attributes:
    features: float32 [N, D]; numeric columns as they are, categorical ones
      one-hot, in column order (`feature_names`).
    targets: int32 [N] labels in [0, C) (classification) or float32 [N].
    feature_names: D names.
    class_names: C class names (classification), else None.
    line_numbers: int64 [N], the 1-based line of each row in the file.
    dropped_lines: lines dropped for non-finite or missing values (with
      `drop_nonfinite=True`).
    target_name: name of the target column.
    path: the file.
    schema: the mapping, to read a validation or test file the same way.
  """
  features: np.ndarray
  targets: np.ndarray
  feature_names: tuple[str, ...]
  class_names: tuple[str, ...] | None
  line_numbers: np.ndarray
  dropped_lines: tuple[int, ...]
  target_name: str
  path: str
  schema: CsvSchema

  def __len__(self) -> int:
    return self.features.shape[0]


def _parse_number(cell: str) -> float | None:
  try:
    return float(cell)
  except ValueError:
    return None


def _sniff_delimiter(first_line: str) -> str | None:
  for delimiter in _AUTO_DELIMITERS:
    if delimiter in first_line:
      return delimiter
  return None


def path_problem(path: str) -> str | None:
  """Why `path` is not a regular file to read, or None when it is one.

  Looked up with `os.stat`, never opened: opening a FIFO would block.
  """
  try:
    mode = os.stat(path).st_mode
  except FileNotFoundError:
    return "does not exist"
  except OSError as e:
    return f"cannot be read ({e.strerror})"
  if stat.S_ISREG(mode):
    return None
  if stat.S_ISDIR(mode):
    return "is a directory"
  kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
          "a socket" if stat.S_ISSOCK(mode) else
          "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
          "not a regular file")
  return f"is {kind}, not a regular file"


def check_regular_file(path: str, what: str = "CSV file",
                       fix: str = "give the path of the file itself") -> None:
  """Raises naming `path` unless it is a regular file (never opens it).

  Raises:
    FileNotFoundError: it does not exist.
    IsADirectoryError: it is a directory.
    ValueError: it is a FIFO, socket, device or cannot be looked up.
  """
  problem = path_problem(path)
  if problem is None:
    return
  if problem == "does not exist":
    raise FileNotFoundError(f"{what} {path} does not exist.")
  if problem == "is a directory":
    raise IsADirectoryError(
        f"{what} {path} is a directory, expected a {what}: {fix}.")
  raise ValueError(f"{what} {path} {problem}, expected a {what}: {fix}.")


def check_encoding(encoding: Any, field: str = "encoding") -> str:
  """Returns `encoding` if Python can decode text with it; else raises."""
  if isinstance(encoding, str) and encoding.strip():
    try:  # A non-empty input: an empty one never looks the codec up.
      b"a".decode(encoding.strip())
      return encoding.strip()
    except UnicodeDecodeError:  # a text encoding (e.g. UTF-16)
      return encoding.strip()
    except LookupError:  # unknown, or bytes-to-bytes (base64)
      pass
  raise ValueError(
      f"{field} must name a text encoding Python knows, e.g. 'utf-8' "
      f"(the default), 'latin-1' or 'cp1252', got {encoding!r}.")


def _codec(encoding: str) -> str:
  """The codec that reads `encoding`: UTF-8 drops a byte-order mark."""
  name = codecs.lookup(encoding).name
  return "utf-8-sig" if name == "utf-8" else encoding


def _line_of(text: str, index: int) -> int:
  return text.count("\n", 0, index) + 1


def read_text(path: str, *, encoding: str = "utf-8", what: str = "CSV file",
              decode_fix: str | None = None) -> str:
  """The text of a CSV file, with errors that name the file and line.

  Args:
    path: the file; a directory, FIFO, socket or device is refused unopened.
    encoding: its text encoding; with UTF-8, a leading byte-order mark is
      dropped.
    what: what the file is, for the messages.
    decode_fix: the advice when a byte does not decode (default: set
      config.data.encoding to the file's encoding).

  Returns:
    The decoded text (newlines as in the file).

  Raises:
    FileNotFoundError, IsADirectoryError: as `check_regular_file`.
    ValueError: a byte the encoding cannot decode (file, line, byte), or
      NUL bytes (a binary file, not a text CSV).
  """
  check_regular_file(path, what)
  with open(path, "rb") as f:
    raw = f.read()
  codec = _codec(encoding)
  wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
  try:
    text = raw.decode(codec)
  except UnicodeDecodeError as e:
    if b"\0" in raw and not wide:
      line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
      raise ValueError(_binary_message(path, what, line)) from None
    line = raw[:e.start].decode(codec, errors="replace").count("\n") + 1
    fix = decode_fix or (
        "set config.data.encoding to the file's encoding (e.g. "
        "--config.data.encoding=latin-1 or cp1252), or save the file as "
        "UTF-8")
    raise ValueError(
        f"{path}:{line}: byte {raw[e.start]:#04x} is not valid {encoding} "
        f"text ({e.reason}); {fix}.") from None
  if "\0" in text:
    raise ValueError(_binary_message(path, what,
                                     _line_of(text, text.index("\0"))))
  return text


def _binary_message(path: str, what: str, line: int) -> str:
  return (f"{path} is not a text CSV: it holds NUL bytes (first on line "
          f"{line}), as a binary file does (a spreadsheet, archive or "
          f"array file); export the table as comma-separated text and read "
          f"that file instead.")


def _read_rows(path: str, delimiter: str | None, encoding: str = "utf-8",
               decode_fix: str | None = None
              ) -> tuple[list[list[str]], list[int], str | None]:
  """Returns the non-empty rows (cells stripped), their lines, delimiter."""
  text = read_text(path, encoding=encoding, decode_fix=decode_fix)
  if delimiter == "auto":
    first = next((l for l in text.splitlines() if l.strip()), "")
    delimiter = _sniff_delimiter(first)
  rows, lines = [], []
  if delimiter is None:
    for number, line in enumerate(text.splitlines(), 1):
      if line.strip():
        rows.append(line.split())
        lines.append(number)
  else:
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    start = 1
    for row in reader:
      if any(cell.strip() for cell in row):
        rows.append([cell.strip() for cell in row])
        lines.append(start)
      start = reader.line_num + 1
  if not rows:
    raise ValueError(f"CSV file {path} holds no rows.")
  width = len(rows[0])
  for row, line in zip(rows, lines):
    if len(row) != width:
      raise ValueError(
          f"{path}:{line}: expected {width} fields (as on line {lines[0]}), "
          f"found {len(row)}.")
  return rows, lines, delimiter


def _looks_like_header(rows: list[list[str]], missing: set[str]) -> bool:
  """A column with numbers below the first row and text in it."""
  if len(rows) < 2:
    return False
  first, rest = rows[0], rows[1:]
  for j, cell in enumerate(first):
    if cell in missing or _parse_number(cell) is not None:
      continue
    below = [r[j] for r in rest if r[j] not in missing]
    if below and all(_parse_number(c) is not None for c in below):
      return True
  return False


def _target_index(target: Any, columns: Sequence[str], header: bool,
                  path: str) -> int:
  """Resolves `target` (a name, or an index as int or digit string)."""
  width = len(columns)
  if isinstance(target, bool):
    raise ValueError(f"target must be a column name or index, got {target!r}.")
  if isinstance(target, str) and target in columns and header:
    return columns.index(target)
  index = target
  if isinstance(target, str):
    try:
      index = int(target)
    except ValueError:
      where = (f"its header names {list(columns)}" if header else
               "it has no header row (set header=True if it has one)")
      raise ValueError(
          f"target column {target!r} is not in {path}: {where}.") from None
  if not isinstance(index, (int, np.integer)) or not -width <= index < width:
    raise ValueError(
        f"target column index {target!r} is out of range for {path}, which "
        f"has {width} columns (0..{width - 1}, or -1 for the last).")
  return int(index) % width


def _column_index(key: Any, columns: Sequence[str], path: str) -> int:
  if isinstance(key, str) and key in columns:
    return columns.index(key)
  try:
    index = int(key)
  except (TypeError, ValueError):
    raise ValueError(
        f"categorical column {key!r} is not a column of {path} "
        f"({list(columns)}).") from None
  if not -len(columns) <= index < len(columns):
    raise ValueError(
        f"categorical column index {key!r} is out of range for {path}.")
  return index % len(columns)


def _class_order(values: Sequence[str]) -> tuple[str, ...]:
  distinct = set(values)
  try:
    as_int = {v: int(v) for v in distinct}
  except ValueError:
    return tuple(sorted(distinct))
  return tuple(sorted(distinct, key=lambda v: (as_int[v], v)))


def _infer_schema(path, rows, lines, *, target, task, header, delimiter,
                  missing, categorical, class_names,
                  encoding) -> tuple[CsvSchema, int]:
  """The schema of a training file; returns it and the first data row."""
  if header is None:
    header = ((isinstance(target, str) and not target.lstrip("-").isdigit())
              or _looks_like_header(rows, missing))
  width = len(rows[0])
  if header:
    columns = tuple(rows[0])
    if len(set(columns)) != width:
      raise ValueError(f"{path}:{lines[0]}: the header repeats a column name: "
                       f"{list(columns)}.")
  else:
    columns = tuple(f"column_{j}" for j in range(width))
  start = 1 if header else 0
  if start >= len(rows):
    raise ValueError(f"CSV file {path} has a header and no data rows.")
  data = rows[start:]
  t = _target_index(target, columns, header, path)
  forced = {_column_index(k, columns, path) for k in categorical}
  kinds, categories = [], {}
  for j, name in enumerate(columns):
    if j == t:
      kinds.append("target")
      continue
    present = [(r[j], n) for r, n in zip(data, lines[start:])
               if r[j] not in missing]
    numbers = [_parse_number(c) is not None for c, _ in present]
    if j in forced or not any(numbers):
      kinds.append("categorical")
      categories[name] = tuple(sorted({c for c, _ in present}))
    elif all(numbers):
      kinds.append("numeric")
    else:
      cell, line = next(p for p, ok in zip(present, numbers) if not ok)
      raise ValueError(
          f"{path}:{line}: column {name!r} (index {j}) holds numbers but "
          f"also {cell!r}. If {cell!r} marks a missing value, pass it as a "
          f"missing marker (missing={cell!r}); to one-hot the column, list "
          f"it as categorical.")
  if task == "classification":
    if class_names:
      names = tuple(str(c) for c in class_names)
      if len(set(names)) != len(names):
        raise ValueError(f"class_names has duplicates: {list(names)}.")
    else:
      names = _class_order([r[t] for r in data if r[t] not in missing])
      if not names:
        raise ValueError(f"{path}: the target column {columns[t]!r} is "
                         f"empty.")
  else:
    names = None
  schema = CsvSchema(columns=columns, header=bool(header),
                     delimiter=delimiter, target=t, kinds=tuple(kinds),
                     categories=categories, class_names=names, task=task,
                     missing=tuple(sorted(missing)), encoding=encoding)
  return schema, start


def _check_against(schema: CsvSchema, path: str, rows, lines) -> int:
  """Checks another file has the schema's columns; returns first data row."""
  width = len(schema.columns)
  if len(rows[0]) != width:
    raise ValueError(
        f"{path}:{lines[0]}: has {len(rows[0])} columns but the training "
        f"file has {width} ({list(schema.columns)}).")
  if schema.header:
    if tuple(rows[0]) != schema.columns:
      raise ValueError(
          f"{path}:{lines[0]}: header {rows[0]} differs from the training "
          f"file's {list(schema.columns)}.")
    return 1
  return 0


def _encode(schema: CsvSchema, path: str, rows, lines, start: int):
  """Returns features, targets, line numbers and bad (line, column, cell)."""
  data, data_lines = rows[start:], lines[start:]
  n = len(data)
  blocks, bad = [], {}
  missing = set(schema.missing)

  def flag(i, j, cell):
    bad.setdefault(i, (data_lines[i], schema.columns[j], j, cell))

  for j, (name, kind) in enumerate(zip(schema.columns, schema.kinds)):
    column = [r[j] for r in data]
    if kind == "numeric":
      values = np.empty((n, 1), np.float64)
      for i, cell in enumerate(column):
        value = math.nan if cell in missing else _parse_number(cell)
        if value is None:
          raise ValueError(
              f"{path}:{data_lines[i]}: column {name!r} (index {j}) is "
              f"numeric but holds {cell!r}; pass missing={cell!r} if it "
              f"marks a missing value.")
        if not math.isfinite(value):
          flag(i, j, cell)
        values[i, 0] = value
      blocks.append(values)
    elif kind == "categorical":
      cats = schema.categories[name]
      index = {c: k for k, c in enumerate(cats)}
      onehot = np.zeros((n, len(cats)), np.float64)
      for i, cell in enumerate(column):
        if cell in missing:
          continue
        if cell not in index:
          raise ValueError(
              f"{path}:{data_lines[i]}: column {name!r} has category "
              f"{cell!r}, which the training file does not have "
              f"({list(cats)}).")
        onehot[i, index[cell]] = 1.0
      blocks.append(onehot)
  t = schema.target
  if schema.task == "classification":
    label_of = {c: k for k, c in enumerate(schema.class_names)}
    targets = np.zeros((n,), np.int64)
    for i, row in enumerate(data):
      cell = row[t]
      if cell in missing:
        flag(i, t, cell)
        continue
      if cell not in label_of:
        shown = list(schema.class_names)
        shown = shown if len(shown) <= 20 else shown[:20] + ["..."]
        raise ValueError(
            f"{path}:{data_lines[i]}: class {cell!r} in target column "
            f"{schema.columns[t]!r} is not one of the {len(label_of)} "
            f"classes {shown} (those of the training file or class_names).")
      targets[i] = label_of[cell]
  else:
    targets = np.empty((n,), np.float64)
    for i, row in enumerate(data):
      cell = row[t]
      value = math.nan if cell in missing else _parse_number(cell)
      if value is None:
        raise ValueError(
            f"{path}:{data_lines[i]}: target column {schema.columns[t]!r} "
            f"holds {cell!r}, not a number.")
      if not math.isfinite(value):
        flag(i, t, cell)
      targets[i] = value
  features = (np.concatenate(blocks, axis=1) if blocks else
              np.zeros((n, 0), np.float64))
  return features, targets, np.asarray(data_lines, np.int64), bad


def read_csv_table(path: str, *, target: Any,
                   task: str = "classification",
                   missing: str | Sequence[str] = "",
                   drop_nonfinite: bool = False,
                   categorical: Sequence[Any] = (),
                   header: bool | None = None,
                   delimiter: str | None = ",",
                   class_names: Sequence[str] | None = None,
                   encoding: str = "utf-8",
                   schema: CsvSchema | None = None) -> CsvTable:
  """Reads a CSV file of features and one target column.

  Args:
    path: the file.
    target: the target column: a header name, or a 0-based index (int or
      digit string; negative counts from the end).
    task: "classification" (int labels and class names) or "regression"
      (float targets).
    missing: marker(s) of a missing cell besides the empty cell (which is
      always missing): e.g. "?", "NA,?" (comma-separated) or ("NA", "?").
    drop_nonfinite: drop rows with a non-finite (NaN, inf, missing) numeric
      feature or target, logging them, instead of raising.
    categorical: columns (names or indices) to one-hot even if numeric.
    header: whether the first row is a header; None detects it.
    delimiter: the field delimiter; "auto" picks `,`, tab or `;` from the
      first line, else whitespace; None splits on whitespace.
    class_names: classification: the label order (default: the sorted
      distinct target values, numerically when they are integers).
    encoding: the file's text encoding (e.g. "latin-1"); with UTF-8 (the
      default) a leading byte-order mark is dropped.
    schema: the `schema` of the training file, to read a validation or test
      file the same way (then target, task, missing, categorical, header,
      delimiter, class_names and encoding come from it).

  Returns:
    A `CsvTable`: float32 features [N, D], targets (int32 [N] or float32
    [N]), feature names, class names, the line number of every row.

  Raises:
    FileNotFoundError: the file is missing.
    IsADirectoryError: the path is a directory.
    ValueError: naming the file and line: not a regular file, a byte the
      encoding cannot decode, a binary file, ragged rows, an unknown target
      column, a text cell in a numeric column, a non-finite value (without
      `drop_nonfinite`), a category or class the training file lacks.

  Example:
    >>> table = read_csv_table("abalone.data", target=-1, task="regression")
    >>> table.features.shape, table.feature_names[:3]
    ((4177, 10), ('column_0=F', 'column_0=I', 'column_0=M'))
  """
  if schema is None:
    if task not in TASKS:
      raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}.")
    markers = missing.split(",") if isinstance(missing, str) else missing
    markers = {str(m).strip() for m in markers} | {""}
    if isinstance(categorical, str):
      categorical = [c for c in categorical.split(",") if c.strip()]
    encoding = check_encoding(encoding)
    rows, lines, delimiter = _read_rows(path, delimiter, encoding)
    schema, start = _infer_schema(
        path, rows, lines, target=target, task=task, header=header,
        delimiter=delimiter, missing=markers, categorical=categorical,
        class_names=class_names, encoding=encoding)
  else:
    rows, lines, _ = _read_rows(path, schema.delimiter, schema.encoding)
    start = _check_against(schema, path, rows, lines)
    if start >= len(rows):
      raise ValueError(f"CSV file {path} has a header and no data rows.")
  features, targets, line_numbers, bad = _encode(schema, path, rows, lines,
                                                 start)
  dropped = ()
  if bad:
    first = [bad[i] for i in sorted(bad)[:5]]
    where = "; ".join(f"line {l} column {c!r} (index {j}): {v!r}"
                      for l, c, j, v in first)
    if not drop_nonfinite:
      raise ValueError(
          f"{path}: {len(bad)} row(s) have a non-finite or missing value "
          f"(markers {list(schema.missing)}) in a numeric feature or the "
          f"target; first: {where}. Fix the file, or set drop_nonfinite=True"
          f" to drop those rows (they are logged).")
    keep = np.ones(len(line_numbers), bool)
    keep[sorted(bad)] = False
    dropped = tuple(int(l) for l in line_numbers[~keep])
    logging.warning(
        "%s: dropped %d row(s) with a non-finite or missing value "
        "(drop_nonfinite=True); lines %s%s. First: %s.", path, len(dropped),
        list(dropped[:20]), " ..." if len(dropped) > 20 else "", where)
    features, targets = features[keep], targets[keep]
    line_numbers = line_numbers[keep]
    if not len(line_numbers):
      raise ValueError(f"{path}: every row was dropped (drop_nonfinite).")
  features = features.astype(np.float32)
  if not np.all(np.isfinite(features)):
    i, j = np.argwhere(~np.isfinite(features))[0]
    raise ValueError(
        f"{path}:{line_numbers[i]}: feature {schema.feature_names[j]!r} "
        f"overflows float32.")
  if schema.task == "classification":
    targets = targets.astype(np.int32)
  else:
    targets = targets.astype(np.float32)
    if not np.all(np.isfinite(targets)):
      i = int(np.flatnonzero(~np.isfinite(targets))[0])
      raise ValueError(
          f"{path}:{line_numbers[i]}: target overflows float32.")
  return CsvTable(
      features=features, targets=targets,
      feature_names=schema.feature_names, class_names=schema.class_names,
      line_numbers=line_numbers, dropped_lines=dropped,
      target_name=schema.columns[schema.target], path=os.path.abspath(path),
      schema=schema)


def read_csv_features(path: str, schema: CsvSchema
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
  """Reads a file of new rows the training file's way; the target optional.

  The file has the training file's columns (and header, if it had one),
  with or without the target column, in the training file's encoding.

  Args:
    path: the file.
    schema: the training file's `CsvSchema`.

  Returns:
    (float32 features [N, D], the targets [N] or None when the file has no
    target column, int64 line numbers [N]).

  Raises:
    ValueError: naming the file and line: other columns, a text cell in a
      numeric column, an unknown category, a missing or non-finite value.
  """
  rows, lines, _ = _read_rows(
      path, schema.delimiter, schema.encoding,
      decode_fix=(f"the run read its training file as {schema.encoding} "
                  f"(its config.data.encoding): save the new rows in that "
                  f"encoding"))
  without = [c for i, c in enumerate(schema.columns) if i != schema.target]
  first = tuple(rows[0])
  has_target = (first == schema.columns if schema.header
                else len(first) == len(schema.columns))
  if not has_target:
    if (schema.header and first != tuple(without)) or (
        not schema.header and len(first) != len(without)):
      raise ValueError(
          f"{path}:{lines[0]}: expected the training file's columns "
          f"{list(schema.columns)}, with or without the target column "
          f"{schema.columns[schema.target]!r}; got "
          f"{list(first) if schema.header else f'{len(first)} columns'}.")
    # A placeholder target (a known class, or 0), dropped below.
    filler = (schema.class_names[0] if schema.task == "classification"
              else "0")
    rows = [r if (schema.header and k == 0) else
            r[:schema.target] + [filler] + r[schema.target:]
            for k, r in enumerate(rows)]
    if schema.header:
      rows[0] = list(schema.columns)
  start = _check_against(schema, path, rows, lines)
  features, targets, line_numbers, bad = _encode(schema, path, rows, lines,
                                                 start)
  bad = {i: v for i, v in bad.items()
         if has_target or v[2] != schema.target}
  if bad:
    line, column, _, cell = bad[min(bad)]
    raise ValueError(
        f"{path}:{line}: column {column!r} holds {cell!r}, a missing or "
        f"non-finite value; the model needs every feature.")
  features = features.astype(np.float32)
  targets = np.asarray(targets) if has_target else None
  if targets is not None and schema.task == "classification":
    targets = targets.astype(np.int32)
  return features, targets, np.asarray(line_numbers, np.int64)
