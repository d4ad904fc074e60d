"""Text sources: IMDB, your own text CSV, Rotten Tomatoes; STS-B-DIR.

The classification sources are below; `load_sts_b_dir` (the regression
dataset `sts_b_dir`, at the end) reads sentence pairs with a float score
into `TokenRegressionSplit`s by the same vocabulary and encoding rules.

Texts become token ids when the data is loaded, so every classification
loss, sampler, post-hoc adjustment, second stage and metric runs on them as
on images (`TokenSplit`). A text dataset is built in five steps:

1. The source gives the texts of each split: `imdb` reads the Large Movie
   Review Dataset as distributed (`aclImdb/{train,test}/{neg,pos}/*.txt`,
   `ltjax.text.read_imdb`), `text_csv` a CSV / TSV file (plain, `.gz` or
   `.bz2`) with a text column, a label column and optionally a second text
   column (`ltjax.text.read_text_csv`), and `rotten_tomatoes` is `text_csv`
   with the columns of `rotten_tomatoes_corpus_full.csv.bz2` (text in
   `text`, class in `category`; only "fresh" and "rotten", the "plot" rows
   dropped). `class_names`, when given, keeps those classes only, in that
   label order (the rows of other classes are dropped and counted).
2. The test split: IMDB's own (12,500 reviews of each class), a `test_path`
   file, or else a seeded class-balanced hold-out of the file: m =
   floor(test_fraction * n_min) rows of every class, n_min the smallest
   class's rows (`balanced_holdout`, seed `split_seed`). So test accuracy
   weighs every class equally, as IMDB's test set does.
3. The long-tailed protocol of every classification source
   (`ltjax.data._protocol`): `imbalance_profile` "given" (the default) keeps
   the remaining rows, "exp" / "step" cut a subset of them; the validation
   split is `val_path`, or `val_per_class` seeded rows of each class held
   out of training (each class keeps at least 80 % and 5 of its rows), so it
   is balanced too.
4. `keep_fraction` ({class name: fraction}) keeps that seeded fraction of a
   class's training rows (`ltjax.text.keep_fraction`, seed `subset_seed`):
   the imbalanced IMDB of LDAM-DRW (arXiv 1906.07413) keeps 10 % of the
   negative training reviews. Training only: validation and test stay
   balanced.
5. The vocabulary is built on the final training split only (`tokenizer`
   "word": the `vocab_size` most frequent lower-cased tokens, `<pad>` and
   `<unk>` included; "byte": the 258 UTF-8 byte ids, `vocab_size` unused),
   and every split is encoded to int32 ids [N, max_length] padded with 0
   (a text pair: [N, 2 max_length]). The vocabulary travels with the splits
   (`TokenSplit.vocabulary`): their digests hash it, and a run saves it in
   its workdir's inference.json.

The metadata records every step: the source and its dropped classes, how the
test split was cut, the long-tailed subset, the validation split, the kept
fractions and the vocabulary (size, sha256, texts cut at max_length).
"""

import dataclasses
import hashlib
import os
from typing import Any

from absl import logging
import numpy as np

from ltjax import text
from ltjax.data import _csv
from ltjax.data import _fields
from ltjax.data import _protocol
from ltjax.data import _splits
from ltjax.data import _types

# The fields of every text source (besides the common classification ones).
TEXT_FIELDS = {
    "text": "",  # text_csv: the text column's header name
    "target": "",  # text_csv: the label column's header name
    "text_pair": "",  # text_csv: a second text column (sentence pairs)
    "delimiter": "",  # text_csv: "" = tab for .tsv[.gz|.bz2], else ","
    "val_path": "",  # text_csv: a validation file with the same columns
    "test_path": "",  # text_csv: a test file with the same columns
    "test_fraction": 0.2,  # of the smallest class, per class (no test file)
    "split_seed": 0,  # the held-out test split's seed
    "keep_fraction": {},  # {class name: fraction of its training rows kept}
    "tokenizer": "word",  # word | byte
    "vocab_size": 20000,  # word: the most ids, <pad> and <unk> included
    "max_length": 256,  # tokens kept of each text
}
# Fields only `text_csv` (and its profiles) read.
CSV_ONLY = ("text", "target", "text_pair", "delimiter", "val_path",
            "test_path")
DELIMITERS = {"": None, "tab": "\t"}
TOKENIZERS = ("word", "byte")  # `ltjax.text.Vocabulary` kinds
# The Rotten Tomatoes corpus file's columns and classes.
ROTTEN_TOMATOES = {"text": "text", "target": "category",
                   "class_names": ("fresh", "rotten"),
                   "keep_fraction": {"rotten": 0.1}, "max_length": 64}
# LDAM-DRW's imbalanced IMDB: 10 % of the negative training reviews.
IMDB = {"keep_fraction": {"neg": 0.1}}


def _fractions(value: Any) -> dict[str, float]:
  """config.data.keep_fraction as {class name: fraction in [0, 1]}."""
  if hasattr(value, "to_dict"):
    value = value.to_dict()
  if value in ("", None):
    value = {}
  if not isinstance(value, dict):
    raise ValueError(
        f"config.data.keep_fraction must map class names to fractions, e.g. "
        f"--config.data.keep_fraction=\"{{'rotten': 0.1}}\", got {value!r}.")
  out = {}
  for name, fraction in value.items():
    if (isinstance(fraction, bool) or
        not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1):
      raise ValueError(
          f"config.data.keep_fraction[{name!r}] must be a fraction in "
          f"[0, 1], got {fraction!r}.")
    out[str(name)] = float(fraction)
  return out


def check_fields(fields: dict[str, Any]) -> None:
  """Checks the fields of a text source in place."""
  for key in ("text", "target", "text_pair"):
    if not isinstance(fields[key], str):
      raise ValueError(
          f"config.data.{key} must be a column's header name, got "
          f"{fields[key]!r}.")
    fields[key] = fields[key].strip()
  delimiter = fields["delimiter"]
  if not (delimiter in DELIMITERS or (isinstance(delimiter, str) and
                                      len(delimiter) == 1)):
    raise ValueError(
        f"config.data.delimiter must be one character, 'tab' or '' (tab for "
        f"a .tsv file, else ','), got {delimiter!r}.")
  if fields["tokenizer"] not in TOKENIZERS:
    raise ValueError(
        f"config.data.tokenizer must be one of {list(TOKENIZERS)}, got "
        f"{fields['tokenizer']!r}.")
  _fields.check_int(fields, "vocab_size", 3)
  _fields.check_int(fields, "max_length", 1)
  _fields.check_int(fields, "split_seed", 0)
  _fields.check_fraction(fields, "test_fraction",
                         "it is used when the source has no test split")
  fields["keep_fraction"] = _fractions(fields["keep_fraction"])
  _fields.expand_paths(fields, ("val_path", "test_path"))


def check_imdb_fields(fields: dict[str, Any]) -> None:
  """`check_fields`, and no field that only a CSV file has."""
  check_fields(fields)
  given = [k for k in CSV_ONLY if fields[k]]
  if given:
    raise ValueError(
        f"config.data.{given[0]}={fields[given[0]]!r} is read by "
        f"name='text_csv' (a CSV file's columns and files); imdb reads "
        f"aclImdb/{{train,test}}/{{neg,pos}}/*.txt. Clear "
        f"{', '.join('config.data.' + k for k in given)} (e.g. "
        f"--config.data.{given[0]}=).")


def check_imdb_files(fields: dict[str, Any]) -> None:
  """Names config.data.path unless it is a folder."""
  path = fields["path"] = os.path.expanduser(fields["path"] or "")
  if not path:
    raise ValueError(
        "config.data.path is empty: set it to the extracted aclImdb folder "
        "(aclImdb/train/pos/*.txt), e.g. --config.data.path=/data/aclImdb.")
  if not os.path.isdir(path):
    raise ValueError(
        f"config.data.path: {path!r} is not a folder; set it to the "
        f"extracted aclImdb folder (aclImdb/train/pos/*.txt).")


def check_csv_files(fields: dict[str, Any]) -> None:
  """Names config.data.path (a file), its other files and its columns."""
  fields["path"] = os.path.expanduser(fields["path"] or "")
  _fields.require_file(fields, "a CSV file with a text and a label column",
                       "reviews.csv")
  for key in ("val_path", "test_path"):
    path = fields[key] = os.path.expanduser(fields[key] or "")
    problem = path and _csv.path_problem(path)
    if problem:
      raise ValueError(
          f"config.data.{key}: {path!r} {problem}; set it to a CSV file with "
          f"the columns of config.data.path, or clear it.")
  for key, example in (("text", "review"), ("target", "label")):
    if not str(fields[key]).strip():
      raise ValueError(
          f"config.data.{key} is empty: set it to the {key} column's header "
          f"name, e.g. --config.data.{key}={example}.")


# pylint: disable-next=protected-access
@dataclasses.dataclass(frozen=True, eq=False)
class _Rows(_types._Labelled, _types._ArrayBacked):
  """Rows of a corpus and their labels: what the long-tailed protocol cuts."""
  rows: np.ndarray
  labels: np.ndarray

  _INPUTS = "rows"


def _restrict(data: text.TextData, names: tuple[str, ...], where: str
              ) -> tuple[text.TextData, dict[str, int]]:
  """The rows of classes `names` (labels in that order); dropped counts."""
  missing = [n for n in names if n not in data.class_names]
  if missing:
    raise ValueError(
        f"config.data.class_names: {where} has no class {missing[0]!r} (its "
        f"classes are {list(data.class_names)}); name some of them, or set "
        f"--config.data.class_names= for all of them.")
  old_to_new = np.full(len(data.class_names), -1, np.int32)
  for new, name in enumerate(names):
    old_to_new[data.class_names.index(name)] = new
  relabelled = old_to_new[data.labels]
  dropped = {name: int(np.sum(data.labels == c))
             for c, name in enumerate(data.class_names) if name not in names}
  kept = text.take(data, np.flatnonzero(relabelled >= 0))
  return dataclasses.replace(kept, labels=relabelled[relabelled >= 0],
                             class_names=names), dropped


def _read_csv(path: str, fields: dict[str, Any], field: str,
              class_names: tuple[str, ...] | None = None) -> text.TextData:
  """One text CSV file; a missing column names its config field."""
  delimiter = fields["delimiter"]
  try:
    return text.read_text_csv(
        path, text=fields["text"], target=fields["target"],
        text_pair=fields["text_pair"] or None, class_names=class_names,
        delimiter=DELIMITERS.get(delimiter, delimiter))
  except text.MissingColumnError as e:
    raise ValueError(
        f"config.data.{e.role}: {path} ({field}) has no column "
        f"{e.column!r}; its columns are {e.header}. Set "
        f"--config.data.{e.role} to one of them.") from None


def _read_corpus(name: str, fields: dict[str, Any]
                 ) -> tuple[dict[str, text.TextData], dict[str, Any]]:
  """{"train", ["val"], ["test"]: TextData} and the source's description."""
  path = fields["path"]
  if name == "imdb":
    try:
      corpus = text.read_imdb(path)
    except FileNotFoundError as e:
      raise FileNotFoundError(f"config.data.path: {e}") from None
    description = {"format": "imdb", "path": os.path.abspath(path)}
  else:  # the files were checked by `check_csv_files`
    corpus = {"train": _read_csv(path, fields, "config.data.path")}
    for key, split in (("val_path", "val"), ("test_path", "test")):
      if fields[key]:
        corpus[split] = _read_csv(fields[key], fields, f"config.data.{key}")
    description = {
        "format": "text_csv", "path": os.path.abspath(path),
        "text": fields["text"], "target": fields["target"],
        "text_pair": fields["text_pair"],
        **{split: {"path": os.path.abspath(fields[f"{split}_path"])}
           for split in ("val", "test") if split in corpus}}
  names = fields["class_names"] or corpus["train"].class_names
  dropped = {}
  for split, data in corpus.items():
    where = (path if split == "train" or name == "imdb"
             else fields[f"{split}_path"])
    corpus[split], gone = _restrict(data, tuple(names), f"{where} ({split})")
    dropped[split] = gone
  if any(dropped.values()):
    logging.info("%s: rows of classes outside config.data.class_names %s "
                 "dropped: %s.", name, list(names), dropped)
  description["dropped_classes"] = dropped
  return corpus, description


def _held_out_test(labels: np.ndarray, class_names: tuple[str, ...],
                   fields: dict[str, Any]
                   ) -> tuple[np.ndarray, dict[str, Any]]:
  """Rows of the class-balanced test split held out of a file."""
  counts = np.bincount(labels, minlength=len(class_names))
  per_class = int(np.floor(fields["test_fraction"] * counts.min()))
  if per_class < 1:
    raise ValueError(
        f"config.data.test_fraction={fields['test_fraction']} of the "
        f"smallest class ({class_names[int(np.argmin(counts))]!r}, "
        f"{counts.min()} rows) holds out no test rows; give a test file "
        f"(config.data.test_path) or a larger fraction.")
  rows = np.sort(_splits.balanced_holdout(
      labels, num_classes=len(class_names), per_class=per_class,
      seed=fields["split_seed"]))
  record = {"source": "held out of the file, class-balanced: "
                      "floor(test_fraction x the smallest class) rows of "
                      "each class",
            "per_class": per_class, "fraction": fields["test_fraction"],
            "seed": fields["split_seed"],
            "rows_sha256": _splits.index_digest(rows)}
  return rows, record


def _kept_rows(train: _Rows, class_names: tuple[str, ...],
               fields: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
  """Positions of `train` that `keep_fraction` keeps, and its record."""
  fractions = fields["keep_fraction"]
  unknown = [n for n in fractions if n not in class_names]
  if unknown:
    raise ValueError(
        f"config.data.keep_fraction names class {unknown[0]!r}, not one of "
        f"the data's classes {list(class_names)}; name those, or set "
        f"--config.data.keep_fraction=\"{{}}\" to keep every training row.")
  kept = text.keep_fraction(
      train.labels, {class_names.index(n): f for n, f in fractions.items()},
      seed=fields["subset_seed"])
  before = np.bincount(train.labels, minlength=len(class_names))
  after = np.bincount(train.labels[kept], minlength=len(class_names))
  return kept, {"fractions": fractions, "seed": fields["subset_seed"],
                "class_counts_before": before.tolist(),
                "class_counts_after": after.tolist()}


def _vocabulary(train: text.TextData, fields: dict[str, Any]
                ) -> text.Vocabulary:
  """The vocabulary of the training texts (both texts of a pair)."""
  if fields["tokenizer"] == "byte":
    return text.byte_vocabulary()
  texts = list(train.texts) + list(train.pair_texts or ())
  return text.build_vocabulary(texts, max_size=fields["vocab_size"])


def encode_split(data: text.TextData, vocabulary: text.Vocabulary, *,
                 max_length: int) -> _types.TokenSplit:
  """A `TokenSplit` of texts (pairs: both texts' ids side by side)."""
  ids, _ = text.encode(data.texts, vocabulary, max_length=max_length)
  if data.pair_texts is not None:
    second, _ = text.encode(data.pair_texts, vocabulary,
                            max_length=max_length)
    ids = np.concatenate([ids, second], axis=1)
  return _types.TokenSplit(ids=ids, labels=data.labels,
                           vocabulary=vocabulary,
                           pair=data.pair_texts is not None)


def vocabulary_sha256(vocabulary: text.Vocabulary) -> str:
  """16 hex digits of the vocabulary's JSON record."""
  record = text.vocabulary_to_json(vocabulary).encode("utf-8")
  return hashlib.sha256(record).hexdigest()[:16]


def load(name: str, spec: Any,
         fields: dict[str, Any]) -> _types.LongTailedDataset:
  """A text dataset (the module docstring's five steps)."""
  del spec
  corpus, description = _read_corpus(name, fields)
  train_text = corpus["train"]
  class_names = train_text.class_names
  if "test" in corpus:
    test_text = corpus["test"]
    test = _Rows(rows=np.arange(len(test_text)), labels=test_text.labels)
    pool = np.arange(len(train_text))
  else:
    test_text = train_text
    rows, description["test"] = _held_out_test(train_text.labels,
                                               class_names, fields)
    test = _Rows(rows=rows, labels=train_text.labels[rows])
    pool = np.setdiff1d(np.arange(len(train_text)), rows)
  splits = {"train": _Rows(rows=pool, labels=train_text.labels[pool]),
            "test": test}
  val_text = corpus.get("val", train_text)
  if "val" in corpus:
    splits["val"] = _Rows(rows=np.arange(len(val_text)),
                          labels=val_text.labels)
  source = _types.SourceData(splits=splits, class_names=class_names,
                             description=description)
  rows = _protocol.build_long_tailed(name, source, fields, "text")
  kept, kept_record = _kept_rows(rows.train, class_names, fields)
  train_rows = rows.train.rows[kept]
  texts = {"train": text.take(train_text, train_rows),
           "val": (None if rows.val is None
                   else text.take(val_text, rows.val.rows)),
           "test": text.take(test_text, rows.test.rows)}
  vocabulary = _vocabulary(texts["train"], fields)
  length = fields["max_length"]
  out = {split: None if data is None else
         encode_split(data, vocabulary, max_length=length)
         for split, data in texts.items()}
  counts = np.bincount(out["train"].labels, minlength=len(class_names))
  if counts.min() < 1:
    empty = class_names[int(np.argmin(counts))]
    raise ValueError(
        f"{name}: class {empty!r} has no training rows left after "
        f"config.data.keep_fraction {fields['keep_fraction']} (training "
        f"counts {counts.tolist()}); raise its fraction.")
  metadata = dict(rows.metadata)
  metadata.update(
      train_size=int(counts.sum()), train_class_counts=counts.tolist(),
      train_indices_sha256=_splits.index_digest(train_rows),
      keep_fraction=kept_record,
      vocabulary={
          "tokenizer": vocabulary.kind, "size": len(vocabulary),
          "vocab_size": fields["vocab_size"], "max_length": length,
          "built_on": "the training split", "sha256":
              vocabulary_sha256(vocabulary),
          "texts_at_max_length": {
              split: int(np.sum(s.lengths >= length))
              for split, s in out.items() if s is not None}})
  if metadata["imbalance_profile"] == "given":
    metadata["imbalance_ratio"] = float(counts.max() / counts.min())
  logging.info(
      "%s: %d train / %d val / %d test texts, training counts %s; %s "
      "vocabulary of %d ids from the training split, %d tokens per text.",
      name, len(out["train"]), 0 if out["val"] is None else len(out["val"]),
      len(out["test"]), counts.tolist(), vocabulary.kind, len(vocabulary),
      length)
  return _types.LongTailedDataset(
      name=name, train=out["train"], val=out["val"], test=out["test"],
      class_names=class_names, train_class_counts=counts,
      metadata=metadata)


# ---------------------------------------------------------------------------
# Text regression: STS-B-DIR (Yang et al., arXiv 2102.09554).

# The DIR repository's files (`sts-b-dir/glue_data/STS-B/*_new.tsv`) and
# columns: sentence pairs with a similarity score in [0, 5].
STS_B_DIR_FILES = {"train": "train_new.tsv", "val": "dev_new.tsv",
                   "test": "test_new.tsv"}
STS_B_DIR_COLUMNS = {"text": "sentence1", "text_pair": "sentence2",
                     "target": "score"}
# config.data fields of `sts_b_dir` (besides `name`). The reference's
# max_seq_len is 40 and max_word_v_size 30,000.
STS_B_DIR_FIELDS = {
    "path": "",  # the folder of train_new.tsv, dev_new.tsv, test_new.tsv
    "tokenizer": "word",
    "vocab_size": 30000,
    "max_length": 40,
    "standardize_targets": False,
}


def check_sts_b_dir_fields(fields: dict[str, Any]) -> None:
  """Checks the tokenizer fields of `sts_b_dir` in place."""
  if fields["tokenizer"] not in TOKENIZERS:
    raise ValueError(
        f"config.data.tokenizer must be one of {list(TOKENIZERS)}, got "
        f"{fields['tokenizer']!r}.")
  _fields.check_int(fields, "vocab_size", 3)
  _fields.check_int(fields, "max_length", 1)


def check_sts_b_dir_files(fields: dict[str, Any]) -> None:
  """Names config.data.path unless it is a folder with the three files."""
  path = fields["path"] = os.path.expanduser(fields["path"] or "")
  if not path or not os.path.isdir(path):
    raise ValueError(
        f"config.data.path: {path!r} is not a folder; set it to the folder "
        f"of STS-B-DIR's {', '.join(STS_B_DIR_FILES.values())} (the DIR "
        f"repository's sts-b-dir/glue_data/STS-B).")
  missing = [f for f in STS_B_DIR_FILES.values()
             if not os.path.isfile(os.path.join(path, f))]
  if missing:
    raise ValueError(
        f"config.data.path: {path!r} has no {', '.join(missing)}; STS-B-DIR "
        f"is {', '.join(STS_B_DIR_FILES.values())}.")


def encode_regression_split(data: text.TextData, vocabulary: text.Vocabulary,
                            *, max_length: int) -> _types.TokenRegressionSplit:
  """A `TokenRegressionSplit` of texts (pairs side by side) and targets."""
  ids = encode_split(
      dataclasses.replace(data, labels=np.zeros(len(data), np.int32)),
      vocabulary, max_length=max_length).ids
  return _types.TokenRegressionSplit(
      ids=ids, targets=np.asarray(data.labels, np.float32),
      vocabulary=vocabulary, pair=data.pair_texts is not None)


def load_sts_b_dir(name: str, spec: Any,
                   fields: dict[str, Any]) -> _types.RegressionDataset:
  """STS-B-DIR: sentence pairs and their similarity score, as token ids.

  The splits are the DIR repository's files as they are (5,249 train; dev
  and test 1,000 each, balanced over 20 bins of width 0.25 on [0, 5],
  `create_sts.py`), read with `ltjax.text.read_text_csv` (columns
  sentence1, sentence2, float score; a TSV without quoting). The vocabulary
  (`tokenizer`, at most `vocab_size` ids) is built on the training
  sentences only; each sentence keeps its first `max_length` tokens and a
  row holds both sentences' ids ([N, 2 max_length]).

  Differences from the reference (`sts-b-dir/tasks.py`, `preprocess.py`):
  it tokenises with NLTK's word tokenizer and builds its vocabulary over
  the train, dev and test sentences (for the GloVe look-up), and it drops a
  row whose sentence is empty after tokenisation (none in these files);
  here the vocabulary sees training sentences only (an unseen word is
  `<unk>`) and every row is kept.
  """
  del spec
  root = fields["path"]
  read = {}
  for split, file_name in STS_B_DIR_FILES.items():
    path = os.path.join(root, file_name)
    try:
      read[split] = text.read_text_csv(
          path, text=STS_B_DIR_COLUMNS["text"],
          text_pair=STS_B_DIR_COLUMNS["text_pair"],
          target=STS_B_DIR_COLUMNS["target"], target_kind="float",
          delimiter="\t")
    except text.MissingColumnError as e:
      raise ValueError(
          f"config.data.path: {path} has no column {e.column!r} (its "
          f"columns are {e.header}); STS-B-DIR's files have "
          f"{list(STS_B_DIR_COLUMNS.values())}.") from None
  vocabulary = _vocabulary(read["train"], fields)
  length = fields["max_length"]
  out = {split: encode_regression_split(data, vocabulary, max_length=length)
         for split, data in read.items()}
  metadata = {
      "source": name, "path": os.path.abspath(root),
      "files": dict(STS_B_DIR_FILES), "columns": dict(STS_B_DIR_COLUMNS),
      "sizes": {split: len(s) for split, s in out.items()},
      "train_indices_sha256": _splits.index_digest(
          np.arange(len(out["train"]))),
      "vocabulary": {
          "tokenizer": vocabulary.kind, "size": len(vocabulary),
          "vocab_size": fields["vocab_size"], "max_length": length,
          "built_on": "the training split",
          "sha256": vocabulary_sha256(vocabulary),
          "texts_at_max_length": {
              split: int(np.sum(s.lengths >= length))
              for split, s in out.items()}}}
  logging.info("%s: %d train / %d val / %d test sentence pairs; %s "
               "vocabulary of %d ids from the training split.", name,
               len(out["train"]), len(out["val"]), len(out["test"]),
               vocabulary.kind, len(vocabulary))
  return _types.RegressionDataset(name=name, train=out["train"],
                                  val=out["val"], test=out["test"],
                                  metadata=metadata)
