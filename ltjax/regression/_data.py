"""Deprecated home of the regression datasets: they live in `ltjax.data`.

The DIR datasets (abalone, AgeDB-DIR, IMDB-WIKI-DIR, your own CSV or NumPy
table) are entries of the one dataset registry, `ltjax.data.load_dataset(
config.data, task="regression")`, with the split contract, `index_digest`
and balanced hold-out rule (`balanced_val_test`) both tasks share. This
module keeps the names it had, for code that still imports it; the public
ones stay in `ltjax.regression`.
"""

from ltjax import data as ltdata

ABALONE_SEXES = ("M", "F", "I")
ABALONE_COLUMNS = ("sex", "length", "diameter", "height", "whole_weight",
                   "shucked_weight", "viscera_weight", "shell_weight", "rings")
AGE_CSV_COLUMNS = ("age", "path", "split")
CSV_SPLITS = ("random", "balanced")
# The names `load_regression_dataset` accepts.
DATASETS = ("abalone", "agedb_dir", "imdb_wiki_dir", "sts_b_dir", "csv",
            "npz")

RegressionSplit = ltdata.RegressionSplit
ImageRegressionSplit = ltdata.ImageRegressionSplit
RegressionDataset = ltdata.RegressionDataset
digest = ltdata.index_digest
balanced_val_test = ltdata.balanced_val_test
read_abalone_rows = ltdata.read_abalone_rows
read_abalone = ltdata.read_abalone
load_abalone = ltdata.load_abalone
read_age_csv = ltdata.read_age_csv
load_age_dataset = ltdata.load_age_dataset
load_csv = ltdata.load_csv


def default_data_config(name: str):
  """The `config.data` fields of dataset `name` (paths must be set)."""
  if name not in DATASETS:
    raise ValueError(f"config.data.name: {name!r} is not one of {DATASETS}.")
  return ltdata.default_data_config(name, task="regression")


def validate_data_config(data) -> None:
  """Checks the data fields before anything is read; names the field.

  Stricter than `ltjax.data.validate_data_config`: every field must be
  given, and the files must exist.
  """
  if data.name not in DATASETS:
    raise ValueError(
        f"config.data.name: {data.name!r} is not one of {list(DATASETS)}.")
  fields = set(default_data_config(data.name).keys())
  if set(data.keys()) != fields:
    raise ValueError(
        f"config.data: the fields of data.name={data.name!r} are "
        f"{sorted(fields)}, got {sorted(data.keys())}; start from a config "
        f"of that source (a CSV: experiments/configs/csv_dir/*.py).")
  ltdata.validate_data_config(data, task="regression", check_files=True)


def load_regression_dataset(data) -> RegressionDataset:
  """Builds the dataset named by `config.data` from its paths."""
  validate_data_config(data)
  return ltdata.load_dataset(data, task="regression")


__all__ = (
    "ABALONE_COLUMNS", "ABALONE_SEXES", "AGE_CSV_COLUMNS", "CSV_SPLITS",
    "DATASETS", "ImageRegressionSplit", "RegressionDataset",
    "RegressionSplit", "balanced_val_test", "default_data_config", "digest",
    "load_abalone", "load_age_dataset", "load_csv", "load_regression_dataset",
    "read_abalone", "read_abalone_rows", "read_age_csv",
    "validate_data_config",
)
