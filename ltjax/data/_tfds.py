"""TFDS image-classification datasets already prepared as ArrayRecord.

The long-tailed benchmarks read `cifar10`, `cifar100` and `mnist`; dataset
`tfds` (config.data.tfds_name) reads any TFDS image-classification set by
name (`beans`, `oxford_flowers102:2.1.1`, ...) whose examples hold an image
and a `ClassLabel`.

Read with `tfds.data_source` (random access, no TensorFlow needed). ltjax
never lets TFDS download or prepare anything: preparing `cifar10` needs
TensorFlow, and offline `tfds.load` retries for minutes before failing.
Whether the data is prepared is decided by looking at `data_dir` before TFDS
is imported, so a missing copy fails at once, without touching the network.
"""

import os

import numpy as np

from ltjax.data import _images
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


def split_name(name: str) -> tuple[str, str | None]:
  """"beans:0.1.0" -> ("beans", "0.1.0"); "beans" -> ("beans", None)."""
  base, _, version = name.partition(":")
  return base, version or None


def find_prepared_tfds(name: str, data_dir: str) -> str | None:
  """Returns the newest `data_dir/name/<version>` prepared as ArrayRecord.

  `name` may pin a version ("beans:0.1.0"); then only that one is looked at.
  """
  name, pinned = split_name(name)
  base = os.path.join(data_dir, name)
  if not os.path.isdir(base):
    return None
  versions = sorted(os.listdir(base), key=_version_key, reverse=True)
  if pinned:
    versions = [v for v in versions if v == pinned]
  for version in versions:
    folder = os.path.join(base, version)
    if not os.path.isfile(os.path.join(folder, "dataset_info.json")):
      continue
    if any(".array_record" in f for f in os.listdir(folder)):
      return folder
  return None


def _not_prepared(name: str, data_dir: str) -> DataNotFoundError:
  base = os.path.join(data_dir, split_name(name)[0])
  detail = ""
  if os.path.isdir(base):
    detail = (f" ({base} exists but holds no version prepared as "
              f"ArrayRecord: tfds.data_source cannot read TFRecord files)")
  return DataNotFoundError(
      f"TFDS dataset {name!r} is not prepared in {data_dir}{detail}. ltjax "
      f"does not ask TFDS to download it. To use TFDS, prepare it where "
      f"TensorFlow is installed: `tfds build {name} --data_dir={data_dir} "
      f"--file_format=array_record`.")


def _square(image: np.ndarray, size: int) -> np.ndarray:
  """Resizes the shorter side to `size`, then centre-crops size x size."""
  image_lib = _images._pil()  # pylint: disable=protected-access
  pil = image_lib.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
  scale = size / min(pil.size)
  width = max(size, round(pil.size[0] * scale))
  height = max(size, round(pil.size[1] * scale))
  pil = pil.resize((width, height), image_lib.Resampling.BILINEAR)
  left, top = (width - size) // 2, (height - size) // 2
  out = np.asarray(pil.crop((left, top, left + size, top + size)), np.uint8)
  return out.reshape(size, size, -1)


def _read_split(source, name: str, *, image_key: str = "image",
                label_key: str = "label"
               ) -> tuple[list[np.ndarray], list[int]]:
  """Reads one split's images ([H, W, C] uint8 each) and labels."""
  images, labels = [], []
  for start in range(0, len(source), _READ_CHUNK):
    keys = list(range(start, min(start + _READ_CHUNK, len(source))))
    if hasattr(source, "__getitems__"):  # One batched read per chunk.
      records = source.__getitems__(keys)
    else:
      records = [source[k] for k in keys]
    for record in records:
      if image_key not in record or label_key not in record:
        raise ValueError(
            f"TFDS {name}: examples hold {sorted(record)}, not an image "
            f"{image_key!r} and a label {label_key!r}.")
      image = np.asarray(record[image_key], np.uint8)
      images.append(image if image.ndim == 3 else image[..., None])
      labels.append(int(record[label_key]))
  if not images:
    raise ValueError(f"TFDS {name} has an empty split.")
  return images, labels


def read_tfds(name: str, *, data_dir: str,
              splits: dict[str, str] | None = None,
              image_key: str = "image", label_key: str = "label",
              image_size: int | None = None) -> _types.SourceData:
  """Reads a prepared TFDS image-classification set fully into memory.

  Args:
    name: a TFDS name, optionally with a version: "cifar10", "mnist",
      "beans", "oxford_flowers102:2.1.1", ...
    data_dir: TFDS data folder holding `name/<version>/`.
    splits: ours -> TFDS's split names (default {"train": "train", "test":
      "test"}; add e.g. "val": "validation"). "train" and "test" are needed.
    image_key: the feature holding the image.
    label_key: the `ClassLabel` feature.
    image_size: when the images differ in size (within or across splits),
      each is resized (shorter side) and centre-cropped to image_size x
      image_size.

  Returns:
    uint8 splits [n, H, W, C] (MNIST [n, 28, 28, 1]) with TFDS's label
    names (for CIFAR, the official order).

  Raises:
    DataNotFoundError: at once, when the data is not prepared there.
    ValueError: a split the dataset does not have (listing those it has),
      or examples without the image and label features.
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f"TFDS name must be a non-empty string, got {name!r}.")
  splits = dict(splits or {"train": "train", "test": "test"})
  folder = find_prepared_tfds(name, data_dir)
  if folder is None:
    raise _not_prepared(name, data_dir)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  base, _ = split_name(name)
  version = os.path.basename(folder)
  builder = tfds.builder(f"{base}:{version}", data_dir=data_dir)
  known = sorted(builder.info.splits or ())
  unknown = [s for s in splits.values() if known and s not in known]
  if unknown:
    raise ValueError(
        f"TFDS {base}:{version} has no split {unknown[0]!r}; its splits are "
        f"{known}.")
  features = builder.info.features
  if label_key not in features or not hasattr(features[label_key], "names"):
    raise ValueError(
        f"TFDS {base}: feature {label_key!r} is not a ClassLabel; features "
        f"are {sorted(features.keys())}.")
  ours = list(splits)
  sources = builder.as_data_source(split=[splits[k] for k in ours])
  read = {k: _read_split(source, f"{base}/{splits[k]}", image_key=image_key,
                         label_key=label_key)
          for k, source in zip(ours, sources)}
  shapes = {im.shape for images, _ in read.values() for im in images}
  if len(shapes) > 1 and not image_size:
    raise ValueError(
        f"TFDS {base}: images have different sizes; give an image_size to "
        f"resize them to.")
  if len(shapes) > 1:
    read = {k: ([_square(im, image_size) for im in images], labels)
            for k, (images, labels) in read.items()}
  data = {k: _types.ArraySplit(images=np.stack(images), labels=labels)
          for k, (images, labels) in read.items()}
  class_names = tuple(features[label_key].names)
  return _types.SourceData(
      splits=data, class_names=class_names,
      description={"format": "tfds", "tfds_name": f"{base}:{version}",
                   "splits": splits, "path": os.path.abspath(folder),
                   "resized_to": image_size if len(shapes) > 1 else None})
