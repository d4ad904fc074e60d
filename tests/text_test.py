"""Tests of ltjax.text's tokenizers and corpus readers (no JAX runs here).

Expected values are written out by hand or follow from a property (a round
trip, an order that must not matter); the corpora are tiny files the tests
write themselves in the official layouts.
"""

import bz2
import collections
import gzip
import json
import os
import random
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import text


def temp_dir(test: absltest.TestCase) -> str:
  """A fresh folder removed after the test (absltest's create_tempdir needs
  parsed flags, which pytest does not give)."""
  tmp = tempfile.TemporaryDirectory()
  test.addCleanup(tmp.cleanup)
  return tmp.name

CORPUS = (
    "The movie was GREAT, great fun!",
    "A dull movie; the plot was thin.",
    "Great acting... but the movie dragged.",
    "I'd watch it again: 10/10.",
)


class TokenizeTest(parameterized.TestCase):

  @parameterized.parameters(
      ("Don't stop!", ["don", "'", "t", "stop", "!"]),
      ("Great film, 10/10!", ["great", "film", ",", "10", "/", "10", "!"]),
      ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
      ("Ünïcode ÉTÉ snake_case", ["ünïcode", "été", "snake_case"]),
      ("<pad> <unk>", ["<", "pad", ">", "<", "unk", ">"]),
      ("", []),
  )
  def test_tokenize(self, sentence, expected):
    self.assertEqual(text.tokenize(sentence), expected)

  def test_vocabulary_orders_by_count_then_token(self):
    vocab = text.build_vocabulary(CORPUS, max_size=100)
    counts = collections.Counter(
        t for s in CORPUS for t in text.tokenize(s))
    self.assertEqual(vocab.tokens[:2], ("<pad>", "<unk>"))
    self.assertEqual(set(vocab.tokens[2:]), set(counts))
    keys = [(-counts[t], t) for t in vocab.tokens[2:]]
    self.assertEqual(keys, sorted(keys))
    # "." x6, then "great", "movie", "the" x3 each (a tie: by the token).
    self.assertEqual(vocab.tokens[2:6], (".", "great", "movie", "the"))

  def test_vocabulary_is_independent_of_text_order(self):
    texts = list(CORPUS) * 3 + ["zeta alpha", "alpha zeta"]
    shuffled = list(texts)
    random.Random(0).shuffle(shuffled)
    self.assertEqual(text.build_vocabulary(texts, max_size=12),
                     text.build_vocabulary(shuffled, max_size=12))

  def test_size_cap_and_min_count(self):
    vocab = text.build_vocabulary(CORPUS, max_size=5)
    self.assertLen(vocab, 5)
    self.assertEqual(vocab.tokens, ("<pad>", "<unk>", ".", "great", "movie"))
    counts = collections.Counter(t for s in CORPUS for t in text.tokenize(s))
    frequent = text.build_vocabulary(CORPUS, max_size=1000, min_count=2)
    self.assertEqual(set(frequent.tokens[2:]),
                     {t for t, n in counts.items() if n >= 2})
    self.assertLen(text.build_vocabulary(CORPUS, max_size=2), 2)
    with self.assertRaisesRegex(ValueError, "max_size"):
      text.build_vocabulary(CORPUS, max_size=1)

  def test_encode_pads_and_truncates(self):
    vocab = text.build_vocabulary(["b b a"], max_size=4)  # <pad> <unk> b a
    ids, lengths = text.encode(["b a", "a a b b a", ""], vocab, max_length=4)
    np.testing.assert_array_equal(ids, [[2, 3, 0, 0], [3, 3, 2, 2], [0] * 4])
    np.testing.assert_array_equal(lengths, [2, 4, 0])
    self.assertEqual((ids.dtype, lengths.dtype), (np.int32, np.int32))

  def test_unknown_words_are_unk(self):
    vocab = text.build_vocabulary(["known words"], max_size=10)
    ids, lengths = text.encode(["known unseen words zzz"], vocab,
                               max_length=6)
    self.assertEqual(ids[0, :lengths[0]].tolist(),
                     [vocab.tokens.index("known"), text.UNK_ID,
                      vocab.tokens.index("words"), text.UNK_ID])
    self.assertEqual(text.decode(ids, lengths, vocab),
                     ["known <unk> words <unk>"])

  def test_word_round_trip_gives_normalised_tokens(self):
    vocab = text.build_vocabulary(CORPUS, max_size=1000)
    ids, lengths = text.encode(CORPUS, vocab, max_length=32)
    tokens = text.decode_tokens(ids, lengths, vocab)
    self.assertEqual(tokens, [text.tokenize(s) for s in CORPUS])
    self.assertEqual(text.decode(ids, lengths, vocab),
                     [" ".join(text.tokenize(s)) for s in CORPUS])
    # Cut at max_length: the first tokens.
    ids, lengths = text.encode(CORPUS, vocab, max_length=3)
    self.assertEqual(text.decode_tokens(ids, lengths, vocab),
                     [text.tokenize(s)[:3] for s in CORPUS])

  def test_byte_round_trip_on_non_ascii_text(self):
    vocab = text.byte_vocabulary()
    self.assertLen(vocab, 258)
    texts = ["naïve café", "日本語のレビュー", "emoji 🎬 ok", "Mixed CASE"]
    ids, lengths = text.encode(texts, vocab, max_length=64)
    self.assertEqual(text.decode(ids, lengths, vocab), texts)
    encoded = "é".encode("utf-8")  # Two bytes, 0xC3 0xA9.
    ids, lengths = text.encode(["é"], vocab, max_length=4)
    self.assertEqual(ids[0].tolist(), [encoded[0] + 2, encoded[1] + 2, 0, 0])
    self.assertEqual(lengths.tolist(), [2])

  def test_json_round_trip(self):
    for vocab in (text.build_vocabulary(CORPUS + ("ünï",), max_size=20),
                  text.byte_vocabulary()):
      restored = text.vocabulary_from_json(text.vocabulary_to_json(vocab))
      self.assertEqual(restored, vocab)
      self.assertEqual(restored.kind, vocab.kind)
      self.assertEqual(restored.id_of("great"), vocab.id_of("great"))

  def test_json_from_another_tokenizer_is_refused(self):
    record = json.loads(text.vocabulary_to_json(
        text.build_vocabulary(CORPUS, max_size=8)))
    record["pattern"] = r"\S+"
    with self.assertRaisesRegex(ValueError, "pattern"):
      text.vocabulary_from_json(json.dumps(record))
    with self.assertRaisesRegex(ValueError, "Not an"):
      text.vocabulary_from_json("{}")

  def test_bad_vocabularies_and_inputs(self):
    with self.assertRaisesRegex(ValueError, "first tokens"):
      text.Vocabulary(tokens=("a", "b"))
    with self.assertRaisesRegex(ValueError, "repeat"):
      text.Vocabulary(tokens=("<pad>", "<unk>", "x", "x"))
    with self.assertRaisesRegex(ValueError, "kind"):
      text.Vocabulary(tokens=("<pad>", "<unk>"), kind="char")
    with self.assertRaisesRegex(ValueError, "single str"):
      text.encode("one text", text.byte_vocabulary(), max_length=4)


def write_imdb(root, reviews):
  """Writes {(split, cls): {file name: text}} as aclImdb/<split>/<cls>/."""
  for (split, cls), files in reviews.items():
    folder = os.path.join(root, "aclImdb", split, cls)
    os.makedirs(folder, exist_ok=True)
    for name, review in files.items():
      with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
        f.write(review)


class ImdbTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.root = temp_dir(self)
    write_imdb(self.root, {
        ("train", "pos"): {"10_9.txt": "pos ten", "2_8.txt": "pos two",
                           "1_7.txt": "Très bien<br />!"},
        ("train", "neg"): {"0_1.txt": "neg zero", "3_2.txt": "neg three"},
        ("test", "pos"): {"5_10.txt": "test pos"},
        ("test", "neg"): {"4_3.txt": "test neg"},
        ("train", "unsup"): {"9_0.txt": "unlabelled"},
    })
    # Files the official archive holds beside the reviews.
    with open(os.path.join(self.root, "aclImdb", "train", "pos",
                           "urls.list"), "w") as f:
      f.write("http://example")

  def test_reads_both_splits_in_name_order(self):
    data = text.read_imdb(self.root)
    self.assertEqual(sorted(data), ["test", "train"])
    train = data["train"]
    # neg first, then pos; within a class, file names sorted as strings:
    # "10_9.txt" < "1_7.txt" < "2_8.txt" ("0" sorts before "_").
    self.assertEqual(train.texts, ("neg zero", "neg three", "pos ten",
                                   "Très bien<br />!", "pos two"))
    np.testing.assert_array_equal(train.labels, [0, 0, 1, 1, 1])
    self.assertEqual(train.labels.dtype, np.int32)
    self.assertEqual(train.class_names, ("neg", "pos"))
    self.assertIsNone(train.pair_texts)
    self.assertEqual(data["test"].texts, ("test neg", "test pos"))

  def test_root_may_be_the_acl_imdb_folder(self):
    data = text.read_imdb(os.path.join(self.root, "aclImdb"), splits=("test",))
    self.assertEqual(list(data), ["test"])
    self.assertLen(data["test"], 2)

  def test_missing_layout_is_a_clear_error(self):
    with self.assertRaisesRegex(FileNotFoundError, "aclImdb"):
      text.read_imdb(temp_dir(self))
    with self.assertRaisesRegex(ValueError, "Unknown IMDB split"):
      text.read_imdb(self.root, splits=("unsup",))


RT_ROWS = [
    ["category", "text", "movie_name", "has_plot_and_reviews"],
    ["plot", "A man, a plan.\nA second line, \"quoted\".", "m1", "True"],
    ["fresh", "Great fun", "m1", "True"],
    ["rotten", "Dull", "m2", "False"],
    ["fresh", "Lovely, tender", "m2", "False"],
]


def csv_text(rows, delimiter=","):
  """Writes rows as CSV by the RFC 4180 rules (quote cells that need it)."""
  def cell(value):
    if any(c in value for c in (delimiter, '"', "\n")):
      return '"' + value.replace('"', '""') + '"'
    return value
  return "".join(delimiter.join(cell(v) for v in row) + "\r\n"
                 for row in rows)


class TextCsvTest(parameterized.TestCase):

  def write(self, name, content, opener=open):
    path = os.path.join(temp_dir(self), name)
    with opener(path, "wt", encoding="utf-8", newline="") as f:
      f.write(content)
    return path

  @parameterized.parameters(("rt.csv", open), ("rt.csv.bz2", bz2.open),
                            ("rt.csv.gz", gzip.open))
  def test_reads_classes_sorted_from_plain_and_compressed(self, name, opener):
    path = self.write(name, csv_text(RT_ROWS), opener)
    data = text.read_text_csv(path, text="text", target="category")
    self.assertEqual(data.class_names, ("fresh", "plot", "rotten"))
    np.testing.assert_array_equal(data.labels, [1, 0, 2, 0])
    self.assertEqual(data.texts[0], 'A man, a plan.\nA second line, "quoted".')
    self.assertEqual(data.texts[1:], ("Great fun", "Dull", "Lovely, tender"))

  def test_given_class_names_and_an_unknown_class(self):
    path = self.write("rt.csv", csv_text(RT_ROWS))
    data = text.read_text_csv(path, text="text", target="category",
                              class_names=("rotten", "fresh", "plot"))
    np.testing.assert_array_equal(data.labels, [2, 1, 0, 1])
    with self.assertRaisesRegex(ValueError, r"line 2.*'plot'"):
      text.read_text_csv(path, text="text", target="category",
                         class_names=("fresh", "rotten"))

  def test_missing_column_names_file_column_and_columns_present(self):
    path = self.write("rt.csv", csv_text(RT_ROWS))
    with self.assertRaises(ValueError) as cm:
      text.read_text_csv(path, text="review", target="category")
    message = str(cm.exception)
    for part in (path, "'review'", "'category', 'text', 'movie_name'"):
      self.assertIn(part, message)
    with self.assertRaisesRegex(ValueError, "'label'.*target"):
      text.read_text_csv(path, text="text", target="label")

  def test_pairs_with_float_targets_from_tsv(self):
    rows = [["index", "sentence1", "sentence2", "score"],
            ["0", 'A "quoted" man.', "A man.", "4.5"],
            ["1", "Cats sleep.", "Dogs run.", "0.25"]]
    # TSV as GLUE writes it: tabs, no quoting.
    content = "".join("\t".join(r) + "\n" for r in rows)
    path = self.write("sts.tsv", content)
    data = text.read_text_csv(path, text="sentence1", text_pair="sentence2",
                              target="score", target_kind="float")
    self.assertEqual(data.texts, ('A "quoted" man.', "Cats sleep."))
    self.assertEqual(data.pair_texts, ("A man.", "Dogs run."))
    np.testing.assert_array_equal(data.labels, np.float32([4.5, 0.25]))
    self.assertEqual(data.labels.dtype, np.float32)
    self.assertEqual(data.class_names, ())
    bad = self.write("bad.tsv", content + "2\tx\ty\tnan?\n")
    with self.assertRaisesRegex(ValueError, r"line 4.*'score'.*'nan\?'"):
      text.read_text_csv(bad, text="sentence1", target="score",
                         target_kind="float")

  def test_select_classes_and_take(self):
    path = self.write("rt.csv", csv_text(RT_ROWS))
    data = text.read_text_csv(path, text="text", target="category")
    reviews = text.select_classes(data, ("rotten", "fresh"))
    self.assertEqual(reviews.texts, ("Great fun", "Dull", "Lovely, tender"))
    np.testing.assert_array_equal(reviews.labels, [1, 0, 1])
    self.assertEqual(reviews.class_names, ("rotten", "fresh"))
    picked = text.take(data, [3, 1])
    self.assertEqual(picked.texts, ("Lovely, tender", "Great fun"))
    np.testing.assert_array_equal(picked.labels, [0, 0])
    with self.assertRaisesRegex(ValueError, "distinct classes"):
      text.select_classes(data, ("fresh", "stale"))


class KeepFractionTest(absltest.TestCase):

  def test_keeps_the_fraction_of_the_given_classes(self):
    labels = np.array([0] * 1000 + [1] * 500 + [2] * 7)
    kept = text.keep_fraction(labels, {0: 0.1, 2: 0.5}, seed=3)
    self.assertTrue(np.all(np.diff(kept) > 0))
    counts = np.bincount(labels[kept], minlength=3)
    # round(0.1 * 1000) = 100, all 500, round(0.5 * 7) = round(3.5) = 4.
    np.testing.assert_array_equal(counts, [100, 500, 4])
    self.assertLen(np.unique(kept), len(kept))

  def test_seeded_and_per_class(self):
    labels = np.array([0, 1] * 200)
    a = text.keep_fraction(labels, {0: 0.1}, seed=0)
    np.testing.assert_array_equal(
        a, text.keep_fraction(labels, {0: 0.1}, seed=0))
    self.assertFalse(np.array_equal(
        a, text.keep_fraction(labels, {0: 0.1}, seed=1)))
    # Adding a draw for class 1 leaves class 0's draw as it was.
    both = text.keep_fraction(labels, {0: 0.1, 1: 0.5}, seed=0)
    np.testing.assert_array_equal(both[labels[both] == 0], a[labels[a] == 0])

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, r"\[0, 1\]"):
      text.keep_fraction(np.array([0, 1]), {0: 1.5}, seed=0)
    with self.assertRaisesRegex(ValueError, "int"):
      text.keep_fraction(np.array([0.5, 1.0]), {0: 0.5}, seed=0)


if __name__ == "__main__":
  absltest.main()
