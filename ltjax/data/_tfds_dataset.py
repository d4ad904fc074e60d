"""Any TFDS image-classification set prepared in `data_dir`, by name."""

from typing import Any

from ltjax.data import _fields
from ltjax.data import _formats
from ltjax.data import _tfds
from ltjax.data import _types


def check_fields(fields: dict[str, Any]) -> None:
  """Checks the tfds_* fields in place, naming the field."""
  for key in _fields.TFDS_FIELDS:
    if not isinstance(fields[key], str):
      raise ValueError(
          f"config.data.{key} must be a string, got {fields[key]!r}.")
  for key in ("tfds_train_split", "tfds_test_split"):
    if not fields[key]:
      raise ValueError(f"config.data.{key} is empty; name a TFDS split.")


def load(name: str, spec: Any,
         fields: dict[str, Any]) -> _types.LongTailedDataset:
  """A TFDS dataset named by config.data.tfds_name, from data_dir."""
  if not fields["tfds_name"]:
    raise ValueError(
        "config.data.tfds_name is empty: name the TFDS dataset, e.g. "
        "'beans' or 'oxford_flowers102:2.1.1'.")
  if fields["path"]:
    raise ValueError(
        f"config.data.path={fields['path']!r}: the tfds dataset reads "
        f"config.data.data_dir (a TFDS data folder); clear path.")
  splits = {"train": fields["tfds_train_split"],
            "test": fields["tfds_test_split"]}
  if fields["tfds_val_split"]:
    splits["val"] = fields["tfds_val_split"]
  data_dir = fields["data_dir"] or _tfds.default_tfds_data_dir()
  data = _tfds.read_tfds(fields["tfds_name"], data_dir=data_dir,
                         splits=splits, image_size=fields["image_size"])
  return _formats.build_checked(name, spec, fields, data, "tfds")
