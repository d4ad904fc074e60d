"""MNIST's IDX files (`train-images-idx3-ubyte[.gz]`, ...), gzipped or not.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the data in C order.
"""

import gzip
import os
import zlib

import numpy as np

from ltjax.data import _types

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}
# (split, kind) -> file stem; the files may also be named with a dot
# (`train-images.idx3-ubyte`) and end in `.gz`.
MNIST_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def parse_idx(data: bytes, *, name: str) -> np.ndarray:
  """Parses the bytes of one (uncompressed) IDX file into an array."""
  if len(data) < 4 or data[0] != 0 or data[1] != 0:
    raise ValueError(f"{name} is not an IDX file (bad magic number).")
  if data[2] not in _IDX_DTYPES:
    raise ValueError(f"{name}: unknown IDX type code {data[2]:#04x}.")
  dtype = np.dtype(_IDX_DTYPES[data[2]])
  ndim = data[3]
  header = 4 + 4 * ndim
  if len(data) < header:
    raise ValueError(f"{name} is truncated (IDX header).")
  shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
  size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  if len(data) != header + size:
    raise ValueError(
        f"{name} holds {len(data) - header} data bytes but its header "
        f"{shape} needs {size}; the file is truncated or corrupt: delete "
        f"it and download it again, or replace it with a complete copy.")
  array = np.frombuffer(data, dtype, offset=header).reshape(shape)
  return array.astype(dtype.newbyteorder("="))


def read_idx_file(path: str) -> np.ndarray:
  """Reads one IDX file, gunzipping it when it ends in `.gz`."""
  opener = gzip.open if path.endswith(".gz") else open
  fix = ("delete it and download it again, or replace it with a complete "
         "copy (config.data.path names the folder of the IDX files)")
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except gzip.BadGzipFile as e:
    raise ValueError(
        f"{path} is not a valid gzip file ({e}); {fix}.") from e
  except (EOFError, zlib.error) as e:  # Cut short, or damaged inside.
    raise ValueError(
        f"{path} is truncated or corrupt (gzip: {e}); {fix}.") from e
  return parse_idx(data, name=path)


def find_idx_file(folder: str, stem: str) -> str | None:
  """The path of IDX file `stem` in `folder` (any of its spellings)."""
  dotted = stem.replace("-idx", ".idx")
  for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
    if os.path.isfile(os.path.join(folder, name)):
      return os.path.join(folder, name)
  return None


def has_idx_files(folder: str) -> bool:
  return find_idx_file(folder, MNIST_FILES[("train", "images")]) is not None


def read_mnist(path: str) -> _types.SourceData:
  """Reads MNIST (or any 10-class set in MNIST's IDX layout) from a folder.

  Args:
    path: folder with `train-images-idx3-ubyte[.gz]`,
      `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]` and
      `t10k-labels-idx1-ubyte[.gz]`.

  Returns:
    uint8 [n, 28, 28, 1] train (60,000) and test (10,000) splits, labels 0-9,
    class names "0" ... "9".
  """
  if not os.path.isdir(path):
    raise FileNotFoundError(f"MNIST folder {path} does not exist.")
  files = {key: find_idx_file(path, stem) for key, stem in MNIST_FILES.items()}
  missing = [MNIST_FILES[k] for k, f in files.items() if f is None]
  if missing:
    raise FileNotFoundError(
        f"{path} lacks the IDX files {missing} (optionally gzipped).")
  splits = {}
  for split in ("train", "test"):
    images = read_idx_file(files[(split, "images")])
    labels = read_idx_file(files[(split, "labels")])
    if images.ndim != 3 or images.dtype != np.uint8:
      raise ValueError(
          f"{files[(split, 'images')]} must hold uint8 [n, H, W] images, got "
          f"{images.dtype} {images.shape}.")
    if labels.shape != images.shape[:1]:
      raise ValueError(
          f"{files[(split, 'labels')]} has {labels.shape} labels for "
          f"{images.shape[0]} images in {files[(split, 'images')]}.")
    splits[split] = _types.ArraySplit(images=images[..., None],
                                      labels=labels.astype(np.int64))
  num_classes = int(max(s.labels.max() for s in splits.values())) + 1
  return _types.SourceData(
      splits=splits, class_names=tuple(str(c) for c in range(num_classes)),
      description={"format": "idx", "path": os.path.abspath(path)})
