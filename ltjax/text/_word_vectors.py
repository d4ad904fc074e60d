"""Pretrained word vectors (GloVe's text format) for a vocabulary.

GloVe (Pennington et al. 2014) ships one word a line: the word, then its D
numbers, separated by spaces (`glove.840B.300d.txt`; a few of its words hold
spaces, so the numbers are read from the end of the line). The DIR
reference's STS-B-DIR loads these into its embedding table.
"""

import io
import os

import numpy as np

from ltjax.text import _tokenize


def read_word_vectors(path: str, vocabulary: _tokenize.Vocabulary, *,
                      dim: int) -> tuple[np.ndarray, np.ndarray]:
  """The vectors of a vocabulary's tokens from a GloVe text file.

  Args:
    path: the text file (UTF-8; `word x_1 ... x_D` per line).
    vocabulary: the `Vocabulary` whose rows to fill (V tokens).
    dim: D, the embedding width the model has.

  Returns:
    (float32 [V, D] vectors, zero where a token has none; bool [V]
    whether it has one). `<pad>` and `<unk>` never do.

  Raises:
    ValueError: a line whose vector is not D numbers (naming file and line).
    FileNotFoundError: `path` is not a file.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path!r} is not a file of word vectors.")
  rows = {token: i for i, token in enumerate(vocabulary.tokens)
          if i not in (_tokenize.PAD_ID, _tokenize.UNK_ID)}
  table = np.zeros((len(vocabulary), dim), np.float32)
  found = np.zeros(len(vocabulary), bool)
  with io.open(path, encoding="utf-8", errors="replace") as f:
    for line_number, line in enumerate(f, 1):
      parts = line.rstrip("\n").rstrip(" ").split(" ")
      if len(parts) <= dim:
        if not line.strip():
          continue
        raise ValueError(
            f"{path}:{line_number}: expected a word and {dim} numbers, got "
            f"{len(parts)} fields; is the file's width {len(parts) - 1}?")
      word = " ".join(parts[:-dim])
      row = rows.get(word)
      if row is None or found[row]:
        continue
      try:
        table[row] = np.asarray(parts[-dim:], np.float32)
      except ValueError as e:
        raise ValueError(f"{path}:{line_number}: {e}") from None
      found[row] = True
  return table, found
