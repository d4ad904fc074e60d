"""Finding and reading a classification dataset's files in any format.

`detect_format(path)` names the format of a local copy (CIFAR python
tarball or folder, MNIST IDX folder, image folder or tarball of one);
`load_array` reads the copy a config points to (or the official files in
`data_dir`, downloading them if need be, or a prepared TFDS copy), checks it
against the dataset (class count and names, official split sizes) and hands
it to the long-tailed protocol.
"""

import os
import tarfile
from typing import Any
import zlib

from absl import logging
import numpy as np

from ltjax.data import _archives
from ltjax.data import _cifar
from ltjax.data import _download
from ltjax.data import _folder
from ltjax.data import _idx
from ltjax.data import _images
from ltjax.data import _protocol
from ltjax.data import _tfds
from ltjax.data import _types


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
        f"config.data.path: {path} is not a readable tarball (truncated or "
        f"corrupt?): {type(e).__name__}: {e}") from e
  raise ValueError(
      f"config.data.path: tarball {path} holds neither CIFAR pickles nor "
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
        f"config.data.path: {path} is a file but not a tarball; point path "
        f"at a folder (CIFAR pickles, IDX files, <split>/<class>/ images) or "
        f"a .tar.gz.")
  if not os.path.isdir(path):
    raise FileNotFoundError(f"config.data.path: {path} does not exist.")
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
      f"config.data.path: found no dataset in {path}; expected CIFAR "
      f"pickles (or cifar-10-python.tar.gz), MNIST IDX files, or "
      f"train/<class>/ and test/<class>/ image folders.")


def _help(name: str, spec: Any) -> str:
  lines = [f"To use a local copy of {name}, set config.data.path to:"]
  lines += [f"  - {f}" for f in spec.local_formats]
  if spec.download:
    files = [s.filename for s in _download.DOWNLOADS[spec.download]]
    lines.append(
        f"or put the official files {files} in config.data.data_dir "
        f"(default {_download.default_data_dir()}); with internet access, "
        f"path='' and source='auto' or 'download' fetch them there.")
  if spec.tfds:
    lines.append(
        f"or set source='tfds' and data_dir to a TFDS folder with "
        f"{spec.tfds} prepared as ArrayRecord.")
  return "\n".join(lines)


def _auto_source(spec: Any, fields: dict[str, Any]) -> tuple[str, str]:
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
      f"config.data.path is empty; {fields['name']} has no default copy.\n"
      f"{_help(fields['name'], spec)}")


def _read_source(spec: Any,
                 fields: dict[str, Any]) -> tuple[_types.SourceData, str]:
  """Reads the full splits; returns them and the source used."""
  source, path = fields["source"], fields["path"]
  if source == "auto":
    source, path = _auto_source(spec, fields)
  elif source in ("pickle", "folder", "idx") and not path:
    raise ValueError(
        f"config.data.path is empty; source={source!r} reads a local copy."
        f"\n{_help(fields['name'], spec)}")
  elif source in ("download", "tfds") and path:
    raise ValueError(
        f"config.data.path={path!r} and config.data.source={source!r} conflict: "
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


def _check_split_sizes(data: _types.SourceData, spec: Any,
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
          f"If it is a subset you made on purpose, set "
          f"config.data.split_sizes='any'.")
    subsets.append(f"{split} {found.sum()} of {expected.sum()}")
  if not subsets:
    return "official"
  logging.warning(
      "%s: not the official split sizes (%s); taken as a subset made on "
      "purpose (config.data.split_sizes='official' requires them).",
      path, ", ".join(subsets))
  return "subset: " + ", ".join(subsets)


def check_source(data: _types.SourceData, spec: Any,
                 fields: dict[str, Any], source: str) -> None:
  """Checks a source's classes against the dataset and config field."""
  desc = data.description.get("path", "")
  if spec.num_classes and len(data.class_names) != spec.num_classes:
    raise ValueError(
        f"{desc} holds {len(data.class_names)} classes but {fields['name']} "
        f"has {spec.num_classes}; check config.data.name and config.data.path.")
  if (fields["class_names"] and source != "folder" and
      data.class_names != fields["class_names"]):
    raise ValueError(
        f"{desc} names its classes {list(data.class_names)}, not "
        f"config.data.class_names {list(fields['class_names'])}.")


def build_checked(name: str, spec: Any, fields: dict[str, Any],
                  data: _types.SourceData,
                  source: str) -> _types.LongTailedDataset:
  """`check_source`, then the long-tailed protocol on `data`."""
  check_source(data, spec, fields, source)
  return _protocol.build_long_tailed(name, data, fields, source)


def load_array(name: str, spec: Any,
               fields: dict[str, Any]) -> _types.LongTailedDataset:
  """A dataset of images in memory (CIFAR, MNIST, an image folder)."""
  data, source = _read_source(spec, fields)
  check_source(data, spec, fields, source)
  data.description["split_sizes"] = _check_split_sizes(data, spec, fields)
  return _protocol.build_long_tailed(name, data, fields, source)
