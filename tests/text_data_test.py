"""Text sources of the data registry: imdb, text_csv, rotten_tomatoes.

Each source on a tiny corpus written here (an aclImdb tree, a CSV file and
its .bz2 / .gz / .tsv forms). Expected counts follow the documented rules,
written out here: a class-balanced held-out test split of floor(test_fraction
* the smallest class) rows per class, the validation split held out of the
rest (`testdata.held_out_val_counts`), then `keep_fraction` on the training
rows only (floor(f * n + 1/2) of a class of n). Token ids are checked against
`ltjax.text.tokenize` of the texts written.
"""

import bz2
import collections
import csv
import gzip
import io
import os

from absl.testing import absltest
import numpy as np

from ltjax import data
from ltjax import text
import testdata

RT_FILE = ("/work/shared/data/rotten_tomatoes/"
           "rotten_tomatoes_corpus_full.csv.bz2")


def review(label: str, n: int, split: str) -> str:
  """A distinct text per (label, n, split), with a word of its own."""
  mood = {"pos": "great fun", "neg": "dull mess", "fresh": "a delight",
          "rotten": "a bore", "plot": "a man walks", "a": "alpha",
          "b": "beta", "c": "gamma"}[label]
  return f"It is {mood}, Really! {split}{label}{n}"


def write_imdb(root: str, counts: dict[str, dict[str, int]]) -> str:
  """aclImdb/<split>/<label>/<n>_7.txt with counts[split][label] files."""
  folder = os.path.join(root, "aclImdb")
  for split, per_label in counts.items():
    for label, n in per_label.items():
      os.makedirs(os.path.join(folder, split, label))
      for i in range(n):
        with open(os.path.join(folder, split, label, f"{i}_7.txt"), "w",
                  encoding="utf-8") as f:
          f.write(review(label, i, split))
  os.makedirs(os.path.join(folder, "train", "unsup"))  # ignored
  return folder


def csv_rows(counts: dict[str, int], split: str = "train"):
  """[label, text, extra] rows, the classes interleaved."""
  rows = []
  for i in range(max(counts.values())):
    for label, n in counts.items():
      if i < n:
        rows.append([label, review(label, i, split), f"x{i}"])
  return rows


def write_table(path: str, rows, header=("label", "review", "extra"),
                delimiter=","):
  buffer = io.StringIO()
  writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
  writer.writerow(header)
  writer.writerows(rows)
  opener = (bz2.open if path.endswith(".bz2") else
            gzip.open if path.endswith(".gz") else open)
  with opener(path, "wt", encoding="utf-8") as f:
    f.write(buffer.getvalue())
  return path


def normalised(texts, length):
  """What `decode` gives for a text with every word in the vocabulary."""
  return [" ".join(text.tokenize(t)[:length]) for t in texts]


def csv_config(table, **fields):
  config = data.default_data_config("text_csv")
  config.path, config.text, config.target = table, "review", "label"
  config.max_length = 8
  config.val_per_class = 2
  for key, value in fields.items():
    config[key] = value
  return config


def kept(n, fraction):
  return int(np.floor(fraction * n + 0.5))


class ImdbTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = testdata.make_tempdir(self)
    self.counts = {"train": {"neg": 30, "pos": 30},
                   "test": {"neg": 6, "pos": 6}}
    write_imdb(self.root, self.counts)
    self.config = data.default_data_config("imdb")
    self.config.path = self.root
    self.config.val_per_class = 4
    self.config.max_length = 12

  def test_ldam_protocol_and_official_test(self):
    ds = data.load_dataset(self.config)
    # Official test split; validation held out balanced; 10 % of the
    # remaining negative reviews kept (the default keep_fraction).
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [6, 6])
    np.testing.assert_array_equal(np.bincount(ds.val.labels), [4, 4])
    np.testing.assert_array_equal(ds.train_class_counts,
                                  [kept(30 - 4, 0.1), 30 - 4])
    self.assertEqual(ds.class_names, ("neg", "pos"))
    self.assertEqual(ds.input_kind, "tokens")
    self.assertEqual(ds.train.ids.dtype, np.int32)
    self.assertEqual(ds.train.ids.shape, (len(ds.train), 12))
    # Every row decodes to a review of its split and class; the last word
    # of a validation or test review (its own word) is <unk>.
    for name in ("train", "val", "test"):
      split = getattr(ds, name)
      folder = "test" if name == "test" else "train"
      decoded = text.decode(split.ids, split.lengths, split.vocabulary)
      for row, label in zip(decoded, split.labels):
        written = [text.tokenize(review(ds.class_names[label], i, folder))
                   for i in range(30)]
        if name != "train":
          written = [words[:-1] + ["<unk>"] for words in written]
        self.assertIn(row, [" ".join(words) for words in written], name)
    decoded = text.decode(ds.train.ids, ds.train.lengths, ds.train.vocabulary)
    self.assertLen(set(decoded), len(ds.train))

  def test_vocabulary_from_training_reviews_only(self):
    ds = data.load_dataset(self.config)
    vocab = ds.train.vocabulary
    # Each review's last word is its own: those of the training reviews are
    # in the vocabulary, those of validation and test reviews are not.
    test_words = {f"test{c}{i}" for c in ("neg", "pos") for i in range(6)}
    self.assertEmpty(test_words & set(vocab.tokens))
    last = ds.train.ids[np.arange(len(ds.train)), ds.train.lengths - 1]
    self.assertNotIn(text.UNK_ID, last)
    last = ds.test.ids[np.arange(len(ds.test)), ds.test.lengths - 1]
    np.testing.assert_array_equal(last, text.UNK_ID)
    last = ds.val.ids[np.arange(len(ds.val)), ds.val.lengths - 1]
    np.testing.assert_array_equal(last, text.UNK_ID)
    record = ds.metadata["vocabulary"]
    self.assertEqual(record["size"], len(vocab))
    self.assertEqual(record["built_on"], "the training split")

  def test_csv_fields_and_a_missing_folder_are_refused(self):
    self.config.text = "review"
    with self.assertRaisesRegex(ValueError,
                                r"^config.data.text='review' is read by "
                                r"name='text_csv'[^\n]*$"):
      data.load_dataset(self.config)
    self.config.text = ""
    self.config.path = os.path.join(self.root, "nowhere")
    with self.assertRaisesRegex(ValueError, r"^config.data.path: .*nowhere"
                                r"' is not a folder"):
      data.load_dataset(self.config)
    self.config.path = ""
    with self.assertRaisesRegex(ValueError, "config.data.path is empty"):
      data.load_dataset(self.config)


class TextCsvTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = testdata.make_tempdir(self)
    self.counts = {"a": 40, "b": 25, "c": 12, "plot": 5}
    self.rows = csv_rows(self.counts)
    self.path = write_table(os.path.join(self.tmp, "t.csv"), self.rows)

  def test_counts_follow_the_documented_rules(self):
    config = csv_config(self.path, class_names=("a", "b", "c"),
                        keep_fraction={"b": 0.5})
    ds = data.load_dataset(config)
    self.assertEqual(ds.class_names, ("a", "b", "c"))
    per_class = int(np.floor(0.2 * 12))  # test_fraction of the smallest
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [per_class] * 3)
    pool = np.array([40, 25, 12]) - per_class
    val = testdata.held_out_val_counts(pool, 2)
    np.testing.assert_array_equal(np.bincount(ds.val.labels), val)
    after_val = pool - val
    np.testing.assert_array_equal(
        ds.train_class_counts, [after_val[0], kept(after_val[1], 0.5),
                                after_val[2]])
    record = ds.metadata["source"]
    self.assertEqual(record["dropped_classes"], {"train": {"plot": 5}})
    self.assertEqual(record["test"]["per_class"], per_class)
    self.assertEqual(ds.metadata["keep_fraction"]["class_counts_before"],
                     after_val.tolist())

  def test_keep_fraction_touches_training_only(self):
    # Byte ids do not depend on the vocabulary, so the splits compare as
    # arrays: validation and test are the same rows with and without it.
    full = data.load_dataset(csv_config(self.path, tokenizer="byte"))
    cut = data.load_dataset(csv_config(self.path, tokenizer="byte",
                                       keep_fraction={"c": 0.3}))
    for name in ("val", "test"):
      np.testing.assert_array_equal(getattr(full, name).ids,
                                    getattr(cut, name).ids)
      np.testing.assert_array_equal(getattr(full, name).labels,
                                    getattr(cut, name).labels)
    c = full.class_names.index("c")
    expected = full.train_class_counts.copy()
    expected[c] = kept(expected[c], 0.3)
    np.testing.assert_array_equal(cut.train_class_counts, expected)
    # The kept rows are rows of the full training split.
    full_rows = {r.tobytes() for r in full.train.ids}
    self.assertTrue(all(r.tobytes() in full_rows for r in cut.train.ids))
    self.assertEqual(cut.train.vocabulary, text.byte_vocabulary())
    self.assertEqual(full.train.ids.shape[1], 8)

  def test_compressed_and_tab_separated_files_are_the_same_data(self):
    base = data.dataset_digests(data.load_dataset(csv_config(self.path)))
    for name, delimiter in (("t.csv.bz2", ","), ("t.csv.gz", ","),
                            ("t.tsv", "\t"), ("t.tsv.bz2", "\t")):
      path = write_table(os.path.join(self.tmp, name), self.rows,
                         delimiter=delimiter)
      self.assertEqual(data.dataset_digests(data.load_dataset(
          csv_config(path))), base, name)

  def test_digest_covers_the_file(self):
    digests = data.dataset_digests(data.load_dataset(csv_config(self.path)))
    ds = data.load_dataset(csv_config(self.path))
    # One word of one training review changed: only the training split (and
    # not its size) differs.
    train_text = text.decode(ds.train.ids[:1], ds.train.lengths[:1],
                             ds.train.vocabulary)[0]
    rows = [list(r) for r in self.rows]
    index = next(i for i, r in enumerate(rows)
                 if normalised([r[1]], 8)[0] == train_text)
    rows[index][1] = rows[index][1].replace("Really", "Truly")
    other = write_table(os.path.join(self.tmp, "other.csv"), rows)
    changed = data.dataset_digests(data.load_dataset(csv_config(other)))
    self.assertNotEqual(changed["train"]["digest"],
                        digests["train"]["digest"])
    self.assertEqual(changed["train"]["size"], digests["train"]["size"])
    # A relabelled row changes the data too.
    rows = [list(r) for r in self.rows]
    rows[index][0] = "b" if rows[index][0] != "b" else "a"
    relabelled = write_table(os.path.join(self.tmp, "relabelled.csv"), rows)
    self.assertNotEqual(
        data.dataset_digests(data.load_dataset(csv_config(relabelled))),
        digests)

  def test_same_ids_of_another_vocabulary_are_other_data(self):
    ids = np.array([[2, 3, 0], [3, 0, 0]])
    labels = np.array([0, 1])
    one = text.Vocabulary(("<pad>", "<unk>", "good", "bad"))
    two = text.Vocabulary(("<pad>", "<unk>", "bad", "good"))
    self.assertNotEqual(
        data.split_digest(data.TokenSplit(ids, labels, vocabulary=one)),
        data.split_digest(data.TokenSplit(ids, labels, vocabulary=two)))
    self.assertEqual(
        data.split_digest(data.TokenSplit(ids, labels, vocabulary=one)),
        data.split_digest(data.TokenSplit(ids.copy(), labels,
                                          vocabulary=text.Vocabulary(
                                              one.tokens))))

  def test_pairs(self):
    rows = [[r[0], r[1], f"second {r[0]} {r[2]}"] for r in self.rows]
    path = write_table(os.path.join(self.tmp, "pairs.csv"), rows)
    ds = data.load_dataset(csv_config(path, text_pair="extra"))
    self.assertEqual(ds.input_kind, "token_pairs")
    self.assertEqual(ds.train.ids.shape[1], 16)
    self.assertEqual(ds.train.max_length, 8)
    second = text.decode(ds.train.ids[:, 8:],
                         np.sum(ds.train.ids[:, 8:] != 0, axis=1),
                         ds.train.vocabulary)
    for words, label in zip(second, ds.train.labels):
      self.assertTrue(words.startswith(f"second {ds.class_names[label]} x"),
                      words)
    inputs = text.inputs_from_ids(ds.train.ids, pair=True)
    np.testing.assert_array_equal(inputs["pair_ids"], ds.train.ids[:, 8:])
    np.testing.assert_array_equal(inputs["lengths"], ds.train.lengths)

  def test_test_and_val_files(self):
    test = write_table(os.path.join(self.tmp, "test.csv"),
                       csv_rows({"a": 3, "b": 3, "c": 3}, "test"))
    val = write_table(os.path.join(self.tmp, "val.csv"),
                      csv_rows({"a": 2, "b": 2, "c": 2, "plot": 1}, "val"))
    ds = data.load_dataset(csv_config(self.path, test_path=test,
                                      val_path=val,
                                      class_names=("a", "b", "c")))
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [3, 3, 3])
    np.testing.assert_array_equal(np.bincount(ds.val.labels), [2, 2, 2])
    # Nothing of the training file is held out.
    np.testing.assert_array_equal(ds.train_class_counts, [40, 25, 12])
    self.assertEqual(ds.metadata["source"]["dropped_classes"]["val"],
                     {"plot": 1})

  def test_missing_columns_files_and_fields_name_the_field(self):
    cases = [
        (dict(text="text"), r"config.data.text: .*t.csv \(config.data.path\)"
         r" has no column 'text'; its columns are \['label', 'review', "
         r"'extra'\]. Set --config.data.text to one of them."),
        (dict(target="category"), r"config.data.target: .* has no column "
         r"'category'"),
        (dict(text_pair="second"), r"config.data.text_pair: .* has no "
         r"column 'second'"),
        (dict(path=os.path.join(self.tmp, "absent.csv")),
         r"config.data.path: '.*absent.csv' does not exist"),
        (dict(path=self.tmp), r"config.data.path: .* is a directory"),
        (dict(test_path=os.path.join(self.tmp, "absent.csv")),
         r"config.data.test_path: '.*absent.csv' does not exist"),
        (dict(text=""), r"config.data.text is empty: set it to the text "
         r"column's header name"),
        (dict(keep_fraction={"z": 0.5}), r"config.data.keep_fraction names "
         r"class 'z', not one of the data's classes"),
        (dict(keep_fraction={"a": 1.5}), r"config.data.keep_fraction\['a'\] "
         r"must be a fraction in \[0, 1\]"),
        (dict(class_names=("a", "z")), r"config.data.class_names: .* has no "
         r"class 'z'"),
        (dict(tokenizer="bpe"), r"config.data.tokenizer must be one of "
         r"\['word', 'byte'\]"),
        (dict(max_length=0), r"config.data.max_length must be an integer "
         r">= 1"),
        (dict(test_fraction=0.01), r"config.data.test_fraction=0.01 of the "
         r"smallest class \('plot', 5 rows\) holds out no test rows"),
    ]
    for fields, message in cases:
      with self.assertRaises(ValueError, msg=str(fields)) as cm:
        data.load_dataset(csv_config(self.path, **fields))
      self.assertRegex(str(cm.exception), message)
      self.assertNotIn("\n", str(cm.exception), fields)
      self.assertNotIsInstance(cm.exception, text.MissingColumnError)


class RottenTomatoesTest(absltest.TestCase):

  def test_profile_reads_the_corpus_columns(self):
    tmp = testdata.make_tempdir(self)
    counts = {"fresh": 60, "rotten": 50, "plot": 7}
    rows = [[label, body, "movie", "True"]
            for label, body, _ in csv_rows(counts)]
    path = write_table(os.path.join(tmp, "rt.csv.bz2"), rows,
                       header=("category", "text", "movie_name",
                               "has_plot_and_reviews"))
    config = data.default_data_config("rotten_tomatoes")
    config.path = path
    config.val_per_class = 5
    ds = data.load_dataset(config)
    self.assertEqual(ds.class_names, ("fresh", "rotten"))
    test = int(np.floor(0.2 * 50))
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [test, test])
    np.testing.assert_array_equal(ds.train_class_counts,
                                  [60 - test - 5, kept(50 - test - 5, 0.1)])
    self.assertEqual(ds.train.max_length, 64)
    self.assertEqual(ds.metadata["source"]["dropped_classes"],
                     {"train": {"plot": 7}})

  @absltest.skipUnless(os.path.exists(RT_FILE), "no Rotten Tomatoes file")
  def test_the_corpus_file(self):
    config = data.default_data_config("rotten_tomatoes")
    config.path = RT_FILE
    ds = data.load_dataset(config)
    # 7,403 fresh and 5,405 rotten reviews (1,097 plot rows dropped).
    test = int(np.floor(0.2 * 5405))
    np.testing.assert_array_equal(np.bincount(ds.test.labels), [test, test])
    np.testing.assert_array_equal(np.bincount(ds.val.labels), [200, 200])
    np.testing.assert_array_equal(
        ds.train_class_counts,
        [7403 - test - 200, kept(5405 - test - 200, 0.1)])


class TokenSplitTest(absltest.TestCase):

  def test_contract(self):
    vocab = text.Vocabulary(("<pad>", "<unk>", "x", "y"))
    split = data.TokenSplit(np.array([[2, 3, 0], [3, 0, 0], [0, 0, 0]]),
                            np.array([0, 1, 1]), vocabulary=vocab)
    self.assertEqual(split.input_kind, "tokens")
    self.assertEqual((split.vocab_size, split.max_length), (4, 3))
    np.testing.assert_array_equal(split.lengths, [2, 1, 0])
    ids, labels = split.get_batch(np.array([1, 0]))
    np.testing.assert_array_equal(ids, [[3, 0, 0], [2, 3, 0]])
    np.testing.assert_array_equal(labels, [1, 0])
    self.assertEqual(len(split.subset(np.array([2]))), 1)
    self.assertIs(split.subset(np.array([2])).vocabulary, vocab)
    with self.assertRaisesRegex(ValueError, "row 1 has padding"):
      data.TokenSplit(np.array([[2, 3], [0, 2]]), np.array([0, 1]))
    with self.assertRaisesRegex(ValueError, r"ids must lie in \[0, 4\)"):
      data.TokenSplit(np.array([[4, 0]]), np.array([0]), vocabulary=vocab)
    with self.assertRaisesRegex(ValueError, r"\[N, 2 \* L\]"):
      data.TokenSplit(np.array([[2, 0, 0]]), np.array([0]), pair=True)

  def test_lengths_from_ids_are_encode_lengths(self):
    texts = ["one two three", "", "four", "a b c d e f g h i j"]
    vocab = text.build_vocabulary(texts, max_size=20)
    ids, lengths = text.encode(texts, vocab, max_length=6)
    np.testing.assert_array_equal(text.inputs_from_ids(ids)["lengths"],
                                  lengths)
    np.testing.assert_array_equal(
        data.TokenSplit(ids, np.zeros(4, int)).lengths, lengths)
    counts = collections.Counter(lengths.tolist())
    self.assertEqual(counts[6], 1)  # the long text is cut at max_length


if __name__ == "__main__":
  absltest.main()
