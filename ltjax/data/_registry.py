"""The dataset registry: `load_dataset(config) -> LongTailedDataset`.

`config` is an `ml_collections.ConfigDict` (or a dict, or any object with the
fields as attributes) with the fields of `default_data_config(name)`; fields
it lacks take those defaults. A long-tailed dataset is built in three steps:

1. A source gives the full splits. `source="auto"` reads `path` in the
   format it is in (CIFAR python tarball or folder, image folder or tarball,
   MNIST IDX folder, list files); with `path=""` it uses the official files
   already downloaded into `data_dir`, else a TFDS copy prepared there, else
   downloads the official files into `data_dir`. Names `folder`, `list`,
   `csv` and `tfds` read your own data (README, "Your own data").
2. The training split is cut to the long-tailed profile (`exp` / `step`, with
   n_max = the smallest per-class training count: 5,000 for CIFAR-10, 500 for
   CIFAR-100, 5,421 for MNIST) by the seeded protocol of Cao et al.; `given`
   keeps it as it is (ImageNet-LT and Places-LT lists are already
   long-tailed), less the validation examples held out from it when the
   source has no validation split of its own (at most half of each class,
   so no class is emptied).
3. The validation split is the official one where there is one (the
   ImageNet-LT / Places-LT val lists, an image folder's `val/`), otherwise
   `val_per_class` seeded examples of each class drawn from the training
   images the long-tailed subset left unused, so the training set stays
   exactly the papers'. A head class keeps all its images (n_0 = n_max), so it
   has none to spare: its validation examples are fewer than `val_per_class`
   (none for CIFAR's class 0), which is logged and recorded in
   `metadata["val"]["class_counts"]`.
"""

import collections.abc
import dataclasses
import os
import tarfile
from typing import Any, Callable
import zlib

from absl import logging
import ml_collections
import numpy as np

from ltjax.data import _archives
from ltjax.data import _cifar
from ltjax.data import _csv
from ltjax.data import _download
from ltjax.data import _folder
from ltjax.data import _idx
from ltjax.data import _images
from ltjax.data import _lists
from ltjax.data import _profiles
from ltjax.data import _splits
from ltjax.data import _tfds
from ltjax.data import _types

SOURCES = ("auto", "tfds", "download", "pickle", "folder", "idx", "list")
IMBALANCE_PROFILES = _profiles.PROFILES + ("given",)
# What to do for a class whose unused training images are fewer than
# val_per_class (the head class of CIFAR-LT keeps all its images): "skip"
# keeps the papers' training set exactly and gives that class fewer (or no)
# validation images; "from_train" moves the shortfall from that class's
# training images to validation (the head class trains on n_max - shortfall).
VAL_SHORTFALL = ("skip", "from_train")
# How the split sizes of CIFAR / MNIST copies are checked (see
# default_data_config).
SPLIT_SIZES = ("auto", "official", "any")
# MNIST's official images per digit (LeCun et al.; 60,000 and 10,000).
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                      5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                       "frog", "horse", "ship", "truck")

# Every field load_dataset reads, with its generic default.
_COMMON_FIELDS = {
    "name": "",
    "path": "",
    "data_dir": "",
    "source": "auto",
    "imbalance_ratio": 100.0,
    "imbalance_profile": "exp",
    "subset_seed": 0,
    "val_per_class": 50,
    "val_seed": 0,
    "val_shortfall": "skip",
    "image_size": 224,
    "train_list": "",
    "val_list": "",
    "test_list": "",
    "class_counts_file": "",
    "class_names": (),
    "num_workers": 0,
    "download_timeout": 10.0,
    "split_sizes": "auto",
    # Read by name="tfds" only (refused elsewhere); common so that an image
    # config's command line can switch to `--config.data.name=tfds`.
    "tfds_name": "",
    "tfds_train_split": "train",
    "tfds_val_split": "",
    "tfds_test_split": "test",
}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """How to build one registered dataset.

  Attributes:
    load: `(name, spec, fields) -> LongTailedDataset`.
    sources: the `source` values it accepts.
    defaults: its defaults for the config fields (on top of the common ones).
    num_classes: classes a source must have (None: any).
    download: key of `_download.DOWNLOADS` for the official files, or None.
    tfds: TFDS name, or None.
    local_formats: what `path` may point to, for error messages.
    official_counts: the official splits' images per class, {"train": [C],
      "test": [C]}, checked as config field `split_sizes` says; None for a
      dataset without official splits.
    check: validates its own config fields in place (naming the field).
  """
  load: Callable[..., _types.LongTailedDataset]
  sources: tuple[str, ...]
  defaults: dict[str, Any]
  num_classes: int | None = None
  download: str | None = None
  tfds: str | None = None
  local_formats: tuple[str, ...] = ()
  official_counts: dict[str, tuple[int, ...]] | None = None
  check: Callable[[dict[str, Any]], None] | None = None


# ---------------------------------------------------------------------------
# Config fields.


def _get(config: Any, key: str, default: Any) -> Any:
  if isinstance(config, (collections.abc.Mapping, ml_collections.ConfigDict)):
    return config[key] if key in config else default
  return getattr(config, key, default)


def _known_fields(config: Any) -> set[str] | None:
  if isinstance(config, (collections.abc.Mapping, ml_collections.ConfigDict)):
    return set(config.keys())
  return None


def _check_int(fields: dict[str, Any], key: str, minimum: int) -> None:
  value = fields[key]
  try:
    ok = not isinstance(value, bool) and int(value) == value >= minimum
  except (TypeError, ValueError):
    ok = False
  if not ok:
    raise ValueError(
        f"config field {key} must be an integer >= {minimum}, got {value!r}.")
  fields[key] = int(value)


def _check_fields(fields: dict[str, Any], spec: DatasetSpec) -> None:
  """Validates the resolved fields in place, naming the field at fault."""
  name = fields["name"]
  if fields["source"] not in spec.sources:
    raise ValueError(
        f"config field source={fields['source']!r} is not available for "
        f"{name}; use one of {list(spec.sources)}.")
  if fields["imbalance_profile"] not in IMBALANCE_PROFILES:
    raise ValueError(
        f"config field imbalance_profile must be one of "
        f"{list(IMBALANCE_PROFILES)}, got {fields['imbalance_profile']!r}.")
  ratio = fields["imbalance_ratio"]
  if (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or
      not np.isfinite(ratio) or ratio < 1):
    raise ValueError(
        f"config field imbalance_ratio (n_max / n_min) must be a number >= 1, "
        f"got {ratio!r}; the usual CIFAR-LT values are 10, 50, 100, 200.")
  fields["imbalance_ratio"] = float(ratio)
  if fields["split_sizes"] not in SPLIT_SIZES:
    raise ValueError(
        f"config field split_sizes must be one of {list(SPLIT_SIZES)}, got "
        f"{fields['split_sizes']!r}.")
  if fields["split_sizes"] == "official" and spec.official_counts is None:
    raise ValueError(
        f"config field split_sizes='official': {name} has no official split "
        f"sizes to check; use 'auto' or 'any'.")
  if fields["val_shortfall"] not in VAL_SHORTFALL:
    raise ValueError(
        f"config field val_shortfall must be one of {list(VAL_SHORTFALL)}, "
        f"got {fields['val_shortfall']!r}.")
  for key, minimum in (("subset_seed", 0), ("val_per_class", 0),
                       ("val_seed", 0), ("image_size", 1),
                       ("num_workers", 0)):
    _check_int(fields, key, minimum)
  timeout = fields["download_timeout"]
  if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or
      not timeout > 0):
    raise ValueError(
        f"config field download_timeout must be > 0 seconds, got "
        f"{fields['download_timeout']!r}.")
  names = fields["class_names"]
  if isinstance(names, str):
    names = [n.strip() for n in names.split(",") if n.strip()]
  fields["class_names"] = tuple(str(n).strip() for n in names
                                if str(n).strip())
  if len(set(fields["class_names"])) != len(fields["class_names"]):
    raise ValueError(
        f"config field class_names has duplicates: {fields['class_names']}.")
  for key in ("path", "data_dir", "train_list", "val_list", "test_list",
              "class_counts_file"):
    fields[key] = os.path.expanduser(str(fields[key] or ""))
  if name != "tfds":
    for key in _TFDS_FIELDS:
      if fields[key] != _COMMON_FIELDS[key]:
        raise ValueError(
            f"config field {key}={fields[key]!r} is only read by "
            f"name='tfds', not {name!r}.")
  if spec.check is not None:
    spec.check(fields)


def _resolve_fields(config: Any) -> tuple[DatasetSpec, dict[str, Any]]:
  name = _get(config, "name", "")
  if name not in DATASETS:
    raise ValueError(
        f"unknown dataset name {name!r} (config field name); known: "
        f"{sorted(DATASETS)}.")
  spec = DATASETS[name]
  defaults = default_data_config(name)
  given = _known_fields(config)
  if given is not None and given - set(defaults.keys()):
    raise ValueError(
        f"unknown data config field(s) {sorted(given - set(defaults.keys()))}"
        f"; the fields are {sorted(defaults.keys())}.")
  fields = {k: _get(config, k, v) for k, v in defaults.items()}
  _check_fields(fields, spec)
  return spec, fields


def validate_data_config(config: Any) -> None:
  """Checks a data config's fields without reading any data.

  Run at start-up, before anything is compiled: an unknown name, an unknown
  field or a bad value raises a `ValueError` naming the field. Whether files
  exist is only known when `load_dataset` reads them.

  Args:
    config: as for `load_dataset`.
  """
  _resolve_fields(config)


def default_data_config(name: str) -> ml_collections.ConfigDict:
  """Returns the data config of dataset `name` with its defaults.

  Fields:
    name: registry name (a key of `DATASETS`).
    path: local copy to read ("" = the official files in `data_dir`,
      downloaded if absent, or a TFDS copy prepared there). For list datasets,
      the folder the listed image paths are relative to.
    data_dir: where downloads go and TFDS copies are looked for ("" =
      `$LTJAX_DATA_DIR` or `~/.cache/ltjax` for downloads; for TFDS,
      `$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
    source: "auto" | "tfds" | "download" | "pickle" | "folder" | "idx" |
      "list".
    imbalance_ratio: rho = n_max / n_min, >= 1.
    imbalance_profile: "exp" | "step" | "given" (keep the training split).
    subset_seed: seed of the long-tailed subset (0 = the original's).
    val_per_class: validation examples per class held out from the unused
      training images (CIFAR-10, MNIST: 50; CIFAR-100: 20, so that all but
      the head class get a full share at rho = 100); 0 = no validation split.
      Ignored where an official validation split exists. With the `given`
      profile they come out of the training split, at most half of each
      class (a class of n images gives min(val_per_class, n // 2)).
    val_seed: seed of the validation split.
    val_shortfall: "skip" | "from_train", for classes with fewer unused
      training images than val_per_class (CIFAR-LT's head class has none):
      "skip" keeps the papers' training set exactly and leaves those classes
      short in validation (their validation accuracy is NaN and balanced
      validation accuracy averages the other classes); "from_train" moves
      the shortfall out of the training subset into validation, so
      validation is balanced and the head class trains on n_max minus the
      shortfall (5,000 -> 4,950 for CIFAR-10-LT).
    image_size: crop side of streamed (list) datasets.
    train_list, val_list, test_list: `path label` files, absolute or
      relative to `path` (list datasets). The classes are 0..C-1 with C from
      the training list's largest label (or class_counts_file, or
      class_names); a val or test label >= C is an error naming its line.
    class_counts_file: optional file of training counts, one per line; must
      match the training list.
    class_names: label order of image folders ("" / () = sorted folder
      names); for list datasets, the names of labels 0..C-1 (C may exceed
      the training list's labels; default: the images' parent folders); for
      other sources, a check of the source's names.
    num_workers: image-decoding threads (0 = from the CPU count).
    download_timeout: seconds allowed per network step of a download.
    split_sizes: how a CIFAR / MNIST copy's split sizes are checked against
      the official ones (CIFAR-10: 5,000 train / 1,000 test images per
      class; CIFAR-100: 500 / 100; MNIST: 60,000 / 10,000 with the published
      per-class counts). "official": every class of train and test must
      have its official count. "auto": a split in which some classes have
      their official count and others do not is an error (a copy cut short
      or missing files); a split with no class at its official count is
      taken as a subset made on purpose in the same format, logged and
      recorded in `metadata["source"]["split_sizes"]`. "any": no check.

  Fields of name="csv" only (a CSV table of features, read by
  `read_csv_table`; `path` is the file):
    target: the label column: its header name or 0-based index (-1 =
      last).
    val_path, test_path: optional CSV files of the validation / test rows,
      with the same columns. Without test_path, a seeded stratified
      test_fraction of each class is the test split (every class keeps one
      training row); without val_path, val_per_class rows of each class are
      held out of training (at most half of a class; the `given` profile).
    test_fraction, split_seed: that test split.
    missing: missing-value markers besides the empty cell (always
      missing), comma-separated (e.g. "?" or "NA,?"). A missing numeric
      value is treated as non-finite; a missing category is all zeros in its
      one-hot block.
    categorical: columns (names or indices, comma-separated) to one-hot even
      though they hold numbers; text columns are always one-hot.
    drop_nonfinite: drop rows with NaN, inf or a missing numeric value
      (logged, with their lines) instead of refusing the file.
    header: True | False | None (detected).
    delimiter: one character, "tab", "auto" (`,`, tab or `;` from the first
      line), or "" (whitespace).

  Fields read by name="tfds" only (any TFDS image-classification set
  already prepared as ArrayRecord in `data_dir`; nothing is downloaded).
  Every data config has them, so that a command line can switch an image
  config to name=tfds; another name refuses a value other than the default:
    tfds_name: e.g. "beans" or "oxford_flowers102:2.1.1" (a pinned version).
    tfds_train_split, tfds_test_split: its split names ("train", "test").
    tfds_val_split: its validation split ("" = held out of training by
      val_per_class).
    Images of different sizes are resized and centre-cropped to
    image_size.
  """
  if name not in DATASETS:
    raise ValueError(
        f"unknown dataset name {name!r}; known: {sorted(DATASETS)}.")
  values = dict(_COMMON_FIELDS)
  values.update(DATASETS[name].defaults)
  values["name"] = name
  return ml_collections.ConfigDict(values)


# ---------------------------------------------------------------------------
# Sources.


def _peek_tarball(path: str) -> str:
  """Names the format of a tarball from its first file."""
  try:
    with tarfile.open(path, "r:*") as tar:
      for member in tar:
        if not member.isfile():
          continue
        base = os.path.basename(member.name)
        if base in _cifar.CIFAR10_FILES + _cifar.CIFAR100_FILES or (
            os.path.basename(os.path.dirname(member.name)) in
            _cifar.CIFAR_FOLDERS):
          return "pickle"
        if base.lower().endswith(_images.IMAGE_EXTENSIONS):
          return "folder"
  except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
    raise _archives.CorruptArchiveError(
        f"config field path: {path} is not a readable tarball (truncated or "
        f"corrupt?): {type(e).__name__}: {e}") from e
  raise ValueError(
      f"config field path: tarball {path} holds neither CIFAR pickles nor "
      f"images under <split>/<class>/.")


def detect_format(path: str, *,
                  download: str | None = None) -> tuple[str, str]:
  """Returns (source, path to read) for a local copy at `path`.

  Args:
    path: a tarball or folder.
    download: key of `DOWNLOADS` whose official tarball to look for first in
      a folder that holds several.
  """
  if os.path.isfile(path):
    if _archives.is_tarball(path):
      return _peek_tarball(path), path
    raise ValueError(
        f"config field path: {path} is a file but not a tarball; point path "
        f"at a folder (CIFAR pickles, IDX files, <split>/<class>/ images) or "
        f"a .tar.gz.")
  if not os.path.isdir(path):
    raise FileNotFoundError(f"config field path: {path} does not exist.")
  if _cifar.find_cifar_folder(path) is not None:
    return "pickle", path
  if _idx.has_idx_files(path):
    return "idx", path
  if os.path.isdir(os.path.join(path, "train")):
    return "folder", path
  keys = sorted(_download.DOWNLOADS, key=lambda k: k != download)
  for specs in (_download.DOWNLOADS[k] for k in keys):
    tarball = os.path.join(path, specs[0].filename)
    if len(specs) == 1 and os.path.isfile(tarball):
      return "pickle", tarball
  raise FileNotFoundError(
      f"config field path: found no dataset in {path}; expected CIFAR "
      f"pickles (or cifar-10-python.tar.gz), MNIST IDX files, or "
      f"train/<class>/ and test/<class>/ image folders.")


def _help(name: str, spec: DatasetSpec) -> str:
  lines = [f"To use a local copy of {name}, set config field `path` to:"]
  lines += [f"  - {f}" for f in spec.local_formats]
  if spec.download:
    files = [s.filename for s in _download.DOWNLOADS[spec.download]]
    lines.append(
        f"or put the official files {files} in config field `data_dir` "
        f"(default {_download.default_data_dir()}); with internet access, "
        f"path='' and source='auto' or 'download' fetch them there.")
  if spec.tfds:
    lines.append(
        f"or set source='tfds' and data_dir to a TFDS folder with "
        f"{spec.tfds} prepared as ArrayRecord.")
  return "\n".join(lines)


def _auto_source(spec: DatasetSpec,
                 fields: dict[str, Any]) -> tuple[str, str]:
  """Picks the source for `source="auto"`; returns (source, path)."""
  if fields["path"]:
    return detect_format(fields["path"], download=spec.download)
  data_dir = fields["data_dir"] or _download.default_data_dir()
  if spec.download:
    downloaded = _download.downloaded_path(spec.download, data_dir)
    if downloaded:
      return ("pickle" if downloaded.endswith(".tar.gz") else "idx"), downloaded
  tfds_dir = fields["data_dir"] or _tfds.default_tfds_data_dir()
  if spec.tfds and _tfds.find_prepared_tfds(spec.tfds, tfds_dir):
    return "tfds", ""
  if spec.download:
    return "download", ""
  raise ValueError(
      f"config field path is empty; {fields['name']} has no default copy.\n"
      f"{_help(fields['name'], spec)}")


def _read_source(spec: DatasetSpec,
                 fields: dict[str, Any]) -> tuple[_types.SourceData, str]:
  """Reads the full splits; returns them and the source used."""
  source, path = fields["source"], fields["path"]
  if source == "auto":
    source, path = _auto_source(spec, fields)
  elif source in ("pickle", "folder", "idx") and not path:
    raise ValueError(
        f"config field path is empty; source={source!r} reads a local copy."
        f"\n{_help(fields['name'], spec)}")
  elif source in ("download", "tfds") and path:
    raise ValueError(
        f"config fields path={path!r} and source={source!r} conflict: "
        f"{source} reads from data_dir. Clear path, or set source='auto'.")
  try:
    if source == "download":
      data_dir = fields["data_dir"] or _download.default_data_dir()
      path = _download.download_dataset(
          spec.download, data_dir, timeout=fields["download_timeout"])
      source = "pickle" if spec.download.startswith("cifar") else "idx"
    if source == "tfds":
      data = _tfds.read_tfds(
          spec.tfds,
          data_dir=fields["data_dir"] or _tfds.default_tfds_data_dir())
    elif source == "pickle":
      data = _cifar.read_cifar(path)
    elif source == "idx":
      data = _idx.read_mnist(path)
    else:
      data = _folder.read_image_folder(
          path, class_names=fields["class_names"],
          num_workers=fields["num_workers"])
  except (_tfds.DataNotFoundError, _download.DownloadError) as e:
    raise type(e)(f"{e}\n{_help(fields['name'], spec)}") from e
  return data, source


def _check_split_sizes(data: _types.SourceData, spec: DatasetSpec,
                       fields: dict[str, Any]) -> str:
  """Checks the splits against the official sizes; returns a record."""
  mode = fields["split_sizes"]
  if spec.official_counts is None or mode == "any":
    return "not checked"
  path = data.description.get("path", "")
  subsets = []
  for split, official in spec.official_counts.items():
    expected = np.asarray(official, np.int64)
    found = np.bincount(data.splits[split].labels, minlength=expected.size)
    if np.array_equal(found, expected):
      continue
    matching = found == expected
    if mode == "official" or matching.any():
      bad = np.flatnonzero(~matching)
      shown = ", ".join(
          f"{data.class_names[c]!r}: {found[c]} (expected {expected[c]})"
          for c in bad[:5]) + (" ..." if bad.size > 5 else "")
      raise ValueError(
          f"{path}: the {split} split has {found.sum()} images, not the "
          f"official {expected.sum()} of {fields['name']}; per class {shown}."
          f" The copy is incomplete or corrupt: download or copy it again. "
          f"If it is a subset you made on purpose, set config field "
          f"split_sizes='any'.")
    subsets.append(f"{split} {found.sum()} of {expected.sum()}")
  if not subsets:
    return "official"
  logging.warning(
      "%s: not the official split sizes (%s); taken as a subset made on "
      "purpose (config field split_sizes='official' requires them).",
      path, ", ".join(subsets))
  return "subset: " + ", ".join(subsets)


def _check_source(data: _types.SourceData, spec: DatasetSpec,
                  fields: dict[str, Any], source: str) -> None:
  desc = data.description.get("path", "")
  if spec.num_classes and len(data.class_names) != spec.num_classes:
    raise ValueError(
        f"{desc} holds {len(data.class_names)} classes but {fields['name']} "
        f"has {spec.num_classes}; check config fields name and path.")
  if (fields["class_names"] and source != "folder" and
      data.class_names != fields["class_names"]):
    raise ValueError(
        f"{desc} names its classes {list(data.class_names)}, not config field "
        f"class_names {list(fields['class_names'])}.")


# ---------------------------------------------------------------------------
# Building the long-tailed dataset.


def _val_record(val_labels: np.ndarray, num_classes: int,
                **extra: Any) -> dict[str, Any]:
  counts = np.bincount(val_labels, minlength=num_classes)
  return dict(extra, size=int(val_labels.size),
              class_counts=counts.tolist())


def _long_tailed_indices(labels: np.ndarray, class_names: tuple[str, ...],
                         fields: dict[str, Any]) -> tuple[np.ndarray, dict]:
  """The training subset and its metadata."""
  num_classes = len(class_names)
  available = np.bincount(labels, minlength=num_classes)
  if available.min() < 1:
    empty = class_names[int(np.argmin(available))]
    raise ValueError(f"class {empty!r} has no training images.")
  n_max = int(available.min())
  counts = _profiles.long_tail_counts(
      n_max, num_classes, ratio=fields["imbalance_ratio"],
      profile=fields["imbalance_profile"])
  indices = _profiles.make_long_tailed(labels, counts,
                                       seed=fields["subset_seed"])
  return indices, {"n_max": n_max}


def _fill_from_train(labels, val_idx, train_idx, num_classes, per_class):
  """Moves each short class's validation shortfall out of the training set.

  The moved examples are the last ones of that class in the training subset
  (whose order is the seeded per-class shuffle), so the choice is seeded too.
  """
  have = np.bincount(labels[val_idx], minlength=num_classes)
  moved, extra = {}, []
  for c in np.flatnonzero(have < per_class):
    candidates = train_idx[labels[train_idx] == c]
    take = min(int(per_class - have[c]), max(candidates.size - 1, 0))
    if take:
      extra.append(candidates[-take:])
      moved[int(c)] = take
  if not extra:
    return val_idx, train_idx, moved
  extra = np.concatenate(extra)
  return (np.concatenate([val_idx, extra]),
          train_idx[~np.isin(train_idx, extra)], moved)


def _held_out_val(name: str, full: _types.ArraySplit, train_idx: np.ndarray,
                  class_names: tuple[str, ...], fields: dict[str, Any]
                 ) -> tuple[_types.ArraySplit, dict[str, Any], np.ndarray]:
  """Draws the validation split from the training images.

  Returns:
    (the split, its metadata, the training indices: unchanged, or without the
    validation examples for the `given` profile).
  """
  given = fields["imbalance_profile"] == "given"
  per_class, seed = fields["val_per_class"], fields["val_seed"]
  caps = None
  if given:
    # Never empty a class: hold out at most half of its training images.
    caps = np.bincount(full.labels[train_idx],
                       minlength=len(class_names)) // 2
  val_idx = _splits.balanced_holdout(
      full.labels, num_classes=len(class_names), per_class=per_class,
      seed=seed, exclude=None if given else train_idx, caps=caps)
  moved = {}
  if given:
    train_idx = np.setdiff1d(train_idx, val_idx)
    pool = ("held out from the training split (which loses them; at most "
            "half of each class)")
  else:
    pool = "training images left unused by the long-tailed subset"
    if fields["val_shortfall"] == "from_train":
      val_idx, train_idx, moved = _fill_from_train(
          full.labels, val_idx, train_idx, len(class_names), per_class)
  val = full.subset(val_idx)
  meta = _val_record(val.labels, len(class_names), source=pool,
                     per_class=per_class, seed=seed,
                     shortfall=fields["val_shortfall"],
                     moved_from_train={str(k): v for k, v in moved.items()},
                     indices_sha256=_splits.index_digest(val_idx))
  meta["short_classes"] = [c for c, n in enumerate(meta["class_counts"])
                           if n < per_class]
  if meta["short_classes"] and given:
    first = meta["short_classes"][0]
    logging.warning(
        "%s: %d class(es) have too few training images to give %d to "
        "validation, which takes at most half of a class (class %s gives "
        "%d); metadata['val'] records the counts. Lower config field "
        "val_per_class, or give a validation split of your own.",
        name, len(meta["short_classes"]), per_class, class_names[first],
        meta["class_counts"][first])
  elif meta["short_classes"]:
    first = meta["short_classes"][0]
    logging.warning(
        "%s: %d class(es) have fewer than %d unused training images for "
        "validation (class %s has %d); metadata['val'] records the counts. "
        "Set val_shortfall='from_train' for a balanced validation split "
        "(the short classes then train on fewer images).",
        name, len(meta["short_classes"]), per_class, class_names[first],
        meta["class_counts"][first])
  return val, meta, train_idx


def _build_array_dataset(name: str, data: _types.SourceData,
                         fields: dict[str, Any],
                         source: str) -> _types.LongTailedDataset:
  """Cuts the long-tailed subset and the validation split from `data`."""
  full = data.splits["train"]
  num_classes = len(data.class_names)
  profile = fields["imbalance_profile"]
  meta = {"imbalance_profile": profile, "subset_seed": None}
  if profile == "given":
    train_idx = np.arange(len(full), dtype=np.int64)
  else:
    train_idx, extra = _long_tailed_indices(full.labels, data.class_names,
                                            fields)
    meta.update(extra, subset_seed=fields["subset_seed"],
                imbalance_ratio=fields["imbalance_ratio"])
  if "val" in data.splits:
    val = data.splits["val"]
    val_meta = _val_record(val.labels, num_classes,
                           source="the source's official val split")
  elif fields["val_per_class"] > 0:
    val, val_meta, train_idx = _held_out_val(name, full, train_idx,
                                             data.class_names, fields)
  else:
    val, val_meta = None, {"source": "none (val_per_class = 0)", "size": 0}
  train = full.subset(train_idx)
  counts = np.bincount(train.labels, minlength=num_classes).astype(np.int64)
  if counts.min() < 1:
    empty = data.class_names[int(np.argmin(counts))]
    raise ValueError(
        f"{name}: class {empty!r} has no training images left (training "
        f"counts {counts.tolist()}). Check the data, or lower config field "
        f"imbalance_ratio (exp / step profiles) or val_per_class.")
  if profile == "given":
    meta["imbalance_ratio"] = (float(counts.max() / counts.min())
                               if counts.min() > 0 else None)
  metadata = dict(
      name=name, source=dict(data.description, source=source), **meta,
      train_size=len(train), train_class_counts=counts.tolist(),
      train_indices_sha256=_splits.index_digest(train_idx), val=val_meta,
      test_size=len(data.splits["test"]))
  return _types.LongTailedDataset(
      name=name, train=train, val=val, test=data.splits["test"],
      class_names=data.class_names, train_class_counts=counts,
      metadata=metadata)


def _load_array(name: str, spec: DatasetSpec,
                fields: dict[str, Any]) -> _types.LongTailedDataset:
  data, source = _read_source(spec, fields)
  _check_source(data, spec, fields, source)
  data.description["split_sizes"] = _check_split_sizes(data, spec, fields)
  return _build_array_dataset(name, data, fields, source)


def _list_path(fields: dict[str, Any], key: str) -> str:
  value = fields[key]
  return value if not value or os.path.isabs(value) else os.path.join(
      fields["path"], value)


def _check_list_fields(name: str, fields: dict[str, Any]) -> None:
  if not fields["path"]:
    raise ValueError(
        f"config field path is empty: set it to the folder that the image "
        f"paths in {name}'s list files are relative to.")
  if not os.path.isdir(fields["path"]):
    raise FileNotFoundError(
        f"config field path: {fields['path']} is not a folder.")
  if fields["imbalance_profile"] != "given":
    raise ValueError(
        f"{name}'s training list is already long-tailed: config field "
        f"imbalance_profile must be 'given', got "
        f"{fields['imbalance_profile']!r}.")
  for key in ("train_list", "test_list"):
    if not fields[key]:
      raise ValueError(f"config field {key} is empty; {name} needs one.")


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
          f"config field {key}: list file {list_path} does not exist.")
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
        f"config field class_counts_file: {path} has {expected.size} counts "
        f"but the lists have {num_classes} classes.")
  actual = np.bincount(labels, minlength=expected.size)
  if not np.array_equal(actual, expected):
    bad = int(np.flatnonzero(actual != expected)[0])
    raise ValueError(
        f"config field class_counts_file: {path} gives class {bad} "
        f"{expected[bad]} training images but train_list {train_list} has "
        f"{actual[bad]}.")
  return expected.size


def _check_list_class_names(names: tuple[str, ...], num_classes: int,
                           train_list: str) -> int:
  if len(names) < num_classes:
    raise ValueError(
        f"config field class_names names {len(names)} classes but the "
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


def _load_lists(name: str, spec: DatasetSpec,
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
    origin = "config field class_names"
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
      val=(_val_record(val.labels, num_classes,
                       source="the official val list")
           if val is not None else {"source": "none", "size": 0}),
      test_size=len(splits["test"]))
  return _types.LongTailedDataset(
      name=name, train=splits["train"], val=val, test=splits["test"],
      class_names=fields["class_names"] or _lists.class_names_from_paths(
          [(s.paths, s.labels) for s in splits.values()], num_classes),
      train_class_counts=counts, metadata=metadata)


def load_dataset(config: Any) -> _types.LongTailedDataset:
  """Builds the long-tailed dataset a config describes.

  Args:
    config: a ConfigDict (dict, or attribute object) with the fields of
      `default_data_config(config.name)`; missing fields take the defaults.

  Returns:
    The `LongTailedDataset`, its `metadata` recording exactly which data it is.

  Raises:
    ValueError: an unknown name (listing the known ones), a bad field value
      (naming the field), or data that does not fit the protocol.
    FileNotFoundError: missing files (naming the path); when no copy of the
      data can be found or downloaded, the message lists the local formats
      accepted and the config fields to set.

  Example:
    >>> config = default_data_config("cifar10_lt")
    >>> config.path = "/data/cifar-10-python.tar.gz"
    >>> ds = load_dataset(config)  # 12,406 training images at rho = 100
  """
  spec, fields = _resolve_fields(config)
  return spec.load(fields["name"], spec, fields)


# ---------------------------------------------------------------------------
# CSV tables of features.

CSV_DELIMITERS = {"auto": "auto", "": None, "tab": "\t"}
_CSV_FIELDS = {
    "target": "",
    "val_path": "",
    "test_path": "",
    "missing": "",
    "categorical": "",
    "drop_nonfinite": False,
    "header": ml_collections.config_dict.placeholder(bool),
    "delimiter": ",",
    "test_fraction": 0.2,
    "split_seed": 0,
}


def _split_list(value: Any) -> tuple[str, ...]:
  if isinstance(value, str):
    return tuple(v.strip() for v in value.split(",") if v.strip())
  return tuple(str(v) for v in value)


def _check_csv_fields(fields: dict[str, Any]) -> None:
  target = fields["target"]
  if isinstance(target, bool) or not isinstance(target, (int, str)):
    raise ValueError(
        f"config field target must name the label column: its header name "
        f"or 0-based index (-1 = last), got {target!r}.")
  fields["target"] = target.strip() if isinstance(target, str) else target
  if fields["header"] not in (None, True, False):
    raise ValueError(
        f"config field header must be True, False or None (detect), got "
        f"{fields['header']!r}.")
  delimiter = fields["delimiter"]
  if not (delimiter in CSV_DELIMITERS or (isinstance(delimiter, str) and
                                          len(delimiter) == 1)):
    raise ValueError(
        f"config field delimiter must be one character or one of "
        f"{list(CSV_DELIMITERS)}, got {delimiter!r}.")
  if not isinstance(fields["drop_nonfinite"], bool):
    raise ValueError(
        f"config field drop_nonfinite must be True or False, got "
        f"{fields['drop_nonfinite']!r}.")
  fraction = fields["test_fraction"]
  if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
      or not 0 <= fraction < 1):
    raise ValueError(
        f"config field test_fraction must be in [0, 1), got {fraction!r}; "
        f"it is used when test_path is empty.")
  _check_int(fields, "split_seed", 0)
  for key in ("val_path", "test_path"):
    fields[key] = os.path.expanduser(str(fields[key] or ""))
  fields["missing"] = _split_list(fields["missing"])
  fields["categorical"] = _split_list(fields["categorical"])


def _read_csv_source(fields: dict[str, Any]) -> _types.SourceData:
  """Reads the CSV file(s) into feature splits (test cut out if needed)."""
  path = fields["path"]
  if not path or fields["target"] == "":
    raise ValueError(
        f"config field {'path' if not path else 'target'} is empty: set "
        f"path to the CSV file of features and labels and target to the "
        f"label column (its header name or 0-based index, -1 = last).")
  delimiter = fields["delimiter"]
  table = _csv.read_csv_table(
      path, target=fields["target"], task="classification",
      missing=fields["missing"], drop_nonfinite=fields["drop_nonfinite"],
      categorical=fields["categorical"],
      header=fields["header"],
      delimiter=CSV_DELIMITERS.get(delimiter, delimiter),
      class_names=fields["class_names"] or None)
  num_classes = len(table.class_names)

  def split_of(t, rows=None):
    rows = np.arange(len(t)) if rows is None else rows
    return _types.FeatureSplit(features=t.features[rows],
                               labels=t.targets[rows])

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
    if fields["test_fraction"] <= 0:
      raise ValueError(
          "config fields test_path is empty and test_fraction is 0: give a "
          "test file or a fraction of the table to test on.")
    test_rows = _csv.stratified_split(
        table.targets, num_classes=num_classes,
        fraction=fields["test_fraction"], seed=fields["split_seed"])
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
                   "dropped_lines": len(table.dropped_lines), **record})


def _load_csv(name: str, spec: DatasetSpec,
              fields: dict[str, Any]) -> _types.LongTailedDataset:
  data = _read_csv_source(fields)
  _check_source(data, spec, fields, "csv")
  return _build_array_dataset(name, data, fields, "csv")


# ---------------------------------------------------------------------------
# Any TFDS image-classification set, by name.

_TFDS_FIELDS = ("tfds_name", "tfds_train_split", "tfds_val_split",
                "tfds_test_split")


def _check_tfds_fields(fields: dict[str, Any]) -> None:
  for key in _TFDS_FIELDS:
    if not isinstance(fields[key], str):
      raise ValueError(
          f"config field {key} must be a string, got {fields[key]!r}.")
  for key in ("tfds_train_split", "tfds_test_split"):
    if not fields[key]:
      raise ValueError(f"config field {key} is empty; name a TFDS split.")


def _load_tfds_named(name: str, spec: DatasetSpec,
                     fields: dict[str, Any]) -> _types.LongTailedDataset:
  """A TFDS dataset named by config field tfds_name, from data_dir."""
  if not fields["tfds_name"]:
    raise ValueError(
        "config field tfds_name is empty: name the TFDS dataset, e.g. "
        "'beans' or 'oxford_flowers102:2.1.1'.")
  if fields["path"]:
    raise ValueError(
        f"config field path={fields['path']!r}: the tfds dataset reads "
        f"config field data_dir (a TFDS data folder); clear path.")
  splits = {"train": fields["tfds_train_split"],
            "test": fields["tfds_test_split"]}
  if fields["tfds_val_split"]:
    splits["val"] = fields["tfds_val_split"]
  data_dir = fields["data_dir"] or _tfds.default_tfds_data_dir()
  data = _tfds.read_tfds(fields["tfds_name"], data_dir=data_dir,
                         splits=splits, image_size=fields["image_size"])
  _check_source(data, spec, fields, "tfds")
  return _build_array_dataset(name, data, fields, "tfds")


_CIFAR_FORMATS = (
    "the official python tarball ({tar}) or its extracted folder ({folder}/)",
    "an image folder train/<class>/*.{{png,jpg}} + test/<class>/..., or a "
    ".tar.gz of it (class folders named as the official classes)",
)
_ARRAY_SOURCES = ("auto", "download", "tfds", "pickle", "folder")

DATASETS = {
    "cifar10_lt": DatasetSpec(
        load=_load_array, sources=_ARRAY_SOURCES,
        defaults={"class_names": CIFAR10_CLASS_NAMES, "val_per_class": 50},
        num_classes=10, download="cifar10", tfds="cifar10",
        official_counts={"train": (5000,) * 10, "test": (1000,) * 10},
        local_formats=tuple(f.format(tar="cifar-10-python.tar.gz",
                                     folder="cifar-10-batches-py")
                            for f in _CIFAR_FORMATS)),
    "cifar100_lt": DatasetSpec(
        load=_load_array, sources=_ARRAY_SOURCES,
        defaults={"val_per_class": 20},
        num_classes=100, download="cifar100", tfds="cifar100",
        official_counts={"train": (500,) * 100, "test": (100,) * 100},
        local_formats=tuple(f.format(tar="cifar-100-python.tar.gz",
                                     folder="cifar-100-python")
                            for f in _CIFAR_FORMATS)),
    "mnist_lt": DatasetSpec(
        load=_load_array,
        sources=("auto", "download", "tfds", "idx", "folder"),
        defaults={"val_per_class": 50},
        num_classes=10, download="mnist", tfds="mnist",
        official_counts={"train": MNIST_TRAIN_COUNTS,
                         "test": MNIST_TEST_COUNTS},
        local_formats=(
            "a folder of the IDX files train-images-idx3-ubyte[.gz], "
            "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
            "t10k-labels-idx1-ubyte[.gz]",
            "an image folder train/<digit>/*.png + test/<digit>/..., or a "
            ".tar.gz of it")),
    "folder": DatasetSpec(
        load=_load_array, sources=("auto", "folder"),
        defaults={"val_per_class": 50},
        local_formats=(
            "an image folder train/<class>/*.{png,jpg} + test/<class>/... "
            "(+ optional val/<class>/...), or a .tar.gz of it",)),
    "csv": DatasetSpec(
        load=_load_csv, sources=("auto",),
        defaults={"imbalance_profile": "given", "val_per_class": 20,
                  **_CSV_FIELDS},
        check=_check_csv_fields,
        local_formats=("a CSV file of feature columns and a label column",)),
    "tfds": DatasetSpec(
        load=_load_tfds_named, sources=("auto", "tfds"),
        defaults={}, check=_check_tfds_fields,
        local_formats=("(none: a TFDS data folder in config field data_dir)",
                      )),
    "list": DatasetSpec(
        load=_load_lists, sources=("auto", "list"),
        defaults={"imbalance_profile": "given", "val_per_class": 0},
        local_formats=("the folder the list files' image paths are relative "
                       "to",)),
    "imagenet_lt": DatasetSpec(
        load=_load_lists, sources=("auto", "list"),
        defaults={"imbalance_profile": "given", "val_per_class": 0,
                  "train_list": "ImageNet_LT_train.txt",
                  "val_list": "ImageNet_LT_val.txt",
                  "test_list": "ImageNet_LT_test.txt"},
        local_formats=("the ImageNet folder the list paths are relative to",)),
    "places_lt": DatasetSpec(
        load=_load_lists, sources=("auto", "list"),
        defaults={"imbalance_profile": "given", "val_per_class": 0,
                  "train_list": "Places_LT_train.txt",
                  "val_list": "Places_LT_val.txt",
                  "test_list": "Places_LT_test.txt"},
        local_formats=("the Places-365 folder the list paths are relative "
                       "to",)),
}
