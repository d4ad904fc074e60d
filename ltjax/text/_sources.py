"""Readers of text-classification corpora into Python and NumPy data.

Pure readers: they return texts (str) and labels (NumPy), nothing on a
device. A corpus is a `TextData`:

  data.texts         N str
  data.pair_texts    N str (the second text of a pair, e.g. STS-B's
                     sentence2), or None
  data.labels        int32 [N] in [0, C) (classes), or float32 [N] (a
                     regression target)
  data.class_names   the C class names (label c is class_names[c]); () for
                     float targets

`read_imdb(root)` reads the Large Movie Review Dataset as distributed
(`aclImdb/{train,test}/{neg,pos}/*.txt`); `read_text_csv(path, text=...,
target=...)` reads a CSV or TSV file (plain, `.gz` or `.bz2`) with a text
column, a label column and an optional second text column.
`keep_fraction(labels, {0: 0.1}, seed=s)` draws the indices of a seeded
subsample that keeps a fraction of some classes (the imbalanced-IMDB
protocol of LDAM-DRW, arXiv 1906.07413, keeps 10% of the negative training
reviews), and `take(data, indices)` / `select_classes(data, names)` cut a
`TextData` down.
"""

import bz2
import csv
import dataclasses
import gzip
import io
import math
import os
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

IMDB_CLASSES = ("neg", "pos")
IMDB_SPLITS = ("train", "test")
TARGET_KINDS = ("class", "float")
_FIELD_SIZE_LIMIT = 2**31 - 1


@dataclasses.dataclass(frozen=True, eq=False)
class TextData:
  """Texts and their labels (see the module docstring for the fields)."""
  texts: tuple[str, ...]
  labels: np.ndarray
  class_names: tuple[str, ...] = ()
  pair_texts: tuple[str, ...] | None = None

  def __post_init__(self):
    n = len(self.texts)
    if self.labels.shape != (n,):
      raise ValueError(
          f"labels must have shape [{n}] (one per text), got "
          f"{self.labels.shape}.")
    if self.pair_texts is not None and len(self.pair_texts) != n:
      raise ValueError(
          f"pair_texts must hold {n} texts (one per text), got "
          f"{len(self.pair_texts)}.")

  def __len__(self) -> int:
    return len(self.texts)


def _imdb_folder(root: str) -> str:
  """`root` itself if it holds train/ or test/, else root/aclImdb."""
  if any(os.path.isdir(os.path.join(root, s)) for s in IMDB_SPLITS):
    return root
  nested = os.path.join(root, "aclImdb")
  if os.path.isdir(nested):
    return nested
  raise FileNotFoundError(
      f"No IMDB reviews at {root!r}: expected {root}/aclImdb/train/pos/*.txt "
      "(or root itself being the aclImdb folder), as in aclImdb_v1.tar.gz.")


def read_imdb(root: str, *,
              splits: Sequence[str] = IMDB_SPLITS) -> dict[str, TextData]:
  """Reads the Large Movie Review Dataset (IMDB) from its extracted archive.

  The layout of aclImdb_v1.tar.gz: `aclImdb/<split>/<class>/<id>_<rating>.txt`
  with class "neg" (label 0) or "pos" (label 1). Within a split the
  negative reviews come first, then the positive ones, each class's files
  sorted by name (as strings), so the order is the same on every machine.
  Other files and folders (`unsup/`, `*.feat`, `urls_*.txt`) are ignored.
  The texts are returned as written (UTF-8), `<br />` tags included.

  Args:
    root: the folder holding `aclImdb/`, or the `aclImdb` folder itself.
    splits: which splits to read, from ("train", "test").

  Returns:
    {split: TextData} with int32 labels and class_names ("neg", "pos")
    (25,000 reviews per split in the full dataset).

  References:
    Maas et al., Learning Word Vectors for Sentiment Analysis, ACL 2011.
  """
  folder = _imdb_folder(os.fspath(root))
  if isinstance(splits, str):
    splits = (splits,)
  result = {}
  for split in splits:
    if split not in IMDB_SPLITS:
      raise ValueError(
          f"Unknown IMDB split {split!r}; known splits: "
          f"{', '.join(IMDB_SPLITS)}.")
    texts, labels = [], []
    for label, name in enumerate(IMDB_CLASSES):
      class_dir = os.path.join(folder, split, name)
      if not os.path.isdir(class_dir):
        raise FileNotFoundError(
            f"No folder {class_dir!r}: an IMDB split holds neg/ and pos/.")
      files = sorted(f for f in os.listdir(class_dir) if f.endswith(".txt"))
      for file in files:
        with open(os.path.join(class_dir, file), encoding="utf-8") as f:
          texts.append(f.read())
      labels += [label] * len(files)
    result[split] = TextData(texts=tuple(texts),
                             labels=np.asarray(labels, np.int32),
                             class_names=IMDB_CLASSES)
  return result


def _open_text(path: str) -> io.TextIOBase:
  """Opens a plain, `.gz` or `.bz2` file as UTF-8 text (BOM dropped)."""
  kwargs = dict(encoding="utf-8-sig", newline="")
  if path.endswith(".gz"):
    return gzip.open(path, "rt", **kwargs)
  if path.endswith(".bz2"):
    return bz2.open(path, "rt", **kwargs)
  return open(path, "rt", **kwargs)


def _default_delimiter(path: str) -> str:
  stem = path.removesuffix(".gz").removesuffix(".bz2")
  return "\t" if stem.endswith(".tsv") else ","


def _rows(path: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
  """(first line number, cells) of every row; a TSV file has no quoting."""
  quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
  # Review corpora may hold cells longer than csv's default limit (128 KiB);
  # the process-wide limit is raised while reading and then restored.
  limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
  try:
    with _open_text(path) as f:
      reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
      start = 1
      try:
        for cells in reader:
          yield start, cells
          start = reader.line_num + 1
      except csv.Error as e:
        raise ValueError(f"{path}, line {reader.line_num}: {e}") from None
  finally:
    csv.field_size_limit(limit)


class MissingColumnError(ValueError):
  """A named column is not in the file's header.

  Attributes:
    role: which argument named it ("text", "target" or "text_pair").
    column: the name asked for.
    header: the columns present.
  """

  def __init__(self, message: str, *, role: str, column: str,
               header: list[str]):
    super().__init__(message)
    self.role, self.column, self.header = role, column, list(header)


def _column(header: list[str], name: str, role: str, path: str) -> int:
  if name not in header:
    raise MissingColumnError(
        f"{path} has no column {name!r} (the {role} column); the columns "
        f"present are {header}.", role=role, column=name, header=header)
  return header.index(name)


def _float_targets(values: list[str], lines: list[int], path: str,
                   column: str) -> np.ndarray:
  targets = np.empty(len(values), np.float32)
  for i, (value, line) in enumerate(zip(values, lines)):
    try:
      targets[i] = float(value)
    except ValueError:
      raise ValueError(
          f"{path}, line {line}: column {column!r} holds {value!r}, not a "
          "number (target_kind='float').") from None
    if not math.isfinite(targets[i]):
      raise ValueError(
          f"{path}, line {line}: column {column!r} holds a non-finite target "
          f"{value!r}.")
  return targets


def _class_labels(values: list[str], lines: list[int], path: str, column: str,
                  class_names: Sequence[str] | None
                  ) -> tuple[np.ndarray, tuple[str, ...]]:
  if class_names is None:
    class_names = tuple(sorted(set(values)))
  else:
    class_names = tuple(class_names)
    if len(set(class_names)) != len(class_names):
      raise ValueError(f"class_names repeat a name: {class_names}.")
  index = {name: c for c, name in enumerate(class_names)}
  for value, line in zip(values, lines):
    if value not in index:
      raise ValueError(
          f"{path}, line {line}: column {column!r} holds class {value!r}, "
          f"not one of class_names {class_names}.")
  labels = np.asarray([index[v] for v in values], np.int32)
  return labels, class_names


def read_text_csv(path: str, *, text: str, target: str,
                  text_pair: str | None = None, target_kind: str = "class",
                  class_names: Sequence[str] | None = None,
                  delimiter: str | None = None) -> TextData:
  """Reads texts and their labels (or targets) from a delimited file.

  The file has a header row naming its columns, and is UTF-8 (a leading
  byte-order mark is dropped); a name ending in `.gz` or `.bz2` is read
  through that decompressor. Cells follow the CSV rules of Python's `csv`
  (quoted cells may hold the delimiter and line breaks), except in a TSV file
  (delimiter tab), which has no quoting: a `"` is an ordinary character, as
  in the GLUE files. Columns other than the named ones are ignored.

  Args:
    path: a `.csv` or `.tsv` file, optionally `.gz` or `.bz2` compressed.
    text: the name of the text column.
    target: the name of the label column.
    text_pair: the name of a second text column (sentence pairs), or None.
    target_kind: "class": the labels are class names, mapped to ids by their
      index in `class_names`; "float": the labels are numbers (regression
      targets, e.g. STS-B's similarity score), returned as float32.
    class_names: for "class", the classes in label order; None takes the
      sorted distinct values of the column. Pass the training file's
      `class_names` when reading its test file, so ids agree.
    delimiter: one character; None is tab for a `.tsv[.gz|.bz2]` name, else
      ",".

  Returns:
    A `TextData` with one entry per data row, in file order.

  Raises:
    MissingColumnError: (a ValueError) a named column is missing (the
      message names the file, the column and the columns present).
    ValueError: a row has too few cells, a class is not in `class_names`,
      or a float target does not parse.
  """
  path = os.fspath(path)
  if target_kind not in TARGET_KINDS:
    raise ValueError(
        f"Unknown target_kind {target_kind!r}; known kinds: "
        f"{', '.join(TARGET_KINDS)}.")
  if target_kind == "float" and class_names is not None:
    raise ValueError("class_names is for target_kind='class' only.")
  delimiter = _default_delimiter(path) if delimiter is None else delimiter
  rows = _rows(path, delimiter)
  try:
    _, header = next(rows)
  except StopIteration:
    raise ValueError(f"{path} is empty: no header row.") from None
  wanted = {"text": text, "target": target}
  if text_pair is not None:
    wanted["text_pair"] = text_pair
  columns = {role: _column(header, name, role, path)
             for role, name in wanted.items()}
  needed = max(columns.values()) + 1
  cells = {role: [] for role in columns}
  lines = []
  for line, row in rows:
    if not row:
      continue  # A blank line.
    if len(row) < needed:
      raise ValueError(
          f"{path}, line {line}: {len(row)} cells, but column "
          f"{header[needed - 1]!r} is number {needed}.")
    for role, c in columns.items():
      cells[role].append(row[c])
    lines.append(line)
  if target_kind == "float":
    labels = _float_targets(cells["target"], lines, path, target)
    names = ()
  else:
    labels, names = _class_labels(cells["target"], lines, path, target,
                                  class_names)
  pair = tuple(cells["text_pair"]) if text_pair is not None else None
  return TextData(texts=tuple(cells["text"]), labels=labels,
                  class_names=names, pair_texts=pair)


def keep_fraction(labels: Any, fractions: Mapping[int, float], *,
                  seed: int) -> np.ndarray:
  """Draws a seeded subsample keeping a fraction of some classes.

  Class c in `fractions` keeps round(fractions[c] * n_c) of its n_c examples
  (halves round up), drawn without replacement by a generator seeded with
  (seed, c), so one class's draw does not depend on the other classes;
  every example of the other classes is kept.

  Args:
    labels: int [N], the class of each example.
    fractions: {class id: fraction kept in [0, 1]}; e.g. {0: 0.1} keeps 10%
      of IMDB's negative training reviews (LDAM-DRW's imbalanced IMDB).
    seed: the draw's seed.

  Returns:
    int64 [M] indices into labels, ascending (so the kept examples keep their
    order).

  Example:
    >>> kept = keep_fraction(imdb["train"].labels, {0: 0.1}, seed=0)
    >>> train = take(imdb["train"], kept)   # 1,250 neg, 12,500 pos

  References:
    Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
  """
  labels = np.asarray(labels)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
        f"labels must be int [N], got dtype {labels.dtype} and shape "
        f"{labels.shape}.")
  keep = np.ones(labels.shape, bool)
  for c, fraction in sorted(fractions.items()):
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
      raise ValueError(f"Class ids must be ints >= 0, got {c!r}.")
    if not 0.0 <= fraction <= 1.0:
      raise ValueError(
          f"fractions[{c}] must lie in [0, 1], got {fraction!r}.")
    members = np.flatnonzero(labels == c)
    count = math.floor(fraction * len(members) + 0.5)
    rng = np.random.default_rng([seed, int(c)])
    chosen = rng.choice(members, size=count, replace=False)
    keep[members] = False
    keep[chosen] = True
  return np.flatnonzero(keep)


def take(data: TextData, indices: Any) -> TextData:
  """The examples `indices` (int [M]) of `data`, in that order."""
  indices = np.asarray(indices, np.int64)
  if indices.ndim != 1:
    raise ValueError(f"indices must be int [M], got shape {indices.shape}.")
  texts = tuple(data.texts[i] for i in indices)
  pair = (None if data.pair_texts is None
          else tuple(data.pair_texts[i] for i in indices))
  return dataclasses.replace(data, texts=texts, labels=data.labels[indices],
                             pair_texts=pair)


def select_classes(data: TextData, names: Sequence[str]) -> TextData:
  """Keeps the examples of the classes `names`, relabelled in that order.

  E.g. `select_classes(rt, ("rotten", "fresh"))` drops the Rotten Tomatoes
  "plot" rows and gives rotten label 0, fresh label 1.

  Args:
    data: a `TextData` with class labels.
    names: class names of `data`, distinct; label c of the result is
      names[c].

  Returns:
    A `TextData` of the examples of those classes, in their original order.
  """
  if not np.issubdtype(data.labels.dtype, np.integer):
    raise ValueError("select_classes needs class labels, not float targets.")
  names = tuple(names)
  missing = [n for n in names if n not in data.class_names]
  if missing or len(set(names)) != len(names):
    raise ValueError(
        f"names must be distinct classes of the data {data.class_names}, got "
        f"{names}.")
  old_to_new = np.full(len(data.class_names), -1, np.int32)
  for new, name in enumerate(names):
    old_to_new[data.class_names.index(name)] = new
  relabelled = old_to_new[data.labels]
  kept = take(data, np.flatnonzero(relabelled >= 0))
  return dataclasses.replace(kept, labels=relabelled[relabelled >= 0],
                             class_names=names)
