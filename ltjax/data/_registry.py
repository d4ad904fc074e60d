"""The dataset registry: `load_dataset(config)` for both tasks.

Classification names give a `LongTailedDataset`, regression names (the DIR
benchmarks abalone, agedb_dir, imdb_wiki_dir, sts_b_dir, and your own
`csv` / `npz` table with task="regression") a `RegressionDataset`. `csv`
and `npz` serve both tasks: `task=None` means classification for them;
every other name has one task.

`config` is an `ml_collections.ConfigDict` (or a dict, or any object with the
fields as attributes) with the fields of `default_data_config(name)`; fields
it lacks take those defaults. A long-tailed dataset is built in three steps:

1. A source gives the full splits. `source="auto"` reads `path` in the
   format it is in (CIFAR python tarball or folder, image folder or tarball,
   MNIST IDX folder, list files); with `path=""` it uses the official files
   already downloaded into `data_dir`, else a TFDS copy prepared there, else
   downloads the official files into `data_dir`. Names `folder`, `list`,
   `csv`, `npz` and `tfds` read your own data (README, "Your own data");
   `imdb`, `text_csv` and `rotten_tomatoes` read texts, tokenised at load
   time (`ltjax.data._text_dataset`, README "Your own text").
2. The training split is cut to the long-tailed profile (`exp` / `step`, with
   n_max = the smallest per-class training count: 5,000 for CIFAR-10, 500 for
   CIFAR-100, 5,421 for MNIST) by the seeded protocol of Cao et al.; `given`
   keeps it as it is (ImageNet-LT and Places-LT lists are already
   long-tailed), less the validation examples held out from it when the
   source has no validation split of its own (at most half of each class,
   so no class is emptied).
3. The validation split is the official one where there is one (the
   ImageNet-LT / Places-LT val lists, an image folder's `val/`), otherwise
   `val_per_class` seeded examples of each class drawn from the training
   images the long-tailed subset left unused, so the training set stays
   exactly the papers'. A head class keeps all its images (n_0 = n_max), so it
   has none to spare: its validation examples are fewer than `val_per_class`
   (none for CIFAR's class 0), which is logged and recorded in
   `metadata["val"]["class_counts"]`.

Regression datasets follow the DIR protocol instead (Yang et al., arXiv
2102.09554): an imbalanced training split and validation and test splits
balanced over the target (`balanced_val_test`; AgeDB-DIR and IMDB-WIKI-DIR
come with theirs). Their fields are named `config.data.<field>` in errors,
as the regression task has always named them.
"""

import dataclasses
from typing import Any, Callable

import ml_collections

from ltjax.data import _csv_dataset
from ltjax.data import _dir_datasets
from ltjax.data import _fields
from ltjax.data import _formats
from ltjax.data import _list_datasets
from ltjax.data import _npz_dataset
from ltjax.data import _text_dataset
from ltjax.data import _tfds_dataset
from ltjax.data import _types

TASKS = ("classification", "regression")
# MNIST's official images per digit (LeCun et al.; 60,000 and 10,000).
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                      5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                       "frog", "horse", "ship", "truck")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """How to build one registered dataset.

  Attributes:
    load: `(name, spec, fields) -> LongTailedDataset` (classification) or
      `RegressionDataset` (regression).
    sources: the `source` values it accepts (classification).
    defaults: its defaults for the config fields (classification: on top of
      the common ones; regression: all its fields but `name`).
    num_classes: classes a source must have (None: any).
    download: key of `_download.DOWNLOADS` for the official files, or None.
    tfds: TFDS name, or None.
    local_formats: what `path` may point to, for error messages.
    official_counts: the official splits' images per class, {"train": [C],
      "test": [C]}, checked as config.data.split_sizes says; None for a
      dataset without official splits.
    check: validates its own config fields in place (naming the field).
    check_files: checks that the files its fields name exist (naming the
      field); run by `load_dataset`, and by `validate_data_config` with
      `check_files=True`.
    task: "classification" or "regression".
  """
  load: Callable[..., Any]
  sources: tuple[str, ...]
  defaults: dict[str, Any]
  num_classes: int | None = None
  download: str | None = None
  tfds: str | None = None
  local_formats: tuple[str, ...] = ()
  official_counts: dict[str, tuple[int, ...]] | None = None
  check: Callable[[dict[str, Any]], None] | None = None
  check_files: Callable[[dict[str, Any]], None] | None = None
  task: str = "classification"


def _spec(name: Any, task: str | None, *, field_hint: str = "") -> DatasetSpec:
  """The registry entry of `name` for `task` (None: the name's own)."""
  if task is None:
    if name not in DATASETS:
      raise ValueError(
          f"unknown dataset name {name!r}{field_hint}; known: "
          f"{sorted(DATASETS)}.")
    return DATASETS[name]
  if task not in TASKS:
    raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}.")
  if name not in _BY_TASK[task]:
    raise ValueError(
        f"unknown {task} dataset name {name!r}{field_hint}; known: "
        f"{sorted(_BY_TASK[task])}.")
  return _BY_TASK[task][name]


def _fresh(value: Any) -> Any:
  """A placeholder of its own for each config (a shared one links them)."""
  if isinstance(value, ml_collections.FieldReference):
    return ml_collections.config_dict.placeholder(value.get_type())
  return value


def _resolve_fields(config: Any, task: str | None, *, check_files: bool
                   ) -> tuple[DatasetSpec, dict[str, Any]]:
  name = _fields.get(config, "name", "")
  spec = _spec(name, task, field_hint=" (config.data.name)")
  defaults = default_data_config(name, task=spec.task)
  given = _fields.known_fields(config)
  if given is not None and given - set(defaults.keys()):
    hint = ""
    if task is None and name in _BY_TASK["regression"]:
      hint = (f" (the regression {name} source: load_dataset(config, "
              f"task='regression'))")
    raise ValueError(
        f"unknown data config field(s) {sorted(given - set(defaults.keys()))}"
        f"; the fields are {sorted(defaults.keys())}{hint}.")
  fields = {k: _fields.get(config, k, v) for k, v in defaults.items()}
  if check_files and spec.check_files is not None:
    spec.check_files(fields)
  if spec.task == "classification":
    _fields.check_common_fields(
        fields, sources=spec.sources,
        has_official_counts=spec.official_counts is not None)
  if spec.check is not None:
    spec.check(fields)
  return spec, fields


def validate_data_config(config: Any, *, task: str | None = None,
                         check_files: bool = False) -> None:
  """Checks a data config's fields without reading any data.

  Run at start-up, before anything is compiled: an unknown name, an unknown
  field or a bad value raises a `ValueError` naming the field. Whether the
  data in the files fits is only known when `load_dataset` reads them.

  Args:
    config: as for `load_dataset`.
    task: as for `load_dataset`.
    check_files: also check that the files the config names exist (the
      regression datasets' `path` and `image_root`).
  """
  _resolve_fields(config, task, check_files=check_files)


def default_data_config(name: str, *,
                        task: str | None = None) -> ml_collections.ConfigDict:
  """Returns the data config of dataset `name` with its defaults.

  Args:
    name: a registry name.
    task: "classification" or "regression"; None for the name's own task
      (classification for `csv` and `npz`, which serve both).

  Classification fields:
  Fields:
    name: registry name (a key of `DATASETS`).
    path: local copy to read ("" = the official files in `data_dir`,
      downloaded if absent, or a TFDS copy prepared there). For list datasets,
      the folder the listed image paths are relative to.
    data_dir: where downloads go and TFDS copies are looked for ("" =
      `$LTJAX_DATA_DIR` or `~/.cache/ltjax` for downloads; for TFDS,
      `$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
    source: "auto" | "tfds" | "download" | "pickle" | "folder" | "idx" |
      "list".
    imbalance_ratio: rho = n_max / n_min, >= 1.
    imbalance_profile: "exp" | "step" | "given" (keep the training split) |
      "auto" (given if the training split is already imbalanced, its
      largest class at least twice its smallest, else exp; the `folder`
      default).
    subset_seed: seed of the long-tailed subset (0 = the original's).
    val_per_class: validation examples per class held out from the unused
      training images (CIFAR-10, MNIST: 50; CIFAR-100: 20, so that all but
      the head class get a full share at rho = 100); 0 = no validation split.
      Ignored where an official validation split exists. With the `given`
      profile they come out of the training split, at most half of each
      class (a class of n images gives min(val_per_class, n // 2)).
    val_seed: seed of the validation split.
    val_shortfall: "skip" | "from_train", for classes with fewer unused
      training images than val_per_class (CIFAR-LT's head class has none):
      "skip" keeps the papers' training set exactly and leaves those classes
      short in validation (their validation accuracy is NaN and balanced
      validation accuracy averages the other classes); "from_train" moves
      the shortfall out of the training subset into validation, so
      validation is balanced and the head class trains on n_max minus the
      shortfall (5,000 -> 4,950 for CIFAR-10-LT).
    image_size: crop side of streamed (list) datasets.
    train_list, val_list, test_list: `path label` files, absolute or
      relative to `path` (list datasets). The classes are 0..C-1 with C from
      the training list's largest label (or class_counts_file, or
      class_names); a val or test label >= C is an error naming its line.
    class_counts_file: optional file of training counts, one per line; must
      match the training list.
    class_names: label order of image folders ("" / () = sorted folder
      names); for list datasets, the names of labels 0..C-1 (C may exceed
      the training list's labels; default: the images' parent folders); for
      other sources, a check of the source's names.
    num_workers: image-decoding threads (0 = from the CPU count).
    download_timeout: seconds allowed per network step of a download.
    split_sizes: how a CIFAR / MNIST copy's split sizes are checked against
      the official ones (CIFAR-10: 5,000 train / 1,000 test images per
      class; CIFAR-100: 500 / 100; MNIST: 60,000 / 10,000 with the published
      per-class counts). "official": every class of train and test must
      have its official count. "auto": a split in which some classes have
      their official count and others do not is an error (a copy cut short
      or missing files); a split with no class at its official count is
      taken as a subset made on purpose in the same format, logged and
      recorded in `metadata["source"]["split_sizes"]`. "any": no check.

  Fields of name="csv" only (a CSV table of features, read by
  `read_csv_table`; `path` is the file):
    target: the label column: its header name or 0-based index (-1 =
      last).
    val_path, test_path: optional CSV files of the validation / test rows,
      with the same columns. Without test_path, a seeded stratified
      test_fraction of each class is the test split (every class keeps one
      training row); without val_path, val_per_class rows of each class are
      held out of training (at most half of a class; the `given` profile).
    test_fraction, split_seed: that test split.
    missing: missing-value markers besides the empty cell (always
      missing), comma-separated (e.g. "?" or "NA,?"). A missing numeric
      value is treated as non-finite; a missing category is all zeros in its
      one-hot block.
    categorical: columns (names or indices, comma-separated) to one-hot even
      though they hold numbers; text columns are always one-hot.
    drop_nonfinite: drop rows with NaN, inf or a missing numeric value
      (logged, with their lines) instead of refusing the file.
    header: True | False | None (detected).
    delimiter: one character, "tab", "auto" (`,`, tab or `;` from the first
      line), or "" (whitespace).
    encoding: the files' text encoding ("utf-8", a byte-order mark dropped;
      e.g. "latin-1" or "cp1252"); `ltjax predict` reads new rows with the
      run's. A byte it cannot decode is an error naming the file and line;
      a file with NUL bytes is refused as not a text CSV.

  Fields of name="npz" only (your own NumPy file, `path`, written by
  `np.savez(path, x=inputs, y=labels)`; see `ltjax.data._npz_dataset`):
    inputs_key, target_key: the arrays' names ("x", "y"): numeric features
      [N, D] or uint8 images [N, H, W, C], and int labels [N] in [0, C).
    val_path, test_path, test_fraction, split_seed, drop_nonfinite: as for
      name="csv" (a NaN or inf feature or label refuses the file unless
      drop_nonfinite). The classes are 0..C-1 (names from class_names).

  Fields of the text sources (name="imdb": the extracted aclImdb folder;
  "text_csv": your CSV / TSV file of texts and labels; "rotten_tomatoes":
  text_csv over rotten_tomatoes_corpus_full.csv.bz2, its fresh and rotten
  reviews). Texts become int32 token ids at load time; see
  `ltjax.data._text_dataset` for the steps:
    text, target, text_pair: text_csv: the header names of the text, label
      and (optional) second text columns. class_names (a common field)
      keeps those classes only, in that label order ("" = all, sorted).
    delimiter: text_csv: one character, "tab", or "" (tab for a .tsv name,
      else ",").
    val_path, test_path: text_csv: files with the same columns.
    test_fraction, split_seed: without a test split, floor(test_fraction *
      the smallest class's rows) seeded rows of every class are the test
      split (class-balanced).
    keep_fraction: {class name: fraction}: that seeded fraction (seed
      subset_seed) of the class's training rows is kept, after the
      validation split is held out (LDAM-DRW's imbalanced IMDB: {"neg":
      0.1}); validation and test stay balanced.
    tokenizer: "word" (lower-cased words and punctuation) or "byte" (UTF-8
      bytes).
    vocab_size: word: the most ids of the vocabulary built on the training
      split, <pad> and <unk> included.
    max_length: the tokens kept of each text (ids [N, max_length]).
    imbalance_profile defaults to "given", val_per_class to 200.

  Fields read by name="tfds" only (any TFDS image-classification set
  already prepared as ArrayRecord in `data_dir`; nothing is downloaded).
  Every data config has them, so that a command line can switch an image
  config to name=tfds; another name refuses a value other than the default:
    tfds_name: e.g. "beans" or "oxford_flowers102:2.1.1" (a pinned version).
    tfds_train_split, tfds_test_split: its split names ("train", "test").
    tfds_val_split: its validation split ("" = held out of training by
      val_per_class).
    Images of different sizes are resized and centre-cropped to
    image_size.

  Regression fields (task="regression"; errors name them config.data.X):
    name, path: the dataset and its file: the UCI abalone.data (abalone),
      the reference CSV age,path,split (agedb_dir, imdb_wiki_dir), your CSV
      (csv) or .npz (npz) file.
    standardize_targets: train on (y - mean) / std (default True for csv
      and npz, False for the benchmarks).
    val_per_label: abalone, csv, npz: val (and test) rows per target value
      or bin, at most a third of its rows (30).
    split_seed: abalone, csv, npz: seed of the split.
    drop_nonfinite: abalone, csv, npz: drop (and log) rows with a NaN / inf
      (csv: or missing) value instead of refusing the file.
    image_root: agedb_dir, imdb_wiki_dir: folder of the CSV's image paths
      ("" = the CSV's folder).
    image_size, num_workers: agedb_dir, imdb_wiki_dir: side of the resized
      images (224) and decoding threads (0 = from the CPU count).
    tokenizer, vocab_size, max_length: sts_b_dir (`path`: the folder of its
      train_new.tsv, dev_new.tsv, test_new.tsv): as for the text sources
      (word, 30,000, 40 tokens of each sentence: the reference's).
    target, missing, categorical, header, delimiter, encoding: csv: as for
      the classification csv (target: header name or 0-based index).
    split: csv, npz: "random" (csv default) or "balanced" (npz default; the
      DIR protocol over the default target bins).
    val_fraction, test_fraction: csv, npz: the random split's fractions.
    inputs_key, target_key: npz: the arrays' names ("x", "y"; y float).

  Example:
    >>> config = default_data_config("abalone")
    >>> config.path = "/data/abalone.data"
    >>> dataset = load_dataset(config)  # 3,305 / 436 / 436 rows
  """
  spec = _spec(name, task)
  values = {"name": name}
  if spec.task == "classification":
    values.update(_fields.COMMON_FIELDS)
  values.update(spec.defaults)
  values["name"] = name
  return ml_collections.ConfigDict({k: _fresh(v) for k, v in values.items()})


def load_dataset(config: Any, *, task: str | None = None
                ) -> _types.LongTailedDataset | _types.RegressionDataset:
  """Builds the dataset a config describes, for either task.

  Args:
    config: a ConfigDict (dict, or attribute object) with the fields of
      `default_data_config(config.name, task=task)`; missing fields take the
      defaults.
    task: "classification" or "regression"; None for the name's own task
      (classification for `csv` and `npz`, which serve both).

  Returns:
    A `LongTailedDataset` (classification) or `RegressionDataset`
    (regression), its `metadata` recording exactly which data it is.

  Raises:
    ValueError: an unknown name (listing the known ones), a bad field value
      (naming the field), or data that does not fit the protocol.
    FileNotFoundError: missing files (naming the path); when no copy of the
      data can be found or downloaded, the message lists the local formats
      accepted and the config fields to set.

  Example:
    >>> config = default_data_config("cifar10_lt")
    >>> config.path = "/data/cifar-10-python.tar.gz"
    >>> ds = load_dataset(config)  # 12,406 training images at rho = 100
  """
  spec, fields = _resolve_fields(config, task, check_files=True)
  return spec.load(fields["name"], spec, fields)


_CIFAR_FORMATS = (
    "the official python tarball ({tar}) or its extracted folder ({folder}/)",
    "an image folder train/<class>/*.{{png,jpg}} + test/<class>/..., or a "
    ".tar.gz of it (class folders named as the official classes)",
)
_ARRAY_SOURCES = ("auto", "download", "tfds", "pickle", "folder")
_TEXT_DEFAULTS = {"imbalance_profile": "given", "val_per_class": 200,
                  **_text_dataset.TEXT_FIELDS}
_AGE_SPEC = DatasetSpec(
    load=_dir_datasets.load_age_entry, sources=("auto",),
    defaults=_dir_datasets.AGE_FIELDS, check=_dir_datasets.check_age_fields,
    check_files=_dir_datasets.check_age_files, task="regression",
    local_formats=("the reference CSV (age,path,split) of the images",))

_BY_TASK = {
    "classification": {
        "cifar10_lt": DatasetSpec(
            load=_formats.load_array, sources=_ARRAY_SOURCES,
            defaults={"class_names": CIFAR10_CLASS_NAMES,
                      "val_per_class": 50},
            num_classes=10, download="cifar10", tfds="cifar10",
            official_counts={"train": (5000,) * 10, "test": (1000,) * 10},
            local_formats=tuple(f.format(tar="cifar-10-python.tar.gz",
                                         folder="cifar-10-batches-py")
                                for f in _CIFAR_FORMATS)),
        "cifar100_lt": DatasetSpec(
            load=_formats.load_array, sources=_ARRAY_SOURCES,
            defaults={"val_per_class": 20},
            num_classes=100, download="cifar100", tfds="cifar100",
            official_counts={"train": (500,) * 100, "test": (100,) * 100},
            local_formats=tuple(f.format(tar="cifar-100-python.tar.gz",
                                         folder="cifar-100-python")
                                for f in _CIFAR_FORMATS)),
        "mnist_lt": DatasetSpec(
            load=_formats.load_array,
            sources=("auto", "download", "tfds", "idx", "folder"),
            defaults={"val_per_class": 50},
            num_classes=10, download="mnist", tfds="mnist",
            official_counts={"train": MNIST_TRAIN_COUNTS,
                             "test": MNIST_TEST_COUNTS},
            local_formats=(
                "a folder of the IDX files train-images-idx3-ubyte[.gz], "
                "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                "t10k-labels-idx1-ubyte[.gz]",
                "an image folder train/<digit>/*.png + test/<digit>/..., or "
                "a .tar.gz of it")),
        "folder": DatasetSpec(
            load=_formats.load_array, sources=("auto", "folder"),
            defaults={"val_per_class": 50, "imbalance_profile": "auto"},
            local_formats=(
                "an image folder train/<class>/*.{png,jpg} + "
                "test/<class>/... (+ optional val/<class>/...), or a .tar.gz "
                "of it",)),
        "csv": DatasetSpec(
            load=_csv_dataset.load_classification, sources=("auto",),
            defaults={"imbalance_profile": "given", "val_per_class": 20,
                      **_csv_dataset.CLASSIFICATION_FIELDS},
            check=_csv_dataset.check_classification_fields,
            local_formats=("a CSV file of feature columns and a label "
                           "column",)),
        "npz": DatasetSpec(
            load=_npz_dataset.load_classification, sources=("auto",),
            defaults={"imbalance_profile": "given", "val_per_class": 20,
                      **_npz_dataset.CLASSIFICATION_FIELDS},
            check=_npz_dataset.check_classification_fields,
            local_formats=("a .npz file of inputs and labels",)),
        "tfds": DatasetSpec(
            load=_tfds_dataset.load, sources=("auto", "tfds"),
            defaults={}, check=_tfds_dataset.check_fields,
            local_formats=("(none: a TFDS data folder in "
                           "config.data.data_dir)",)),
        "imdb": DatasetSpec(
            load=_text_dataset.load, sources=("auto",),
            defaults={**_TEXT_DEFAULTS, **_text_dataset.IMDB},
            num_classes=2, check=_text_dataset.check_imdb_fields,
            check_files=_text_dataset.check_imdb_files,
            local_formats=("the extracted aclImdb folder (aclImdb/train/"
                           "pos/*.txt)",)),
        "text_csv": DatasetSpec(
            load=_text_dataset.load, sources=("auto",),
            defaults=_TEXT_DEFAULTS, check=_text_dataset.check_fields,
            check_files=_text_dataset.check_csv_files,
            local_formats=("a CSV / TSV file (plain, .gz or .bz2) with a "
                           "text and a label column",)),
        "rotten_tomatoes": DatasetSpec(
            load=_text_dataset.load, sources=("auto",),
            defaults={**_TEXT_DEFAULTS, **_text_dataset.ROTTEN_TOMATOES},
            check=_text_dataset.check_fields,
            check_files=_text_dataset.check_csv_files,
            local_formats=("rotten_tomatoes_corpus_full.csv.bz2 (columns "
                           "category, text, ...)",)),
        "list": DatasetSpec(
            load=_list_datasets.load_lists, sources=("auto", "list"),
            defaults={"imbalance_profile": "given", "val_per_class": 0},
            local_formats=("the folder the list files' image paths are "
                           "relative to",)),
        "imagenet_lt": DatasetSpec(
            load=_list_datasets.load_lists, sources=("auto", "list"),
            defaults={"imbalance_profile": "given", "val_per_class": 0,
                      "train_list": "ImageNet_LT_train.txt",
                      "val_list": "ImageNet_LT_val.txt",
                      "test_list": "ImageNet_LT_test.txt"},
            local_formats=("the ImageNet folder the list paths are relative "
                           "to",)),
        "places_lt": DatasetSpec(
            load=_list_datasets.load_lists, sources=("auto", "list"),
            defaults={"imbalance_profile": "given", "val_per_class": 0,
                      "train_list": "Places_LT_train.txt",
                      "val_list": "Places_LT_val.txt",
                      "test_list": "Places_LT_test.txt"},
            local_formats=("the Places-365 folder the list paths are "
                           "relative to",)),
    },
    "regression": {
        "abalone": DatasetSpec(
            load=_dir_datasets.load_abalone_entry, sources=("auto",),
            defaults=_dir_datasets.ABALONE_FIELDS,
            check=_dir_datasets.check_abalone_fields,
            check_files=_dir_datasets.check_abalone_files, task="regression",
            local_formats=("the UCI abalone.data file",)),
        "agedb_dir": _AGE_SPEC,
        "imdb_wiki_dir": _AGE_SPEC,
        "sts_b_dir": DatasetSpec(
            load=_text_dataset.load_sts_b_dir, sources=("auto",),
            defaults=_text_dataset.STS_B_DIR_FIELDS,
            check=_text_dataset.check_sts_b_dir_fields,
            check_files=_text_dataset.check_sts_b_dir_files,
            task="regression",
            local_formats=("the folder of STS-B-DIR's train_new.tsv, "
                           "dev_new.tsv and test_new.tsv",)),
        "csv": DatasetSpec(
            load=_csv_dataset.load_regression, sources=("auto",),
            defaults=_csv_dataset.REGRESSION_FIELDS,
            check=_csv_dataset.check_regression_fields,
            check_files=_csv_dataset.check_regression_files,
            task="regression",
            local_formats=("a CSV file of features and a target column",)),
        "npz": DatasetSpec(
            load=_npz_dataset.load_regression, sources=("auto",),
            defaults=_npz_dataset.REGRESSION_FIELDS,
            check=_npz_dataset.check_regression_fields,
            check_files=_npz_dataset.check_regression_files,
            task="regression",
            local_formats=("a .npz file of inputs and float targets",)),
    },
}
# Every name with its own task's entry (`csv` and `npz`: classification).
DATASETS = {**_BY_TASK["regression"], **_BY_TASK["classification"]}
