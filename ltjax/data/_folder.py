"""Image folders `root/<split>/<class>/<image>`, on disk or in a tarball.

Splits are the folders `train` and `test` (both required) and `val` (optional,
used as the official validation split). Images are `.jpg`, `.jpeg` or `.png`
(any case); other files are ignored. A tarball (`.tar`, `.tar.gz`, `.tgz`) is
read member by member, never extracted, and may wrap the splits in one common
folder (`cifar10/train/...`).

Labels: with `class_names`, class folder `class_names[k]` is label k and a
folder not among them is an error; without, the sorted folder names of
`train`. Within a class, images are ordered by file name, so the order (and
every seeded subset of it) does not depend on the file system.
"""

import os
from typing import Sequence

from ltjax.data import _archives
from ltjax.data import _images
from ltjax.data import _types

FOLDER_SPLITS = ("train", "val", "test")


def _is_image(name: str) -> bool:
  base = os.path.basename(name)
  return (not base.startswith(".") and
          base.lower().endswith(_images.IMAGE_EXTENSIONS))


def _scan_directory(path: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
  """Maps (split, class) to [(file name, file path)]."""
  found = {}
  for split in FOLDER_SPLITS:
    split_dir = os.path.join(path, split)
    if not os.path.isdir(split_dir):
      continue
    for entry in os.scandir(split_dir):
      if not entry.is_dir() or entry.name.startswith("."):
        continue
      files = [(f.name, f.path) for f in os.scandir(entry.path)
               if f.is_file() and _is_image(f.name)]
      if files:
        found[(split, entry.name)] = files
  return found


def _scan_tarball(path: str) -> dict[tuple[str, str], list[tuple[str, bytes]]]:
  """Maps (split, class) to [(file name, file bytes)], reading the tarball."""
  found = {}
  prefix = None
  for member, data in _archives.iter_tar_files(
      path, lambda m: _is_image(m.name)):
    parts = [p for p in member.name.split("/") if p not in ("", ".")]
    if len(parts) < 3 or parts[-3] not in FOLDER_SPLITS:
      raise ValueError(
          f"{path}: image {member.name} is not at <split>/<class>/<image> "
          f"with split in {FOLDER_SPLITS}.")
    if prefix is None:
      prefix = parts[:-3]
    elif parts[:-3] != prefix:
      raise ValueError(
          f"{path}: images lie under different folders "
          f"({'/'.join(prefix) or '.'} and {'/'.join(parts[:-3]) or '.'}); "
          f"a tarball must hold one <split>/<class>/<image> tree.")
    found.setdefault((parts[-3], parts[-2]), []).append((parts[-1], data))
  return found


def _class_order(path: str, found: dict,
                 class_names: Sequence[str] | None) -> tuple[str, ...]:
  """Returns the label order, checking every class folder against it."""
  train_classes = {c for s, c in found if s == "train"}
  all_classes = {c for _, c in found}
  if class_names:
    names = tuple(class_names)
    unknown = sorted(all_classes - set(names))
    if unknown:
      raise ValueError(
          f"{path}: class folder {unknown[0]!r} is not one of the "
          f"{len(names)} class_names {list(names)}; fix the folder name or "
          f"the class_names config field.")
  else:
    names = tuple(sorted(train_classes))
    extra = sorted(all_classes - train_classes)
    if extra:
      raise ValueError(
          f"{path}: class folder {extra[0]!r} is in another split but not in "
          f"train/; every class needs training images.")
  missing = [c for c in names if not found.get(("train", c))]
  if missing:
    raise ValueError(
        f"{path}: class {missing[0]!r} has no training images (expected "
        f"images in train/{missing[0]}/).")
  return names


def read_image_folder(path: str, *,
                      class_names: Sequence[str] | None = None,
                      num_workers: int = 0) -> _types.SourceData:
  """Reads `path/<split>/<class>/*.{jpg,jpeg,png}` into memory.

  Args:
    path: the folder holding `train/` and `test/` (and optionally `val/`), or
      a tarball of that tree.
    class_names: label order; class folder `class_names[k]` is label k. None
      (or empty) sorts the folder names of `train/`.
    num_workers: decoding threads; 0 picks a default.

  Returns:
    uint8 [n, H, W, C] splits (C = 1 when every image is grayscale, else 3)
    with their labels and the class names.
  """
  if os.path.isdir(path):
    found = _scan_directory(path)
    form = "image-folder"
  elif os.path.isfile(path):
    found = _scan_tarball(path)
    form = "image-folder-tarball"
  else:
    raise FileNotFoundError(f"image folder {path} does not exist.")
  splits_found = {s for s, _ in found}
  if not {"train", "test"} <= splits_found:
    raise FileNotFoundError(
        f"{path} needs images in train/<class>/ and test/<class>/, found "
        f"splits {sorted(splits_found)}.")
  names = _class_order(path, found, class_names)
  label_of = {c: k for k, c in enumerate(names)}
  splits = {}
  for split in sorted(splits_found):
    blobs, paths, labels = [], [], []
    for c in names:
      for file_name, item in sorted(found.get((split, c), [])):
        if isinstance(item, bytes):
          blobs.append(item)
          paths.append(f"{path}:{split}/{c}/{file_name}")
        else:
          with open(item, "rb") as f:
            blobs.append(f.read())
          paths.append(item)
        labels.append(label_of[c])
    arrays = _images.decode_many(blobs, paths, num_workers=num_workers)
    splits[split] = _types.ArraySplit(
        images=_images.stack_images(arrays, paths), labels=labels)
  return _types.SourceData(
      splits=splits, class_names=names,
      description={"format": form, "path": os.path.abspath(path)})
