"""`path label` list files (ImageNet-LT, Places-LT, iNaturalist format).

Each non-empty line is an image path relative to a root folder, whitespace,
and an integer label: `train/n01440764/n01440764_762.JPEG 0`. A class-counts
file has one integer per line, the line number being the label. Images are
not read at load time, only checked to exist (one directory listing per
folder), and are decoded batch by batch by `StreamedSplit`.
"""

import os
from typing import Sequence

import numpy as np

from ltjax.data import _types


def read_list_file(path: str) -> tuple[tuple[str, ...], np.ndarray]:
  """Reads a `path label` file.

  Args:
    path: the list file.

  Returns:
    (image paths, int64 labels [N]) in file order.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"list file {path} does not exist.")
  paths, labels = [], []
  with open(path, encoding="utf-8") as f:
    for line_number, line in enumerate(f, 1):
      line = line.strip()
      if not line:
        continue
      fields = line.rsplit(None, 1)
      if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
        raise ValueError(
            f"{path}:{line_number}: expected `<image path> <integer label>`, "
            f"got {line!r}.")
      label = int(fields[1])
      if label < 0:
        raise ValueError(f"{path}:{line_number}: label {label} is negative.")
      paths.append(fields[0])
      labels.append(label)
  if not paths:
    raise ValueError(f"list file {path} lists no images.")
  return tuple(paths), np.asarray(labels, np.int64)


def line_number(path: str, index: int) -> int:
  """The 1-based line of entry `index` of a list file (blank lines skipped)."""
  with open(path, encoding="utf-8") as f:
    seen = -1
    for number, line in enumerate(f, 1):
      if line.strip():
        seen += 1
        if seen == index:
          return number
  raise IndexError(f"{path} has no entry {index}.")


def read_class_counts_file(path: str) -> np.ndarray:
  """Reads a file of one integer count per line (line k = class k)."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"class counts file {path} does not exist.")
  with open(path, encoding="utf-8") as f:
    lines = [line.strip() for line in f if line.strip()]
  try:
    counts = np.asarray([int(line) for line in lines], np.int64)
  except ValueError as e:
    raise ValueError(
        f"{path} must hold one integer count per line: {e}") from e
  if counts.size == 0 or counts.min() < 0:
    raise ValueError(f"{path} must hold non-negative counts, one per class.")
  return counts


def missing_images(root: str, paths: Sequence[str]) -> list[str]:
  """Returns the paths (joined with `root`) of listed images that are absent.

  Lists each folder once instead of calling `stat` per image, which is much
  cheaper for 10^5 images, above all on network file systems.
  """
  listings = {}
  missing = []
  for path in paths:
    full = os.path.join(root, path)
    folder, name = os.path.split(full)
    if folder not in listings:
      try:
        listings[folder] = set(os.listdir(folder or "."))
      except (FileNotFoundError, NotADirectoryError):
        listings[folder] = set()
    if name not in listings[folder]:
      missing.append(full)
  return missing


def check_images_exist(root: str, paths: Sequence[str], *,
                       list_path: str, field: str) -> None:
  """Raises FileNotFoundError naming the first missing images of a list."""
  missing = missing_images(root, paths)
  if missing:
    shown = "\n  ".join(missing[:5])
    raise FileNotFoundError(
        f"{len(missing)} of the {len(paths)} images listed in {list_path} "
        f"(config.data.{field}) are missing under root {root!r}; the first:"
        f"\n  {shown}\nSet the config.data.path to the folder the list's "
        f"paths are relative to.")


def class_names_from_paths(lists: Sequence[tuple[Sequence[str], np.ndarray]],
                           num_classes: int) -> tuple[str, ...]:
  """Names each class by its images' parent folder, or by its index.

  ImageNet-LT paths (`train/n01440764/...`) give the WordNet id, Places-LT
  paths (`train/airfield/...`) the scene name. If a class's images do not
  share one folder name, or two classes share one, the names are the labels
  as strings.
  """
  names = {}
  for paths, labels in lists:
    for path, label in zip(paths, labels):
      folder = os.path.basename(os.path.dirname(path))
      if names.setdefault(int(label), folder) != folder:
        return tuple(str(c) for c in range(num_classes))
  fallback = tuple(str(c) for c in range(num_classes))
  result = tuple(names.get(c, str(c)) for c in range(num_classes))
  if not all(result) or len(set(result)) != num_classes:
    return fallback
  return result


def list_split(root: str, list_path: str, *, field: str, image_size: int,
               num_workers: int = 0,
               check_exists: bool = True) -> _types.StreamedSplit:
  """Builds a `StreamedSplit` from a list file, checking the images exist."""
  paths, labels = read_list_file(list_path)
  if check_exists:
    check_images_exist(root, paths, list_path=list_path, field=field)
  return _types.StreamedSplit(paths=paths, labels=labels, root=root,
                              image_size=image_size, num_workers=num_workers)
