"""TFDS `cifar10`, `cifar100` and `mnist` already prepared as ArrayRecord.

Read with `tfds.data_source` (random access, no TensorFlow needed). ltjax
never lets TFDS download or prepare anything: preparing `cifar10` needs
TensorFlow, and offline `tfds.load` retries for minutes before failing.
Whether the data is prepared is decided by looking at `data_dir` before TFDS
is imported, so a missing copy fails at once, without touching the network.
"""

import os

import numpy as np

from ltjax.data import _types

TFDS_NAMES = ("cifar10", "cifar100", "mnist")
_READ_CHUNK = 2048


class DataNotFoundError(FileNotFoundError):
  """The requested data is not on disk (and will not be downloaded)."""


def default_tfds_data_dir() -> str:
  """TFDS's own default: `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`."""
  return os.environ.get("TFDS_DATA_DIR") or os.path.join(
      os.path.expanduser("~"), "tensorflow_datasets")


def _version_key(version: str) -> tuple[int, ...]:
  try:
    return tuple(int(p) for p in version.split("."))
  except ValueError:
    return (-1,)


def find_prepared_tfds(name: str, data_dir: str) -> str | None:
  """Returns the newest `data_dir/name/<version>` prepared as ArrayRecord."""
  base = os.path.join(data_dir, name)
  if not os.path.isdir(base):
    return None
  versions = sorted(os.listdir(base), key=_version_key, reverse=True)
  for version in versions:
    folder = os.path.join(base, version)
    if not os.path.isfile(os.path.join(folder, "dataset_info.json")):
      continue
    if any(".array_record" in f for f in os.listdir(folder)):
      return folder
  return None


def _not_prepared(name: str, data_dir: str) -> DataNotFoundError:
  base = os.path.join(data_dir, name)
  detail = ""
  if os.path.isdir(base):
    detail = (f" ({base} exists but holds no version prepared as "
              f"ArrayRecord: tfds.data_source cannot read TFRecord files)")
  return DataNotFoundError(
      f"TFDS dataset {name!r} is not prepared in {data_dir}{detail}. ltjax "
      f"does not ask TFDS to download it. To use TFDS, prepare it where "
      f"TensorFlow is installed: `tfds build {name} --data_dir={data_dir} "
      f"--file_format=array_record`.")


def _read_split(source, name: str) -> _types.ArraySplit:
  images, labels = [], []
  for start in range(0, len(source), _READ_CHUNK):
    keys = list(range(start, min(start + _READ_CHUNK, len(source))))
    if hasattr(source, "__getitems__"):  # One batched read per chunk.
      records = source.__getitems__(keys)
    else:
      records = [source[k] for k in keys]
    for record in records:
      images.append(np.asarray(record["image"], np.uint8))
      labels.append(int(record["label"]))
  if not images:
    raise ValueError(f"TFDS {name} has an empty split.")
  return _types.ArraySplit(images=np.stack(images), labels=labels)


def read_tfds(name: str, *, data_dir: str) -> _types.SourceData:
  """Reads a prepared TFDS image-classification set fully into memory.

  Args:
    name: "cifar10", "cifar100" or "mnist".
    data_dir: TFDS data folder holding `name/<version>/`.

  Returns:
    uint8 train and test splits (MNIST [n, 28, 28, 1]) with TFDS's label
    names (for CIFAR, the official order).

  Raises:
    DataNotFoundError: at once, when the data is not prepared there.
  """
  if name not in TFDS_NAMES:
    raise ValueError(f"TFDS name must be one of {TFDS_NAMES}, got {name!r}.")
  folder = find_prepared_tfds(name, data_dir)
  if folder is None:
    raise _not_prepared(name, data_dir)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  version = os.path.basename(folder)
  builder = tfds.builder(f"{name}:{version}", data_dir=data_dir)
  sources = builder.as_data_source(split=["train", "test"])
  splits = {split: _read_split(source, f"{name}/{split}")
            for split, source in zip(("train", "test"), sources)}
  class_names = tuple(builder.info.features["label"].names)
  return _types.SourceData(
      splits=splits, class_names=class_names,
      description={"format": "tfds", "tfds_name": f"{name}:{version}",
                   "path": os.path.abspath(folder)})
