"""Flax Linen text encoders and classifiers: BiLSTM, Transformer, pairs.

Every text model takes one input, a dict of token ids and lengths,

  inputs = {"ids": int [B, L] in [0, V), "lengths": int [B] in [0, L]}

as `ltjax.text.encode` returns them (`ids, lengths = encode(...)`), with row
b's tokens in ids[b, :lengths[b]] and anything after them ignored: extra
padding never changes a result (a length above L counts as L). A sentence
pair model takes `{"ids", "lengths", "pair_ids", "pair_lengths"}`.

Classifiers follow the convention of `ltjax.models`: `model.apply(variables,
inputs, train=...)` returns `(logits float32 [B, C], features float32
[B, D])`, the head is the submodule `head` (a `ltjax.models.Head`, "linear" or
"normalized"; `params["head"]`), and the encoder that makes the features is
the submodule `encoder` (`params["encoder"]`). Encoders map the inputs to
features float32 [B, D] and can be used alone (e.g. inside
`SentencePairModel`). No model here has BatchNorm; dropout (off by default)
needs `rngs={"dropout": key}` when `train=True`.
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from ltjax import models
from ltjax.text import _tokenize

POOLINGS = ("mean", "max")
_DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.bfloat16))
PARAM_DTYPE = jnp.float32


def check_dtype(dtype: Any) -> None:
  """Raises a ValueError unless dtype is float32 or bfloat16."""
  if jnp.dtype(dtype) not in _DTYPES:
    raise ValueError(
        f"dtype must be float32 or bfloat16, got {jnp.dtype(dtype)}.")


def text_inputs(inputs: Mapping[str, Any], ids_key: str = "ids",
                lengths_key: str = "lengths") -> tuple[jax.Array, jax.Array]:
  """Checks a model input dict and returns (ids [B, L], lengths [B]).

  Args:
    inputs: {"ids": int [B, L], "lengths": int [B]} (other keys ignored).
    ids_key: the key of the ids.
    lengths_key: the key of the lengths.

  Returns:
    ids: int32 [B, L].
    lengths: int32 [B], clipped to [0, L].
  """
  if not isinstance(inputs, Mapping) or ids_key not in inputs or (
      lengths_key not in inputs):
    keys = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs)
    raise ValueError(
        f"Text models take a dict {{{ids_key!r}: int [B, L], {lengths_key!r}: "
        f"int [B]}}, got {keys}.")
  ids = jnp.asarray(inputs[ids_key])
  lengths = jnp.asarray(inputs[lengths_key])
  if ids.ndim != 2 or lengths.shape != ids.shape[:1]:
    raise ValueError(
        f"{ids_key} must be int [B, L] and {lengths_key} int [B], got shapes "
        f"{ids.shape} and {lengths.shape}.")
  if not (jnp.issubdtype(ids.dtype, jnp.integer)
          and jnp.issubdtype(lengths.dtype, jnp.integer)):
    raise ValueError(
        f"{ids_key} and {lengths_key} must be integers, got {ids.dtype} and "
        f"{lengths.dtype}.")
  lengths = jnp.clip(lengths.astype(jnp.int32), 0, ids.shape[1])
  return ids.astype(jnp.int32), lengths


def inputs_from_ids(ids: Any, *, pair: bool = False) -> dict[str, jax.Array]:
  """The model input of rows of token ids padded with 0 (`encode`'s ids).

  Each length is the count of non-padding ids of its row: `encode` writes a
  text's ids first and pads after them, and no token has id 0 (`<pad>`), so
  the lengths are those `encode` returned. Jittable; the ids are only cast.

  Args:
    ids: int [B, L] in [0, V); with `pair`, [B, 2 L]: the first texts in
      columns [0, L), the second ones in [L, 2 L).
    pair: whether each row holds a pair of texts.

  Returns:
    {"ids": int32 [B, L], "lengths": int32 [B]}, and with `pair`
    "pair_ids" and "pair_lengths" too (`SentencePairModel`'s input).
  """
  ids = jnp.asarray(ids).astype(jnp.int32)
  if ids.ndim != 2:
    raise ValueError(f"ids must be int [B, L], got shape {ids.shape}.")

  def lengths(part):
    return jnp.sum(part != _tokenize.PAD_ID, axis=1).astype(jnp.int32)

  if not pair:
    return {"ids": ids, "lengths": lengths(ids)}
  if ids.shape[1] % 2:
    raise ValueError(
        f"pair ids must be [B, 2 L] (two texts side by side), got shape "
        f"{ids.shape}.")
  first, second = jnp.split(ids, 2, axis=1)
  return {"ids": first, "lengths": lengths(first), "pair_ids": second,
          "pair_lengths": lengths(second)}


def valid_mask(lengths: jax.Array, max_length: int) -> jax.Array:
  """bool [B, L]: True at the positions t < lengths[b] of row b."""
  return jnp.arange(max_length)[None, :] < lengths[:, None]


def masked_pool(x: jax.Array, lengths: jax.Array, *,
                kind: str = "mean") -> jax.Array:
  r"""Pools a sequence over its valid steps only.

  .. math::
    \text{mean}: f_b = \frac{1}{\max(n_b, 1)} \sum_{t < n_b} x_{bt}, \quad
    \text{max}: f_b = \max_{t < n_b} x_{bt}

  (n_b = lengths[b]); an empty row (n_b = 0) pools to zeros.

  Args:
    x: float [B, L, D].
    lengths: int [B] in [0, L].
    kind: "mean" or "max".

  Returns:
    float32 [B, D].
  """
  if kind not in POOLINGS:
    raise ValueError(
        f"Unknown pooling {kind!r}; known poolings: {', '.join(POOLINGS)}.")
  x = x.astype(jnp.float32)
  mask = valid_mask(lengths, x.shape[1])[:, :, None]
  if kind == "mean":
    total = jnp.sum(jnp.where(mask, x, 0.0), axis=1)
    return total / jnp.maximum(lengths, 1)[:, None].astype(jnp.float32)
  peak = jnp.max(jnp.where(mask, x, -jnp.inf), axis=1)
  return jnp.where((lengths > 0)[:, None], peak, 0.0)


def pair_features(u: jax.Array, v: jax.Array) -> jax.Array:
  """Combines two sentence encodings as [u, v, |u - v|, u * v].

  The sentence-pair features of InferSent (arXiv 1705.02364) and of the
  STS-B-DIR model of imbalanced-regression (arXiv 2102.09554); the product
  is element-wise.

  Args:
    u: float [B, D], the first sentences' features.
    v: float [B, D], the second sentences' features.

  Returns:
    float [B, 4 D].
  """
  if u.shape != v.shape or u.ndim != 2:
    raise ValueError(
        f"u and v must both be [B, D], got shapes {u.shape} and {v.shape}.")
  return jnp.concatenate([u, v, jnp.abs(u - v), u * v], axis=-1)


def classify(module: nn.Module, features: jax.Array) -> jax.Array:
  """Applies the `head` of a model with num_classes, head, head_kernel_init."""
  return models.Head(num_classes=module.num_classes, kind=module.head,
                     kernel_init=module.head_kernel_init, name="head")(features)


class BiLSTMEncoder(nn.Module):
  """Token embedding, a stacked bidirectional LSTM, masked pooling.

  Each layer is `nn.Bidirectional` over two `nn.RNN(nn.OptimizedLSTMCell)`
  run with `seq_lengths`: the forward LSTM reads steps 0..n-1, the backward
  one n-1..0 of the valid steps only, so padding changes nothing. A layer's
  output concatenates both directions (2 * hidden_size); the last layer's
  outputs are pooled over the valid steps. Flax's default initializers
  (embedding N(0, 1) as PyTorch's `nn.Embedding`; LSTM kernels LeCun normal,
  recurrent kernels orthogonal, biases zero).

  Attributes:
    vocab_size: V, the rows of the embedding table.
    embed_dim: the embedding width.
    hidden_size: H, each direction's LSTM width; features have D = 2 H.
    num_layers: stacked bidirectional layers.
    pooling: "mean" or "max" over the valid steps (`masked_pool`).
    dropout_rate: dropout on the embeddings and every layer's outputs when
      train=True.
    dtype: computation dtype; parameters are float32, features float32.
  """
  vocab_size: int
  embed_dim: int = 128
  hidden_size: int = 128
  num_layers: int = 2
  pooling: str = "mean"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  def _rnn(self) -> nn.RNN:
    """An unbound LSTM over time (adopted by the layer it is passed to)."""
    cell = nn.OptimizedLSTMCell(self.hidden_size, dtype=self.dtype,
                                param_dtype=PARAM_DTYPE, parent=None)
    return nn.RNN(cell, parent=None)

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *, train: bool) -> jax.Array:
    """Maps {"ids" [B, L], "lengths" [B]} to features float32 [B, 2 H]."""
    check_dtype(self.dtype)
    ids, lengths = text_inputs(inputs)
    x = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                 param_dtype=PARAM_DTYPE, name="embed")(ids)
    for i in range(self.num_layers):
      x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
      x = nn.Bidirectional(self._rnn(), self._rnn(),
                           name=f"lstm{i + 1}")(x, seq_lengths=lengths)
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    return masked_pool(x, lengths, kind=self.pooling)


class EncoderBlock(nn.Module):
  """A pre-LN Transformer encoder block with a padding mask.

  x + Attention(LN(x)), then x + MLP(LN(x)) with MLP = Dense(mlp_dim), GELU,
  Dense(D).

  Attributes:
    num_heads: attention heads (D divisible by it).
    mlp_dim: the hidden width of the MLP.
    dropout_rate: dropout on the attention weights and both residual
      branches when train=True.
    dtype: computation dtype.
  """
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array, *,
               train: bool) -> jax.Array:
    """Maps x [B, L, D] and a mask bool [B, 1, L or 1, L] to [B, L, D]."""
    dim = x.shape[-1]
    y = nn.LayerNorm(dtype=self.dtype, param_dtype=PARAM_DTYPE,
                     name="attention_norm")(x)
    y = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, dtype=self.dtype, param_dtype=PARAM_DTYPE,
        dropout_rate=self.dropout_rate, name="attention")(
            y, mask=mask, deterministic=not train)
    x = x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    y = nn.LayerNorm(dtype=self.dtype, param_dtype=PARAM_DTYPE,
                     name="mlp_norm")(x)
    y = nn.Dense(self.mlp_dim, dtype=self.dtype, param_dtype=PARAM_DTYPE,
                 name="mlp_in")(y)
    y = nn.Dense(dim, dtype=self.dtype, param_dtype=PARAM_DTYPE,
                 name="mlp_out")(nn.gelu(y))
    return x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)


class TransformerEncoder(nn.Module):
  """Token + learned position embeddings, pre-LN blocks, mean pooling.

  Attention sees only the valid tokens (keys t >= lengths[b] are masked), a
  final LayerNorm follows the last block, and the outputs are averaged over
  the valid tokens, so padding changes nothing. Embeddings are initialised
  N(0, 0.02^2) as in BERT.

  Attributes:
    vocab_size: V.
    max_length: the most tokens (rows of the position table); longer inputs
      are an error.
    embed_dim: D, the model width and the feature dimension.
    num_layers: encoder blocks.
    num_heads: attention heads (D divisible by it).
    mlp_dim: each block's MLP width.
    dropout_rate: dropout on the embeddings and in the blocks when train=True.
    dtype: computation dtype; parameters are float32, features float32.
  """
  vocab_size: int
  max_length: int
  embed_dim: int = 128
  num_layers: int = 2
  num_heads: int = 4
  mlp_dim: int = 256
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *, train: bool) -> jax.Array:
    """Maps {"ids" [B, L], "lengths" [B]} to features float32 [B, D]."""
    check_dtype(self.dtype)
    ids, lengths = text_inputs(inputs)
    length = ids.shape[1]
    if length > self.max_length:
      raise ValueError(
          f"Inputs have {length} tokens, more than max_length="
          f"{self.max_length} position embeddings.")
    init = nn.initializers.normal(0.02)
    x = nn.Embed(self.vocab_size, self.embed_dim, embedding_init=init,
                 dtype=self.dtype, param_dtype=PARAM_DTYPE, name="embed")(ids)
    positions = self.param("position_embedding", init,
                           (self.max_length, self.embed_dim), PARAM_DTYPE)
    x = x + positions[:length].astype(self.dtype)[None]
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    mask = valid_mask(lengths, length)[:, None, None, :]
    for i in range(self.num_layers):
      x = EncoderBlock(self.num_heads, self.mlp_dim, self.dropout_rate,
                       self.dtype, name=f"block{i + 1}")(x, mask, train=train)
    x = nn.LayerNorm(dtype=self.dtype, param_dtype=PARAM_DTYPE,
                     name="final_norm")(x)
    return masked_pool(x, lengths, kind="mean")


class BiLSTMClassifier(nn.Module):
  """A `BiLSTMEncoder` and a head; returns (logits, features).

  Attributes:
    num_classes: C.
    vocab_size: V (`len(vocab)`).
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype; logits and features are float32.
    embed_dim, hidden_size, num_layers, pooling, dropout_rate: those of
      `BiLSTMEncoder`; features have D = 2 * hidden_size.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  vocab_size: int
  head: str = "linear"
  dtype: Any = jnp.float32
  embed_dim: int = 128
  hidden_size: int = 128
  num_layers: int = 2
  pooling: str = "mean"
  dropout_rate: float = 0.0
  head_kernel_init: Any = models.kaiming_normal_fan_in

  input_kind = "tokens"  # what `ltjax.models.input_kind` reports

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch of texts.

    Args:
      inputs: {"ids": int [B, L], "lengths": int [B]}.
      train: dropout on (needs a "dropout" rng when dropout_rate > 0).

    Returns:
      logits: float32 [B, C].
      features: float32 [B, 2 * hidden_size].
    """
    features = BiLSTMEncoder(
        self.vocab_size, self.embed_dim, self.hidden_size, self.num_layers,
        self.pooling, self.dropout_rate, self.dtype, name="encoder")(
            inputs, train=train)
    return classify(self, features), features


class TransformerClassifier(nn.Module):
  """A `TransformerEncoder` and a head; returns (logits, features).

  Attributes:
    num_classes: C.
    vocab_size: V (`len(vocab)`).
    max_length: the most tokens per input.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    dtype: computation dtype; logits and features are float32.
    embed_dim, num_layers, num_heads, mlp_dim, dropout_rate: those of
      `TransformerEncoder`; features have D = embed_dim.
    head_kernel_init: initializer of a linear head's kernel.
  """
  num_classes: int
  vocab_size: int
  max_length: int
  head: str = "linear"
  dtype: Any = jnp.float32
  embed_dim: int = 128
  num_layers: int = 2
  num_heads: int = 4
  mlp_dim: int = 256
  dropout_rate: float = 0.0
  head_kernel_init: Any = models.kaiming_normal_fan_in

  input_kind = "tokens"  # what `ltjax.models.input_kind` reports

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies a batch of texts.

    Args:
      inputs: {"ids": int [B, L], "lengths": int [B]}, L <= max_length.
      train: dropout on (needs a "dropout" rng when dropout_rate > 0).

    Returns:
      logits: float32 [B, C].
      features: float32 [B, embed_dim].
    """
    features = TransformerEncoder(
        self.vocab_size, self.max_length, self.embed_dim, self.num_layers,
        self.num_heads, self.mlp_dim, self.dropout_rate, self.dtype,
        name="encoder")(inputs, train=train)
    return classify(self, features), features


class SentencePairModel(nn.Module):
  """Encodes two texts with one shared encoder; a head on their pair features.

  features = pair_features(encoder(first), encoder(second)) = [u, v, |u - v|,
  u * v], then the head. For a regression target (STS-B) use num_classes=1
  and head="linear": logits[:, 0] is the prediction.

  Attributes:
    encoder: a text encoder mapping ({"ids", "lengths"}, train=...) to [B, D]
      (`BiLSTMEncoder`, `TransformerEncoder`, `BertEncoder`); its parameters
      are `params["encoder"]`, used for both texts.
    num_classes: C (1 for a regression output).
    head: "linear" or "normalized".
    head_kernel_init: initializer of a linear head's kernel.
  """
  encoder: nn.Module
  num_classes: int
  head: str = "linear"
  head_kernel_init: Any = models.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Scores a batch of text pairs.

    Args:
      inputs: {"ids": int [B, L], "lengths": int [B], "pair_ids": int
        [B, L'], "pair_lengths": int [B]}: the first and second texts.
      train: passed to the encoder.

    Returns:
      logits: float32 [B, C].
      features: float32 [B, 4 D].
    """
    features = encode_pair(self.encoder, inputs, train=train)
    return classify(self, features), features


def encode_pair(encoder: nn.Module, inputs: Mapping[str, Any], *,
                train: bool) -> jax.Array:
  """`pair_features` of both texts of a pair, encoded by one `encoder`."""
  ids, lengths = text_inputs(inputs)
  pair_ids, pair_lengths = text_inputs(inputs, "pair_ids", "pair_lengths")
  if pair_ids.shape[0] != ids.shape[0]:
    raise ValueError(
        f"ids and pair_ids must have the same batch size, got "
        f"{ids.shape[0]} and {pair_ids.shape[0]}.")
  u = encoder({"ids": ids, "lengths": lengths}, train=train)
  v = encoder({"ids": pair_ids, "lengths": pair_lengths}, train=train)
  return pair_features(u.astype(jnp.float32), v.astype(jnp.float32))


class BiLSTMPairClassifier(nn.Module):
  """`SentencePairModel` over a `BiLSTMEncoder`, built from sizes alone.

  The model registry's "bilstm_pair": the fields of `BiLSTMClassifier`; the
  input is a pair's dict (`inputs_from_ids(ids, pair=True)`), features
  [u, v, |u - v|, u * v] of dimension 8 * hidden_size.
  """
  num_classes: int
  vocab_size: int
  head: str = "linear"
  dtype: Any = jnp.float32
  embed_dim: int = 128
  hidden_size: int = 128
  num_layers: int = 2
  pooling: str = "mean"
  dropout_rate: float = 0.0
  head_kernel_init: Any = models.kaiming_normal_fan_in

  input_kind = "token_pairs"

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """(logits float32 [B, C], features float32 [B, 8 hidden_size])."""
    encoder = BiLSTMEncoder(
        self.vocab_size, self.embed_dim, self.hidden_size, self.num_layers,
        self.pooling, self.dropout_rate, self.dtype, name="encoder")
    features = encode_pair(encoder, inputs, train=train)
    return classify(self, features), features


class TransformerPairClassifier(nn.Module):
  """`SentencePairModel` over a `TransformerEncoder`, from sizes alone.

  The model registry's "text_transformer_pair": the fields of
  `TransformerClassifier` (max_length: the most tokens of one text);
  features of dimension 4 * embed_dim.
  """
  num_classes: int
  vocab_size: int
  max_length: int
  head: str = "linear"
  dtype: Any = jnp.float32
  embed_dim: int = 128
  num_layers: int = 2
  num_heads: int = 4
  mlp_dim: int = 256
  dropout_rate: float = 0.0
  head_kernel_init: Any = models.kaiming_normal_fan_in

  input_kind = "token_pairs"

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """(logits float32 [B, C], features float32 [B, 4 embed_dim])."""
    encoder = TransformerEncoder(
        self.vocab_size, self.max_length, self.embed_dim, self.num_layers,
        self.num_heads, self.mlp_dim, self.dropout_rate, self.dtype,
        name="encoder")
    features = encode_pair(encoder, inputs, train=train)
    return classify(self, features), features
