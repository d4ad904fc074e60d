"""Tokenizers that need no download: word-level and byte-level.

A `Vocabulary` maps tokens to ids; id 0 is `<pad>` and id 1 is `<unk>` in
every vocabulary, so padding and unknown words mean the same thing to every
model. Two kinds share one `encode` / `decode` API:

  kind="word": `tokenize` lower-cases the text and splits it with the regular
    expression `WORD_PATTERN`, r"\\w+|[^\\w\\s]": a token is a run of word
    characters (Unicode letters, digits and "_"), or one character that is
    neither a word character nor white space (punctuation, symbols, each its
    own token). White space separates tokens and is dropped. So
    "Don't stop!" -> ["don", "'", "t", "stop", "!"]. Neither `<pad>` nor
    `<unk>` can come out of `tokenize` ("<" and ">" are tokens of their own),
    so the two special ids only ever mean padding and unknown.
    `build_vocabulary` keeps the most frequent tokens of a corpus.
  kind="byte": the UTF-8 bytes of the text, unchanged (no lower-casing);
    byte b has id b + 2. Every text is covered, in any script, with a fixed
    vocabulary of 258 ids (`byte_vocabulary()`); `<unk>` is never produced.

`encode(texts, vocab, max_length=L)` gives int32 ids [N, L] padded with 0 and
int32 lengths [N] (a text longer than L keeps its first L tokens), the input
of the models in `ltjax.text` (`{"ids": ids, "lengths": lengths}`).
`vocabulary_to_json` / `vocabulary_from_json` store a vocabulary with the
normalisation it was built with, for inference.
"""

import collections
import dataclasses
import json
import re
from typing import Any, Iterable, Sequence

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1
SPECIAL_TOKENS = (PAD, UNK)
KINDS = ("word", "byte")

# The word tokenizer's pattern, applied to the lower-cased text.
WORD_PATTERN = r"\w+|[^\w\s]"
_WORD_RE = re.compile(WORD_PATTERN)
_JSON_FORMAT = "ltjax.text.Vocabulary"
_JSON_VERSION = 1


def _byte_token(b: int) -> str:
  return f"<0x{b:02X}>"


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """An id for every token; 0 is `<pad>`, 1 is `<unk>`.

  Attributes:
    tokens: the token of each id, `tokens[0] == "<pad>"`,
      `tokens[1] == "<unk>"`, all distinct. For kind="byte", tokens[b + 2] is
      "<0xHH>", the name of byte b.
    kind: "word" (`tokenize`) or "byte" (UTF-8 bytes); selects how `encode`
      splits a text.
  """
  tokens: tuple[str, ...]
  kind: str = "word"
  _ids: dict[str, int] = dataclasses.field(
      init=False, repr=False, compare=False, hash=False)

  def __post_init__(self):
    tokens = tuple(self.tokens)
    if self.kind not in KINDS:
      raise ValueError(
          f"Unknown vocabulary kind {self.kind!r}; known kinds: "
          f"{', '.join(KINDS)}.")
    if tokens[:2] != SPECIAL_TOKENS:
      raise ValueError(
          f"A vocabulary's first tokens must be {SPECIAL_TOKENS}, got "
          f"{tokens[:2]}.")
    if not all(isinstance(t, str) for t in tokens):
      raise ValueError("Every token of a vocabulary must be a str.")
    ids = {token: i for i, token in enumerate(tokens)}
    if len(ids) != len(tokens):
      repeated = sorted(t for t, n in collections.Counter(tokens).items()
                        if n > 1)
      raise ValueError(f"Tokens repeat in the vocabulary: {repeated[:10]}.")
    if self.kind == "byte" and tokens != _BYTE_TOKENS:
      raise ValueError(
          "A byte vocabulary has exactly the tokens of byte_vocabulary().")
    object.__setattr__(self, "tokens", tokens)
    object.__setattr__(self, "_ids", ids)

  def __len__(self) -> int:
    return len(self.tokens)

  @property
  def size(self) -> int:
    """V, the number of ids (the embedding table's rows)."""
    return len(self.tokens)

  def id_of(self, token: str) -> int:
    """The id of `token`, or 1 (`<unk>`) for a token not in the vocabulary."""
    return self._ids.get(token, UNK_ID)


_BYTE_TOKENS = SPECIAL_TOKENS + tuple(_byte_token(b) for b in range(256))


def byte_vocabulary() -> Vocabulary:
  """Returns the byte-level vocabulary: 258 ids, byte b has id b + 2."""
  return Vocabulary(tokens=_BYTE_TOKENS, kind="byte")


def _check_texts(texts: Any, name: str = "texts") -> Sequence[str]:
  if isinstance(texts, (str, bytes)):
    raise ValueError(
        f"{name} must be a sequence of str, got a single {type(texts).__name__}"
        "; wrap it in a list.")
  texts = list(texts)
  for i, text in enumerate(texts):
    if not isinstance(text, str):
      raise ValueError(
          f"{name}[{i}] must be a str, got {type(text).__name__}.")
  return texts


def _check_positive_int(value: Any, name: str) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
      value < 1):
    raise ValueError(f"{name} must be a positive int, got {value!r}.")
  return int(value)


def tokenize(text: str) -> list[str]:
  """Splits a text into the word-level tokens, lower-cased.

  `re.findall(r"\\w+|[^\\w\\s]", text.lower())`: runs of word characters, and
  every other non-space character as a token of its own.

  Args:
    text: any str.

  Returns:
    The tokens, e.g. "Great film, 10/10!" -> ["great", "film", ",", "10", "/",
    "10", "!"].
  """
  return _WORD_RE.findall(text.lower())


def build_vocabulary(texts: Iterable[str], *, max_size: int,
                     min_count: int = 1) -> Vocabulary:
  """Builds a word vocabulary from the most frequent tokens of a corpus.

  Tokens (by `tokenize`) seen at least `min_count` times, ordered by
  descending count and then by the token itself (so the result depends only
  on the multiset of texts, not on their order), follow `<pad>` and `<unk>`;
  the list is cut to `max_size` ids in all.

  Args:
    texts: the training texts (str).
    max_size: the most ids, the two special ones included (>= 2).
    min_count: the fewest occurrences a kept token has (>= 1).

  Returns:
    A kind="word" `Vocabulary` of at most `max_size` tokens.

  Example:
    >>> vocab = build_vocabulary(["a b b", "b c"], max_size=3)
    >>> vocab.tokens
    ('<pad>', '<unk>', 'b')
  """
  texts = _check_texts(texts)
  max_size = _check_positive_int(max_size, "max_size")
  if max_size < len(SPECIAL_TOKENS):
    raise ValueError(
        f"max_size counts <pad> and <unk>, so it must be >= 2, got {max_size}.")
  min_count = _check_positive_int(min_count, "min_count")
  counts = collections.Counter()
  for text in texts:
    counts.update(tokenize(text))
  ranked = sorted((token for token, n in counts.items() if n >= min_count),
                  key=lambda token: (-counts[token], token))
  kept = ranked[:max_size - len(SPECIAL_TOKENS)]
  return Vocabulary(tokens=SPECIAL_TOKENS + tuple(kept), kind="word")


def _text_ids(text: str, vocab: Vocabulary) -> list[int]:
  if vocab.kind == "byte":
    return [b + 2 for b in text.encode("utf-8")]
  return [vocab.id_of(token) for token in tokenize(text)]


def encode(texts: Iterable[str], vocab: Vocabulary, *,
           max_length: int) -> tuple[np.ndarray, np.ndarray]:
  """Maps texts to padded id arrays, cut at `max_length` tokens.

  Args:
    texts: N texts (str).
    vocab: a word or byte `Vocabulary`; its `kind` selects the tokenizer.
    max_length: L, the number of columns; a longer text keeps its first L
      tokens (bytes, for kind="byte").

  Returns:
    ids: int32 [N, L]; row n holds the ids of text n's first lengths[n]
      tokens, then 0 (`<pad>`). A word not in `vocab` has id 1 (`<unk>`).
    lengths: int32 [N] in [0, L].

  Example:
    >>> ids, lengths = encode(["b a"], build_vocabulary(["b b a"],
    ...                       max_size=4), max_length=3)
    >>> ids.tolist(), lengths.tolist()
    ([[2, 3, 0]], [2])
  """
  texts = _check_texts(texts)
  max_length = _check_positive_int(max_length, "max_length")
  ids = np.zeros((len(texts), max_length), np.int32)
  lengths = np.zeros((len(texts),), np.int32)
  for n, text in enumerate(texts):
    row = _text_ids(text, vocab)[:max_length]
    ids[n, :len(row)] = row
    lengths[n] = len(row)
  return ids, lengths


def _check_ids(ids: Any, lengths: Any,
               vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
  ids = np.asarray(ids)
  lengths = np.asarray(lengths)
  if ids.ndim != 2 or lengths.shape != ids.shape[:1]:
    raise ValueError(
        f"ids must be int [N, L] and lengths int [N], got shapes {ids.shape} "
        f"and {lengths.shape}.")
  if lengths.size and (lengths.min() < 0 or lengths.max() > ids.shape[1]):
    raise ValueError(f"lengths must lie in [0, {ids.shape[1]}].")
  if ids.size and (ids.min() < 0 or ids.max() >= vocab.size):
    raise ValueError(
        f"ids must lie in [0, {vocab.size}) for this vocabulary, got "
        f"[{ids.min()}, {ids.max()}].")
  return ids, lengths


def decode_tokens(ids: Any, lengths: Any,
                  vocab: Vocabulary) -> list[list[str]]:
  """Maps id rows back to their tokens (the first lengths[n] of row n).

  Args:
    ids: int [N, L] in [0, V).
    lengths: int [N] in [0, L].
    vocab: the vocabulary that encoded them.

  Returns:
    N lists of tokens; for a byte vocabulary, the byte names "<0xHH>".
  """
  ids, lengths = _check_ids(ids, lengths, vocab)
  return [[vocab.tokens[i] for i in row[:n]] for row, n in zip(ids, lengths)]


def decode(ids: Any, lengths: Any, vocab: Vocabulary) -> list[str]:
  """Maps id rows back to text.

  For a word vocabulary, the tokens joined by single spaces: the normalised
  text `" ".join(tokenize(text))` when every token is in the vocabulary (an
  unknown one reads "<unk>"). For a byte vocabulary, the bytes decoded as
  UTF-8 (the text itself, unless `encode` cut it inside a character, whose
  bytes then read U+FFFD).

  Args:
    ids: int [N, L] in [0, V).
    lengths: int [N] in [0, L].
    vocab: the vocabulary that encoded them.

  Returns:
    N str.
  """
  ids, lengths = _check_ids(ids, lengths, vocab)
  if vocab.kind == "byte":
    rows = [row[:n] for row, n in zip(ids, lengths)]
    if any(row.size and row.min() < 2 for row in rows):
      raise ValueError("A byte-level row holds <pad> or <unk> before its end.")
    return [bytes((row - 2).astype(np.uint8).tolist()).decode(
        "utf-8", errors="replace") for row in rows]
  return [" ".join(tokens) for tokens in decode_tokens(ids, lengths, vocab)]


def vocabulary_to_json(vocab: Vocabulary) -> str:
  """Serialises a vocabulary, with the tokenizer it assumes, as JSON text."""
  record = {"format": _JSON_FORMAT, "version": _JSON_VERSION,
            "kind": vocab.kind}
  if vocab.kind == "word":
    record.update(lowercase=True, pattern=WORD_PATTERN,
                  tokens=list(vocab.tokens))
  return json.dumps(record, ensure_ascii=False)


def vocabulary_from_json(text: str) -> Vocabulary:
  """Reads a vocabulary written by `vocabulary_to_json`.

  Args:
    text: the JSON text.

  Returns:
    The `Vocabulary`, equal to the one written.

  Raises:
    ValueError: the text is not such a record, or it was built with another
      normalisation than this module's `tokenize` (its ids would not mean the
      same tokens).
  """
  try:
    record = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"Not a JSON vocabulary: {e}") from None
  if not isinstance(record, dict) or record.get("format") != _JSON_FORMAT:
    raise ValueError(f"Not an {_JSON_FORMAT} JSON record.")
  if record.get("version") != _JSON_VERSION:
    raise ValueError(
        f"Vocabulary JSON version {record.get('version')!r}; this ltjax reads "
        f"version {_JSON_VERSION}.")
  if record.get("kind") == "byte":
    return byte_vocabulary()
  if record.get("kind") != "word":
    raise ValueError(f"Unknown vocabulary kind {record.get('kind')!r}.")
  if record.get("pattern") != WORD_PATTERN or record.get("lowercase") is not (
      True):
    raise ValueError(
        f"The vocabulary was built with pattern {record.get('pattern')!r} "
        f"(lowercase={record.get('lowercase')!r}); this tokenize uses "
        f"{WORD_PATTERN!r} on lower-cased text.")
  return Vocabulary(tokens=tuple(record["tokens"]), kind="word")
