"""The long-tailed protocol: training subset and validation split.

A source's full splits become a `LongTailedDataset` here, for every format:
the training split is cut to the long-tailed profile by the seeded protocol
of Cao et al. (arXiv 1906.07413; `given` keeps it), and the validation split
is the source's own or `val_per_class` examples of each class held out by
`balanced_holdout` (see `ltjax.data._registry` for the rules).
"""

from typing import Any

from absl import logging
import numpy as np

from ltjax.data import _fields
from ltjax.data import _profiles
from ltjax.data import _splits
from ltjax.data import _types


def val_record(val_labels: np.ndarray, num_classes: int,
               **extra: Any) -> dict[str, Any]:
  """The metadata of a validation split: its size and class counts."""
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
  ratio, profile = fields["imbalance_ratio"], fields["imbalance_profile"]
  try:
    counts = _profiles.long_tail_counts(n_max, num_classes, ratio=ratio,
                                        profile=profile)
  except ValueError:
    raise ValueError(
        f"config.data.imbalance_ratio={ratio}: the {profile!r} profile "
        f"starts from the smallest class's {n_max} training images, so its "
        f"tail classes would get none. Lower config.data.imbalance_ratio to "
        f"at most {n_max}, or keep the data's own class counts with "
        f"config.data.imbalance_profile=given.") from None
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
    # A class keeps at least 80 % and 5 of its training images.
    have = np.bincount(full.labels[train_idx], minlength=len(class_names))
    caps = have - val_floor(have)
  val_idx = _splits.balanced_holdout(
      full.labels, num_classes=len(class_names), per_class=per_class,
      seed=seed, exclude=None if given else train_idx, caps=caps)
  moved = {}
  if given:
    train_idx = np.setdiff1d(train_idx, val_idx)
    pool = ("held out from the training split (which loses them; each "
            "class keeps at least 80 % and 5 of its images)")
  else:
    pool = "training images left unused by the long-tailed subset"
    if fields["val_shortfall"] == "from_train":
      val_idx, train_idx, moved = _fill_from_train(
          full.labels, val_idx, train_idx, len(class_names), per_class)
  val = full.subset(val_idx)
  meta = val_record(val.labels, len(class_names), source=pool,
                    per_class=per_class, seed=seed,
                    shortfall=fields["val_shortfall"],
                    moved_from_train={str(k): v for k, v in moved.items()},
                    indices_sha256=_splits.index_digest(val_idx))
  meta["short_classes"] = [c for c, n in enumerate(meta["class_counts"])
                           if n < per_class]
  if given:
    logging.info(
        "%s: validation held out of the training split, %s per class "
        "(config.data.val_per_class=%d; each class keeps at least 80 %% and "
        "5 of its training images%s).", name, meta["class_counts"],
        per_class, f", so {len(meta['short_classes'])} class(es) give fewer"
        if meta["short_classes"] else "")
  elif meta["short_classes"]:
    # The papers' protocol: the head class keeps every training image, so
    # it has none left for validation (CIFAR-LT: class 0).
    first = meta["short_classes"][0]
    logging.info(
        "%s: validation takes %d unused training images per class, %s "
        "(class %r and %d more keep theirs for training, as the papers' "
        "training set does; config.data.val_shortfall=from_train moves "
        "them out of training).", name, per_class, meta["class_counts"],
        class_names[first], len(meta["short_classes"]) - 1)
  return val, meta, train_idx


def _auto_profile(name: str, labels: np.ndarray, num_classes: int) -> str:
  """imbalance_profile "auto": "given" for already imbalanced data."""
  counts = np.bincount(labels, minlength=num_classes)
  ratio = counts.max() / max(counts.min(), 1)
  profile = "given" if ratio >= _fields.AUTO_GIVEN_RATIO else "exp"
  logging.info(
      "%s: imbalance_profile 'auto' -> %r (the training split's largest "
      "class has %.1f x its smallest%s).", name, profile, ratio,
      "; kept as it is" if profile == "given" else
      "; cut to config.data.imbalance_ratio")
  return profile


def val_floor(counts: np.ndarray) -> np.ndarray:
  """The training images a class keeps when validation is held out of it.

  max(ceil(0.8 n), min(5, n)): at least 80 % of the class, and 5 images
  (all of a class of 5 or fewer), so a tail class is never cut to a few
  examples for a validation split.
  """
  counts = np.asarray(counts, np.int64)
  return np.maximum(np.ceil(0.8 * counts).astype(np.int64),
                    np.minimum(5, counts))


def build_long_tailed(name: str, data: _types.SourceData,
                      fields: dict[str, Any],
                      source: str) -> _types.LongTailedDataset:
  """Cuts the long-tailed subset and the validation split from `data`.

  Args:
    name: the dataset's registry name.
    data: the source's full splits.
    fields: the checked config fields (imbalance_*, subset_seed, val_*).
    source: the source used, recorded in the metadata.

  Returns:
    The `LongTailedDataset`, its metadata recording the subset's digest.
  """
  full = data.splits["train"]
  num_classes = len(data.class_names)
  profile = fields["imbalance_profile"]
  if profile == "auto":
    profile = _auto_profile(name, full.labels, num_classes)
    fields = dict(fields, imbalance_profile=profile)
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
    val_meta = val_record(val.labels, num_classes,
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
        f"counts {counts.tolist()}). Check the data, or lower "
        f"config.data.imbalance_ratio (exp / step profiles) or "
        f"config.data.val_per_class.")
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
