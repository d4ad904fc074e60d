"""The official CIFAR-10/100 "python version": pickles, in a folder or tarball.

CIFAR-10 (`cifar-10-batches-py/`): `data_batch_1` ... `data_batch_5`,
`test_batch`, `batches.meta`. CIFAR-100 (`cifar-100-python/`): `train`,
`test`, `meta`, with the 100 `fine_labels`. Each batch is a pickled dict whose
`data` is uint8 [n, 3072] (channel-major 3 x 32 x 32). A `.tar.gz` is read
member by member, never extracted to disk.

The pickles are loaded with an unpickler that only builds NumPy arrays and
plain Python containers, so a tampered file cannot run code.
"""

import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from ltjax.data import _archives
from ltjax.data import _types

CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + (
    "test_batch", "batches.meta")
CIFAR100_FILES = ("train", "test", "meta")
CIFAR_FOLDERS = ("cifar-10-batches-py", "cifar-100-python")

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
  """Unpickles only NumPy arrays and builtin containers."""

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) not in _ALLOWED_GLOBALS:
      raise pickle.UnpicklingError(
          f"a CIFAR pickle may only hold arrays, found {module}.{name}.")
    if module.startswith("numpy.core.") and hasattr(np, "_core"):
      # Python 2 era pickles name numpy.core, which NumPy 2 renamed.
      module = "numpy._core." + module[len("numpy.core."):]
    return super().find_class(module, name)


def _decode_key(key: Any) -> Any:
  return key.decode("latin1") if isinstance(key, bytes) else key


def unpickle(f: BinaryIO, *, name: str) -> dict[str, Any]:
  """Loads one CIFAR pickle (Python 2 or 3) into a dict with str keys."""
  try:
    record = _ArrayUnpickler(f, encoding="bytes").load()
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"{name} is not a readable CIFAR pickle: {e}") from e
  if not isinstance(record, dict):
    raise ValueError(f"{name} is not a CIFAR pickle (not a dict).")
  return {_decode_key(k): v for k, v in record.items()}


def find_cifar_folder(path: str) -> str | None:
  """Returns the folder holding CIFAR pickles at or just under `path`."""
  for folder in (path,) + tuple(os.path.join(path, d) for d in CIFAR_FOLDERS):
    if os.path.isfile(os.path.join(folder, "data_batch_1")) or all(
        os.path.isfile(os.path.join(folder, f)) for f in CIFAR100_FILES):
      return folder
  return None


def _read_folder(folder: str) -> dict[str, dict[str, Any]]:
  names = (CIFAR10_FILES if os.path.isfile(os.path.join(
      folder, "data_batch_1")) else CIFAR100_FILES)
  missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
  if missing:
    raise FileNotFoundError(
        f"the CIFAR folder {folder} lacks {missing}; it needs "
        f"{list(names)}.")
  records = {}
  for n in names:
    with open(os.path.join(folder, n), "rb") as f:
      records[n] = unpickle(f, name=os.path.join(folder, n))
  return records


def _read_tarball(path: str) -> dict[str, dict[str, Any]]:
  wanted = set(CIFAR10_FILES) | set(CIFAR100_FILES)
  records = {}
  for member, data in _archives.iter_tar_files(
      path, lambda m: os.path.basename(m.name) in wanted):
    base = os.path.basename(member.name)
    if base in records:
      raise ValueError(f"{path} holds more than one {base!r}.")
    records[base] = unpickle(io.BytesIO(data), name=f"{path}:{member.name}")
  return records


def _variant(records: dict[str, Any], path: str) -> tuple[str, tuple]:
  if "data_batch_1" in records:
    names = CIFAR10_FILES
  elif "meta" in records and "train" in records:
    names = CIFAR100_FILES
  else:
    raise FileNotFoundError(
        f"{path} holds no CIFAR python pickles: expected {list(CIFAR10_FILES)}"
        f" (CIFAR-10) or {list(CIFAR100_FILES)} (CIFAR-100), found "
        f"{sorted(records)}.")
  missing = [n for n in names if n not in records]
  if missing:
    raise FileNotFoundError(f"{path} lacks the CIFAR files {missing}.")
  return ("cifar10" if names is CIFAR10_FILES else "cifar100"), names


def _to_split(batches: list[dict[str, Any]], label_key: str,
              name: str) -> _types.ArraySplit:
  data = np.concatenate([np.asarray(b["data"], np.uint8) for b in batches])
  if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
    raise ValueError(
        f"{name}: CIFAR data must be uint8 [n, 3072], got shape {data.shape}.")
  images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  labels = np.concatenate([np.asarray(b[label_key], np.int64)
                           for b in batches])
  return _types.ArraySplit(images=np.ascontiguousarray(images), labels=labels)


def read_cifar(path: str) -> _types.SourceData:
  """Reads the official CIFAR-10 or CIFAR-100 python pickles.

  Args:
    path: a `.tar.gz` of the python version (e.g. `cifar-10-python.tar.gz`),
      the folder `cifar-10-batches-py` / `cifar-100-python`, or a folder that
      holds one of them.

  Returns:
    Train (50,000) and test (10,000) uint8 [n, 32, 32, 3] splits with the
    official labels (CIFAR-100: the fine labels) and class names.
  """
  if os.path.isfile(path):
    records = _read_tarball(path)
  elif os.path.isdir(path):
    folder = find_cifar_folder(path)
    if folder is None:
      raise FileNotFoundError(
          f"{path} holds no CIFAR python pickles: expected "
          f"{list(CIFAR10_FILES)} (CIFAR-10) or {list(CIFAR100_FILES)} "
          f"(CIFAR-100), directly or in {list(CIFAR_FOLDERS)}.")
    records = _read_folder(folder)
    path = folder
  else:
    raise FileNotFoundError(f"CIFAR path {path} does not exist.")
  variant, names = _variant(records, path)
  if variant == "cifar10":
    train = _to_split([records[n] for n in names[:5]], "labels", path)
    test = _to_split([records["test_batch"]], "labels", path)
    class_names = records["batches.meta"]["label_names"]
  else:
    train = _to_split([records["train"]], "fine_labels", path)
    test = _to_split([records["test"]], "fine_labels", path)
    class_names = records["meta"]["fine_label_names"]
  class_names = tuple(_decode_key(n) for n in class_names)
  return _types.SourceData(
      splits={"train": train, "test": test}, class_names=class_names,
      description={"format": "cifar-pickle", "variant": variant,
                   "path": os.path.abspath(path)})
