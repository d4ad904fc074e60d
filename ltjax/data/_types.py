"""The dataset containers the training loops consume, for both tasks.

Every split follows one contract (`ltjax.data.Split`), whatever it holds:

  len(split)                       N examples (also `split.num_examples`)
  split.get_batch(indices, *, rng=None) -> (inputs [b, ...], targets [b])
  split.targets                    [N]: int32 class labels (classification,
                                   also `split.labels`) or float32 targets
                                   (regression)
  split.input_shape                one input's shape: (H, W, C) images or
                                   (D,) features (also `split.image_shape`)
  split.input_dtype                uint8 images, float32 features or int32
                                   token ids
  split.input_kind                 "image", "features", "tokens" or
                                   "token_pairs"

In memory (`_ArrayBacked`): `ArraySplit` (decoded images, CIFAR, MNIST),
`FeatureSplit` (feature vectors: CSV and NumPy tables, your own arrays),
`TokenSplit` (texts as token ids: IMDB, text CSV files) and `RegressionSplit`
(features or images with float targets). From image files
(`_FileBacked`), decoded batch by batch in a thread pool: `StreamedSplit`
(ImageNet-LT, Places-LT; random resized crop with `rng`) and
`ImageRegressionSplit` (AgeDB-DIR, IMDB-WIKI-DIR; resized whole, augmented on
device). Which examples form a batch is the sampler's job (`ltjax.sampling`);
the split only gathers them.
"""

import dataclasses
import os
from typing import Any, Union

import numpy as np

from ltjax import text
from ltjax.data import _images


def _readonly(array: np.ndarray) -> np.ndarray:
  view = array.view()
  view.flags.writeable = False
  return view


def _check_labels(labels: Any, num_examples: int | None,
                  name: str) -> np.ndarray:
  labels = np.asarray(labels)
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
        f"{name} must be a 1-D integer array [N], got dtype {labels.dtype} "
        f"and shape {labels.shape}.")
  if num_examples is not None and labels.shape[0] != num_examples:
    raise ValueError(
        f"{name} has {labels.shape[0]} entries for {num_examples} images; "
        f"pass one label per image.")
  if labels.size and (labels.min() < 0 or
                      labels.max() > np.iinfo(np.int32).max):
    raise ValueError(
        f"{name} must be non-negative class indices, got values in "
        f"[{labels.min()}, {labels.max()}].")
  return _readonly(labels.astype(np.int32))


def _check_targets(targets: Any, num_examples: int) -> np.ndarray:
  targets = np.asarray(targets)
  if targets.ndim != 1 or targets.shape[0] != num_examples:
    raise ValueError(
        f"targets must be a vector of {num_examples} values, got shape "
        f"{targets.shape}.")
  if not np.all(np.isfinite(targets.astype(np.float64))):
    raise ValueError("targets must be finite.")
  return _readonly(targets.astype(np.float32))


def _check_indices(indices: Any, num_examples: int) -> np.ndarray:
  indices = np.asarray(indices)
  if indices.ndim != 1 or not (np.issubdtype(indices.dtype, np.integer) or
                               indices.size == 0):
    raise ValueError(
        f"indices must be a 1-D integer array [b], got dtype {indices.dtype} "
        f"and shape {indices.shape}.")
  indices = indices.astype(np.int64)
  if indices.size and (indices.min() < 0 or indices.max() >= num_examples):
    raise ValueError(
        f"indices must lie in [0, {num_examples}) for a split of "
        f"{num_examples} examples, got values in [{indices.min()}, "
        f"{indices.max()}].")
  return indices


def _check_image_size(image_size: Any) -> None:
  if int(image_size) != image_size or image_size < 1:
    raise ValueError(
        f"image_size must be a positive integer, got {image_size!r}.")


class _Split:
  """What every split shares (the contract above); `_inputs` is abstract."""

  _TARGETS = "targets"  # The attribute holding the [N] targets.

  def __len__(self) -> int:
    return getattr(self, self._TARGETS).shape[0]

  @property
  def num_examples(self) -> int:
    return len(self)

  @property
  def image_shape(self) -> tuple[int, ...]:
    """(H, W, C) of every image; (D,) for feature vectors."""
    return self.input_shape

  @property
  def input_kind(self) -> str:
    """What one input is: "image" ((H, W, C)) or "features" ((D,))."""
    return "image" if len(self.input_shape) == 3 else "features"


class _Labelled(_Split):
  """A classification split: `labels` int32 [N], also named `targets`."""

  _TARGETS = "labels"

  @property
  def targets(self) -> np.ndarray:
    return self.labels


class _ArrayBacked(_Split):
  """A split whose inputs are one array in memory, named by `_INPUTS`."""

  _INPUTS = "inputs"

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(getattr(self, self._INPUTS).shape[1:])

  @property
  def input_dtype(self) -> np.dtype:
    return getattr(self, self._INPUTS).dtype

  def get_batch(self, indices: Any, *,
                rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Gathers examples `indices`.

    Args:
      indices: int [b] in [0, N).
      rng: accepted for the common split API and ignored: in-memory inputs
        are augmented on device (`ltjax.data` augmentation), not here.

    Returns:
      (inputs [b, ...], targets [b]), fresh arrays.
    """
    del rng
    indices = _check_indices(indices, len(self))
    return (getattr(self, self._INPUTS)[indices],
            getattr(self, self._TARGETS)[indices])

  def subset(self, indices: Any):
    """Returns the split of examples `indices` (a copy), in that order."""
    inputs, targets = self.get_batch(indices)
    return dataclasses.replace(
        self, **{self._INPUTS: inputs, self._TARGETS: targets})


class _FileBacked(_Split):
  """A split of image files (`paths` under `root`) decoded batch by batch."""

  def __len__(self) -> int:
    return len(self.paths)

  @property
  def input_shape(self) -> tuple[int, int, int]:
    """(H, W, C) of every image `get_batch` returns."""
    return (self.image_size, self.image_size, 3)

  @property
  def input_dtype(self) -> np.dtype:
    return np.dtype(np.uint8)

  def full_path(self, index: int) -> str:
    """The path of image `index` on disk."""
    return os.path.join(self.root, self.paths[index])

  def _decode(self, indices: np.ndarray, load, args: list[Any]
             ) -> tuple[np.ndarray, np.ndarray]:
    """`load(path, arg)` of each image in a thread pool, stacked."""
    paths = [self.full_path(i) for i in indices]
    pool = _images.executor(
        self.num_workers or _images.default_num_workers())
    images = list(pool.map(lambda pa: load(*pa), zip(paths, args)))
    shape = (0,) + self.input_shape
    batch = np.stack(images) if images else np.zeros(shape, np.uint8)
    return batch, getattr(self, self._TARGETS)[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class ArraySplit(_Labelled, _ArrayBacked):
  """A split held in memory as decoded arrays.

  Attributes:
    images: uint8 [N, H, W, C] (read-only view).
    labels: int32 [N] (read-only).
  """
  images: np.ndarray
  labels: np.ndarray

  _INPUTS = "images"

  def __post_init__(self):
    images = np.asarray(self.images)
    if images.dtype != np.uint8 or images.ndim != 4:
      raise ValueError(
          f"images must be uint8 [N, H, W, C], got dtype {images.dtype} and "
          f"shape {images.shape}; decode and stack them first.")
    object.__setattr__(self, "images", _readonly(images))
    object.__setattr__(self, "labels",
                       _check_labels(self.labels, images.shape[0], "labels"))


@dataclasses.dataclass(frozen=True, eq=False)
class StreamedSplit(_Labelled, _FileBacked):
  """A split of image files listed with labels, decoded batch by batch.

  Attributes:
    paths: tuple of N image paths, absolute or relative to `root`.
    labels: int32 [N] (read-only).
    root: directory the relative paths are under ("" for none).
    image_size: side of the square crops `get_batch` returns.
    num_workers: decoding threads; 0 picks a default from the CPU count.
  """
  paths: tuple[str, ...]
  labels: np.ndarray
  root: str = ""
  image_size: int = 224
  num_workers: int = 0

  def __post_init__(self):
    object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
    object.__setattr__(self, "labels",
                       _check_labels(self.labels, len(self.paths), "labels"))
    _check_image_size(self.image_size)

  def get_batch(self, indices: Any, *,
                rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Reads, decodes and crops examples `indices` in a thread pool.

    With `rng`, each image gets a random resized crop (scale 0.08-1, aspect
    ratio 3/4-4/3) and a horizontal flip with probability 1/2; without, the
    evaluation crop (shorter side to 256/224 * image_size, centre crop). The
    per-image randomness is drawn from `rng` up front, so the batch does not
    depend on thread scheduling.

    Args:
      indices: int [b] in [0, N).
      rng: optional `np.random.Generator` for training augmentation.

    Returns:
      (uint8 images [b, S, S, 3], int32 labels [b]) with S = image_size.

    Raises:
      FileNotFoundError: naming the path of a missing image.
    """
    indices = _check_indices(indices, len(self))
    if rng is None:
      seeds = [None] * indices.size
    else:
      seeds = rng.integers(0, 2**63 - 1, size=indices.size).tolist()
    return self._decode(
        indices, lambda path, seed: _images.load_transformed(
            path, size=self.image_size, seed=seed), seeds)


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureSplit(_Labelled, _ArrayBacked):
  """A split of feature vectors held in memory (tabular data).

  The training loop standardises each feature with the training split's
  mean and standard deviation and does no augmentation.

  Attributes:
    features: float32 [N, D] (read-only), all finite.
    labels: int32 [N] (read-only).
    source_lines: optional int64 [N], the 1-based line of each row in its
      source file (written with the predictions).
  """
  features: np.ndarray
  labels: np.ndarray
  source_lines: np.ndarray | None = None

  _INPUTS = "features"

  def subset(self, indices: Any) -> "FeatureSplit":
    """Returns the split of examples `indices` (a copy), in that order."""
    indices = _check_indices(indices, len(self))
    return FeatureSplit(
        features=self.features[indices], labels=self.labels[indices],
        source_lines=(None if self.source_lines is None
                      else self.source_lines[indices]))

  def __post_init__(self):
    features = np.asarray(self.features)
    if features.ndim != 2 or not (np.issubdtype(features.dtype, np.floating)
                                  or np.issubdtype(features.dtype,
                                                   np.integer)):
      raise ValueError(
          f"features must be a numeric [N, D] array, got dtype "
          f"{features.dtype} and shape {features.shape}.")
    features = features.astype(np.float32)
    bad = np.argwhere(~np.isfinite(features))
    if bad.size:
      raise ValueError(
          f"features must be finite: row {bad[0][0]}, column {bad[0][1]} is "
          f"{features[tuple(bad[0])]} ({len(bad)} non-finite values).")
    object.__setattr__(self, "features", _readonly(features))
    object.__setattr__(self, "labels",
                       _check_labels(self.labels, features.shape[0],
                                     "labels"))
    if self.source_lines is not None:
      lines = np.asarray(self.source_lines, np.int64)
      if lines.shape != (features.shape[0],):
        raise ValueError(
            f"source_lines must be [N] = [{features.shape[0]}], got "
            f"{lines.shape}.")
      object.__setattr__(self, "source_lines", _readonly(lines))


def _check_token_ids(ids: Any, num_texts: int,
                     vocabulary: Any) -> np.ndarray:
  """ids as int32 [N, num_texts * L], each text's ids then padding (0)."""
  ids = np.asarray(ids)
  if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer) or (
      ids.shape[1] % num_texts):
    raise ValueError(
        f"ids must be an integer [N, {num_texts} * L] array, got dtype "
        f"{ids.dtype} and shape {ids.shape}.")
  size = None if vocabulary is None else len(vocabulary)
  if ids.size and (ids.min() < 0 or (size is not None and ids.max() >= size)):
    raise ValueError(
        f"ids must lie in [0, {size if size is not None else 'V'}) (the "
        f"vocabulary), got values in [{ids.min()}, {ids.max()}].")
  # Each text's tokens come first, then padding: the lengths are the counts
  # of non-padding ids (`ltjax.text.inputs_from_ids`).
  for part in np.split(ids, num_texts, axis=1):
    tokens = part != text.PAD_ID
    gaps = np.flatnonzero(np.any(tokens[:, 1:] & ~tokens[:, :-1], axis=1))
    if gaps.size:
      raise ValueError(
          f"ids row {gaps[0]} has padding (id {text.PAD_ID}) before a token; "
          f"a text's ids come first, then padding.")
  return _readonly(ids.astype(np.int32))


@dataclasses.dataclass(frozen=True, eq=False)
class TokenSplit(_Labelled, _ArrayBacked):
  """A split of texts as token ids held in memory (`ltjax.text.encode`).

  The model input of a batch is `ltjax.text.inputs_from_ids(ids, pair=...)`:
  {"ids", "lengths"} with each length the count of non-padding ids (pairs:
  "pair_ids" and "pair_lengths" too). No augmentation.

  Attributes:
    ids: int32 [N, L] (read-only): row n holds text n's first ids, then 0
      (`<pad>`) up to L = max_length. With `pair`, [N, 2 L]: the first text
      in columns [0, L), the second in [L, 2 L).
    labels: int32 [N] (read-only).
    vocabulary: the `ltjax.text.Vocabulary` the ids index (0 `<pad>`, 1
      `<unk>`), or None.
    pair: whether each row holds a pair of texts.
  """
  ids: np.ndarray
  labels: np.ndarray
  vocabulary: Any = None
  pair: bool = False

  _INPUTS = "ids"

  def __post_init__(self):
    ids = _check_token_ids(self.ids, 2 if self.pair else 1, self.vocabulary)
    object.__setattr__(self, "ids", ids)
    object.__setattr__(self, "labels",
                       _check_labels(self.labels, ids.shape[0], "labels"))

  @property
  def input_kind(self) -> str:
    return "token_pairs" if self.pair else "tokens"

  @property
  def max_length(self) -> int:
    """L, the most tokens of one text."""
    return self.ids.shape[1] // (2 if self.pair else 1)

  @property
  def vocab_size(self) -> int:
    """V, the rows of a model's embedding table (ids lie in [0, V))."""
    if self.vocabulary is not None:
      return len(self.vocabulary)
    return int(self.ids.max(initial=1)) + 1

  @property
  def lengths(self) -> np.ndarray:
    """int32 [N] tokens of each (first) text."""
    return np.sum(self.ids[:, :self.max_length] != text.PAD_ID,
                  axis=1).astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class TokenRegressionSplit(_ArrayBacked):
  """Texts (or text pairs) as token ids with float targets, in memory.

  The regression counterpart of `TokenSplit`: the model input of a batch is
  `ltjax.text.inputs_from_ids(ids, pair=pair)`; no augmentation.

  Attributes:
    ids: int32 [N, L] (read-only), or [N, 2 L] with `pair` (the first text
      in columns [0, L), the second in [L, 2 L)); each text's ids, then 0.
    targets: float32 [N] (read-only).
    vocabulary: the `ltjax.text.Vocabulary` the ids index, or None.
    pair: whether each row holds a pair of texts.
  """
  ids: np.ndarray
  targets: np.ndarray
  vocabulary: Any = None
  pair: bool = False

  _INPUTS = "ids"

  def __post_init__(self):
    ids = _check_token_ids(self.ids, 2 if self.pair else 1, self.vocabulary)
    object.__setattr__(self, "ids", ids)
    object.__setattr__(self, "targets",
                       _check_targets(self.targets, ids.shape[0]))

  input_kind = TokenSplit.input_kind
  max_length = TokenSplit.max_length
  vocab_size = TokenSplit.vocab_size
  lengths = TokenSplit.lengths


@dataclasses.dataclass(frozen=True, eq=False)
class RegressionSplit(_ArrayBacked):
  """A regression split held in memory.

  Attributes:
    inputs: float32 [N, F] features or uint8 [N, H, W, C] images.
    targets: float32 [N].
    source_lines: optional int64 [N], the 1-based line of each row in its
      source file (written with the predictions).
  """
  inputs: np.ndarray
  targets: np.ndarray
  source_lines: np.ndarray | None = None

  def __post_init__(self):
    inputs = np.asarray(self.inputs)
    if inputs.dtype != np.uint8:
      inputs = inputs.astype(np.float32)
    if inputs.ndim < 2:
      raise ValueError(
          f"inputs must be [N, ...] with a feature axis, got {inputs.shape}.")
    if inputs.dtype != np.uint8 and not np.all(np.isfinite(inputs)):
      where = tuple(int(i) for i in np.argwhere(~np.isfinite(inputs))[0])
      raise ValueError(
          f"inputs must be finite: row {where[0]}, feature {where[1:]} is "
          f"{inputs[where]}.")
    object.__setattr__(self, "inputs", _readonly(inputs))
    object.__setattr__(self, "targets",
                       _check_targets(self.targets, inputs.shape[0]))
    if self.source_lines is not None:
      lines = np.asarray(self.source_lines, np.int64)
      if lines.shape != (inputs.shape[0],):
        raise ValueError(
            f"source_lines must be [N] = [{inputs.shape[0]}], got "
            f"{lines.shape}.")
      object.__setattr__(self, "source_lines", _readonly(lines))

  def subset(self, indices: Any) -> "RegressionSplit":
    """Returns the split of examples `indices` (a copy), in that order."""
    indices = _check_indices(indices, len(self))
    lines = (None if self.source_lines is None else
             self.source_lines[indices])
    return RegressionSplit(inputs=self.inputs[indices],
                           targets=self.targets[indices], source_lines=lines)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageRegressionSplit(_FileBacked):
  """Image files with float targets, decoded and resized batch by batch.

  Attributes:
    paths: N image paths, relative to `root` (or absolute).
    targets: float32 [N].
    root: folder the paths are relative to.
    image_size: side S of the square images `get_batch` returns.
    num_workers: decoding threads; 0 picks a default from the CPU count.
  """
  paths: tuple[str, ...]
  targets: np.ndarray
  root: str = ""
  image_size: int = 224
  num_workers: int = 0

  def __post_init__(self):
    object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
    object.__setattr__(self, "targets",
                       _check_targets(self.targets, len(self.paths)))
    _check_image_size(self.image_size)

  def get_batch(self, indices: Any, *,
                rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Reads and resizes images `indices`: (uint8 [b, S, S, 3], targets)."""
    del rng  # Training augmentation (crop, flip) runs on device.
    indices = _check_indices(indices, len(self))
    return self._decode(
        indices, lambda path, _: _images.load_resized(
            path, size=self.image_size), [None] * indices.size)


Split = Union[ArraySplit, StreamedSplit, FeatureSplit, TokenSplit,
              TokenRegressionSplit, RegressionSplit, ImageRegressionSplit]


@dataclasses.dataclass(frozen=True, eq=False)
class LongTailedDataset:
  """A long-tailed training split with its validation and test splits.

  Attributes:
    name: registry name, e.g. "cifar10_lt".
    train: the long-tailed training split.
    val: a held-out split for model selection and post-hoc tuning, or None.
    test: the (balanced) test split.
    class_names: C names, index = label.
    train_class_counts: int64 [C], training examples per class.
    metadata: JSON-serialisable record of exactly which data this is (source,
      imbalance profile, subset seed and digest, validation split).
  """
  name: str
  train: Split
  val: Split | None
  test: Split
  class_names: tuple[str, ...]
  train_class_counts: np.ndarray
  metadata: dict[str, Any]

  def __post_init__(self):
    object.__setattr__(self, "class_names", tuple(self.class_names))
    num_classes = len(self.class_names)
    counts = np.asarray(self.train_class_counts)
    if counts.shape != (num_classes,):
      raise ValueError(
          f"train_class_counts has shape {counts.shape} but there are "
          f"{num_classes} class_names; pass one count per class.")
    expected = np.bincount(self.train.labels, minlength=num_classes)
    if not np.array_equal(counts, expected):
      raise ValueError(
          f"train_class_counts {counts.tolist()} do not match the training "
          f"labels, which count {expected.tolist()}.")
    object.__setattr__(self, "train_class_counts",
                       _readonly(counts.astype(np.int64)))
    for split_name in ("train", "val", "test"):
      split = getattr(self, split_name)
      if split is not None and len(split) and (
          split.labels.max() >= num_classes):
        raise ValueError(
            f"{split_name} labels reach {split.labels.max()} but there are "
            f"only {num_classes} class_names.")

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def image_shape(self) -> tuple[int, ...]:
    """(H, W, C) of the images `train.get_batch` returns; (D,) for features."""
    return self.train.image_shape

  @property
  def input_kind(self) -> str:
    """"image", "features", "tokens" or "token_pairs" (`Split`)."""
    return self.train.input_kind


@dataclasses.dataclass(frozen=True, eq=False)
class RegressionDataset:
  """Train / val / test splits of a regression task.

  Attributes:
    name: registry name, e.g. "abalone".
    train: the (imbalanced) training split.
    val: the balanced validation split.
    test: the balanced test split.
    metadata: JSON-serialisable record of exactly which data this is.
  """
  name: str
  train: Any
  val: Any
  test: Any
  metadata: dict[str, Any]

  @property
  def input_shape(self) -> tuple[int, ...]:
    return self.train.input_shape

  @property
  def is_image(self) -> bool:
    return self.train.input_dtype == np.uint8 and len(self.input_shape) == 3

  @property
  def input_kind(self) -> str:
    """"image", "features", "tokens" or "token_pairs" (`Split`)."""
    return self.train.input_kind


@dataclasses.dataclass(frozen=True, eq=False)
class SourceData:
  """What a source reader returns: the full splits, before any subsetting.

  Attributes:
    splits: "train" and "test" (and "val" where the source has an official
      one), each an `ArraySplit` (or `FeatureSplit`) with labels in [0, C).
    class_names: C names, index = label.
    description: JSON-serialisable record of the source (format, path, ...).
  """
  splits: dict[str, Union[ArraySplit, FeatureSplit]]
  class_names: tuple[str, ...]
  description: dict[str, Any]

  def __post_init__(self):
    object.__setattr__(self, "class_names", tuple(self.class_names))
    for required in ("train", "test"):
      if required not in self.splits:
        raise ValueError(
            f"a source must give a {required!r} split, got "
            f"{sorted(self.splits)} from {self.description}.")
