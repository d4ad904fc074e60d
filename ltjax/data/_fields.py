"""Reading and checking the fields of a data config.

A data config is an `ml_collections.ConfigDict`, a dict, or any object with
the fields as attributes. Every check raises a `ValueError` naming the field
and the values it accepts.
"""

import collections.abc
import os
from typing import Any

import ml_collections
import numpy as np

from ltjax.data import _csv
from ltjax.data import _profiles

SOURCES = ("auto", "tfds", "download", "pickle", "folder", "idx", "list")
# "auto": "given" when the training split is already imbalanced (its
# largest class at least AUTO_GIVEN_RATIO times its smallest), else "exp".
IMBALANCE_PROFILES = _profiles.PROFILES + ("given", "auto")
AUTO_GIVEN_RATIO = 2.0
# What to do for a class whose unused training images are fewer than
# val_per_class (the head class of CIFAR-LT keeps all its images): "skip"
# keeps the papers' training set exactly and gives that class fewer (or no)
# validation images; "from_train" moves the shortfall from that class's
# training images to validation (the head class trains on n_max - shortfall).
VAL_SHORTFALL = ("skip", "from_train")
# How the split sizes of CIFAR / MNIST copies are checked (see
# default_data_config).
SPLIT_SIZES = ("auto", "official", "any")
# Read by name="tfds" only (refused elsewhere).
TFDS_FIELDS = ("tfds_name", "tfds_train_split", "tfds_val_split",
               "tfds_test_split")

# Every field a classification dataset reads, with its generic default.
COMMON_FIELDS = {
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


def get(config: Any, key: str, default: Any) -> Any:
  """`config[key]` (or `config.key`), or `default` where it has none."""
  if isinstance(config, (collections.abc.Mapping, ml_collections.ConfigDict)):
    return config[key] if key in config else default
  return getattr(config, key, default)


def known_fields(config: Any) -> set[str] | None:
  """The fields a mapping config sets; None for an attribute object."""
  if isinstance(config, (collections.abc.Mapping, ml_collections.ConfigDict)):
    return set(config.keys())
  return None


def check_int(fields: dict[str, Any], key: str, minimum: int) -> None:
  """Checks that `fields[key]` is an integer >= minimum; stores it as int."""
  value = fields[key]
  try:
    ok = not isinstance(value, bool) and int(value) == value >= minimum
  except (TypeError, ValueError):
    ok = False
  if not ok:
    raise ValueError(
        f"config.data.{key} must be an integer >= {minimum}, got {value!r}.")
  fields[key] = int(value)


def check_fraction(fields: dict[str, Any], key: str, why: str) -> None:
  """Checks that `fields[key]` is a number in [0, 1)."""
  fraction = fields[key]
  if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
      or not 0 <= fraction < 1):
    raise ValueError(
        f"config.data.{key} must be in [0, 1), got {fraction!r}; {why}.")


def split_list(value: Any) -> tuple[str, ...]:
  """A comma-separated string (or a sequence) as a tuple of strings."""
  if isinstance(value, str):
    return tuple(v.strip() for v in value.split(",") if v.strip())
  return tuple(str(v) for v in value)


def expand_paths(fields: dict[str, Any], keys: tuple[str, ...]) -> None:
  """`~` expanded in the path fields `keys` ("" stays "")."""
  for key in keys:
    fields[key] = os.path.expanduser(str(fields[key] or ""))


def check_common_fields(fields: dict[str, Any], *, sources: tuple[str, ...],
                        has_official_counts: bool) -> None:
  """Validates a classification dataset's common fields in place.

  Args:
    fields: the resolved fields (defaults filled in).
    sources: the `source` values the dataset accepts.
    has_official_counts: whether it has official split sizes to check.
  """
  name = fields["name"]
  if fields["source"] not in sources:
    raise ValueError(
        f"config.data.source={fields['source']!r} is not available for "
        f"{name}; use one of {list(sources)}.")
  if fields["imbalance_profile"] not in IMBALANCE_PROFILES:
    raise ValueError(
        f"config.data.imbalance_profile must be one of "
        f"{list(IMBALANCE_PROFILES)}, got {fields['imbalance_profile']!r}.")
  ratio = fields["imbalance_ratio"]
  if (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or
      not np.isfinite(ratio) or ratio < 1):
    raise ValueError(
        f"config.data.imbalance_ratio (n_max / n_min) must be a number >= 1, "
        f"got {ratio!r}; the usual CIFAR-LT values are 10, 50, 100, 200.")
  fields["imbalance_ratio"] = float(ratio)
  if fields["split_sizes"] not in SPLIT_SIZES:
    raise ValueError(
        f"config.data.split_sizes must be one of {list(SPLIT_SIZES)}, got "
        f"{fields['split_sizes']!r}.")
  if fields["split_sizes"] == "official" and not has_official_counts:
    raise ValueError(
        f"config.data.split_sizes='official': {name} has no official split "
        f"sizes to check; use 'auto' or 'any'.")
  if fields["val_shortfall"] not in VAL_SHORTFALL:
    raise ValueError(
        f"config.data.val_shortfall must be one of {list(VAL_SHORTFALL)}, "
        f"got {fields['val_shortfall']!r}.")
  for key, minimum in (("subset_seed", 0), ("val_per_class", 0),
                       ("val_seed", 0), ("image_size", 1),
                       ("num_workers", 0)):
    check_int(fields, key, minimum)
  timeout = fields["download_timeout"]
  if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or
      not timeout > 0):
    raise ValueError(
        f"config.data.download_timeout must be > 0 seconds, got "
        f"{fields['download_timeout']!r}.")
  names = fields["class_names"]
  if isinstance(names, str):
    names = [n.strip() for n in names.split(",") if n.strip()]
  fields["class_names"] = tuple(str(n).strip() for n in names
                                if str(n).strip())
  if len(set(fields["class_names"])) != len(fields["class_names"]):
    raise ValueError(
        f"config.data.class_names has duplicates: {fields['class_names']}.")
  expand_paths(fields, ("path", "data_dir", "train_list", "val_list",
                        "test_list", "class_counts_file"))
  if name != "tfds":
    for key in TFDS_FIELDS:
      if fields[key] != COMMON_FIELDS[key]:
        raise ValueError(
            f"config.data.{key}={fields[key]!r} is only read by "
            f"name='tfds', not {name!r}.")


def require_file(fields: dict[str, Any], what: str, example: str) -> None:
  """Names config.data.path if it is empty or not a file (regression)."""
  if not fields["path"]:
    raise ValueError(
        f"config.data.path: set it to {what}, e.g. "
        f"--config.data.path=/path/to/{example}.")
  problem = _csv.path_problem(fields["path"])
  if problem is not None:  # Looked up, never opened (a FIFO would block).
    fix = ("check the path" if problem == "does not exist" else
           "set config.data.path to the file itself")
    raise ValueError(
        f"config.data.path: {fields['path']!r} {problem}, expected {what}; "
        f"{fix}.")


def check_count(fields: dict[str, Any], key: str, minimum: int = 0) -> None:
  """Checks that config.data.<key> is an integer >= minimum (regression)."""
  value = fields[key]
  if int(value) != value or value < minimum:
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ValueError(f"config.data.{key}: must be {what}, got {value!r}.")


def check_val_per_label(fields: dict[str, Any]) -> None:
  """Checks the DIR holdout size config.data.val_per_label (regression)."""
  check_count(fields, "val_per_label")


def check_bool(fields: dict[str, Any], key: str, prefix: str) -> None:
  """Checks that field `key` is True or False (`prefix` names it)."""
  if not isinstance(fields[key], bool):
    raise ValueError(
        f"{prefix}{key} must be True or False, got {fields[key]!r}.")
