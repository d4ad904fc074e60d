"""A BERT encoder in Flax Linen, and its weights from a Hugging Face checkpoint.

`BertEncoder(config)` is BERT's architecture (arXiv 1810.04805) as the
Hugging Face `BertModel` computes it: word + position + token-type
embeddings, LayerNorm; then per layer, post-LN,

  x = LN(x + Attention(x))          (keys past lengths[b] masked)
  x = LN(x + Dense_H(GELU(Dense_I(x))))      (GELU with erf, HF's "gelu")

It takes the inputs of every `ltjax.text` model, {"ids": int [B, L],
"lengths": int [B]}, plus optionally "token_type_ids": int [B, L] (0 for the
first sentence of a pair, 1 for the second; zeros if absent), and returns
pooled features [B, H] (`pooling`); the last layer's hidden states [B, L, H]
are sown as `intermediates["sequence"]` (apply with
`mutable=["intermediates"]`).

`load_bert_safetensors(path, config)` reads a checkpoint in the Hugging Face
safetensors layout (`bert.embeddings.word_embeddings.weight`,
`bert.encoder.layer.0.attention.self.query.weight`, ...) into the encoder's
params. The tokenizer of such a checkpoint (WordPiece, its `vocab.txt`) is
not part of ltjax: ids must come from it, not from `ltjax.text.encode`.
"""

import dataclasses
from typing import Any, Callable, Iterator, Mapping

from absl import logging
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import models
from ltjax.text import _models
from ltjax.text import _safetensors

BERT_POOLINGS = ("pooler", "cls", "mean")


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """The shape of a BERT model; the defaults are bert-base-uncased's.

  Attributes:
    vocab_size: V, WordPiece vocabulary size.
    hidden_size: H.
    num_layers: encoder layers.
    num_heads: attention heads (H divisible by it).
    intermediate_size: I, the feed-forward width.
    max_position_embeddings: the most tokens per input.
    type_vocab_size: token types (2: sentence A / B).
    layer_norm_eps: every LayerNorm's epsilon.
  """
  vocab_size: int = 30522
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12

  def __post_init__(self):
    if self.hidden_size % self.num_heads:
      raise ValueError(
          f"hidden_size {self.hidden_size} is not divisible by num_heads "
          f"{self.num_heads}.")

  @property
  def head_dim(self) -> int:
    return self.hidden_size // self.num_heads


def bert_config_from_hf(hf_config: Mapping[str, Any]) -> BertConfig:
  """Makes a `BertConfig` from a Hugging Face BERT `config.json` (a dict).

  Args:
    hf_config: the parsed `config.json` of a BertModel checkpoint.

  Returns:
    The `BertConfig` with its sizes.

  Raises:
    ValueError: the config asks for what `BertEncoder` does not compute (an
      activation other than "gelu", relative position embeddings).
  """
  act = hf_config.get("hidden_act", "gelu")
  if act != "gelu":
    raise ValueError(f"hidden_act {act!r}: BertEncoder computes 'gelu' only.")
  positions = hf_config.get("position_embedding_type", "absolute")
  if positions != "absolute":
    raise ValueError(
        f"position_embedding_type {positions!r}: BertEncoder has absolute "
        "position embeddings only.")
  return BertConfig(
      vocab_size=hf_config["vocab_size"],
      hidden_size=hf_config["hidden_size"],
      num_layers=hf_config["num_hidden_layers"],
      num_heads=hf_config["num_attention_heads"],
      intermediate_size=hf_config["intermediate_size"],
      max_position_embeddings=hf_config["max_position_embeddings"],
      type_vocab_size=hf_config["type_vocab_size"],
      layer_norm_eps=hf_config.get("layer_norm_eps", 1e-12))


def _layer_norm(config: BertConfig, dtype: Any, name: str) -> nn.LayerNorm:
  return nn.LayerNorm(epsilon=config.layer_norm_eps, dtype=dtype,
                      param_dtype=_models.PARAM_DTYPE,
                      use_fast_variance=False, name=name)


class BertLayer(nn.Module):
  """One post-LN BERT layer: attention, then feed-forward, each + residual.

  Attributes:
    config: the `BertConfig`.
    dropout_rate: dropout on attention weights and both branches (train).
    dtype: computation dtype.
  """
  config: BertConfig
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array, *,
               train: bool) -> jax.Array:
    """Maps x [B, L, H] and a key mask bool [B, 1, 1, L] to [B, L, H]."""
    c = self.config
    f32 = _models.PARAM_DTYPE
    y = nn.MultiHeadDotProductAttention(
        num_heads=c.num_heads, dtype=self.dtype, param_dtype=f32,
        dropout_rate=self.dropout_rate, name="attention")(
            x, mask=mask, deterministic=not train)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    x = _layer_norm(c, self.dtype, "attention_norm")(x + y)
    y = nn.Dense(c.intermediate_size, dtype=self.dtype, param_dtype=f32,
                 name="intermediate")(x)
    y = nn.Dense(c.hidden_size, dtype=self.dtype, param_dtype=f32,
                 name="output")(nn.gelu(y, approximate=False))
    y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    return _layer_norm(c, self.dtype, "output_norm")(x + y)


class BertEncoder(nn.Module):
  """BERT's encoder; maps text inputs to pooled features [B, H].

  Attributes:
    config: the `BertConfig`.
    pooling: "pooler": tanh(Dense(h_[CLS])), BERT's pooler as
      BertForSequenceClassification uses it (needs the checkpoint's
      `pooler.dense`); "cls": the first token's hidden state; "mean": the
      mean over the valid tokens.
    dropout_rate: BERT's dropout (0.1 in its config) when train=True.
    dtype: computation dtype; parameters and features are float32.
  """
  config: BertConfig
  pooling: str = "pooler"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *, train: bool) -> jax.Array:
    """Encodes a batch.

    Args:
      inputs: {"ids": int [B, L], "lengths": int [B], optionally
        "token_type_ids": int [B, L] in [0, type_vocab_size)}; L <=
        max_position_embeddings; ids[b, 0] is [CLS] for "pooler" and "cls".
      train: dropout on (needs a "dropout" rng when dropout_rate > 0).

    Returns:
      float32 [B, H]; the hidden states [B, L, H] are sown as
      `intermediates["sequence"]`.
    """
    c = self.config
    _models.check_dtype(self.dtype)
    if self.pooling not in BERT_POOLINGS:
      raise ValueError(
          f"Unknown pooling {self.pooling!r}; known poolings: "
          f"{', '.join(BERT_POOLINGS)}.")
    ids, lengths = _models.text_inputs(inputs)
    length = ids.shape[1]
    if length > c.max_position_embeddings:
      raise ValueError(
          f"Inputs have {length} tokens, more than max_position_embeddings="
          f"{c.max_position_embeddings}.")
    types = jnp.asarray(inputs.get("token_type_ids", jnp.zeros_like(ids)))
    if types.shape != ids.shape:
      raise ValueError(
          f"token_type_ids must have the shape of ids {ids.shape}, got "
          f"{types.shape}.")
    init = nn.initializers.normal(0.02)

    def embed(rows, name):
      return nn.Embed(rows, c.hidden_size, embedding_init=init,
                      dtype=self.dtype, param_dtype=_models.PARAM_DTYPE,
                      name=name)

    x = (embed(c.vocab_size, "word_embeddings")(ids)
         + embed(c.max_position_embeddings, "position_embeddings")(
             jnp.arange(length))[None]
         + embed(c.type_vocab_size, "token_type_embeddings")(types))
    x = _layer_norm(c, self.dtype, "embeddings_norm")(x)
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    mask = _models.valid_mask(lengths, length)[:, None, None, :]
    for i in range(c.num_layers):
      x = BertLayer(c, self.dropout_rate, self.dtype, name=f"layer_{i}")(
          x, mask, train=train)
    self.sow("intermediates", "sequence", x.astype(jnp.float32))
    if self.pooling == "mean":
      return _models.masked_pool(x, lengths, kind="mean")
    first = x[:, 0]
    if self.pooling == "pooler":
      first = jnp.tanh(nn.Dense(c.hidden_size, dtype=self.dtype,
                                param_dtype=_models.PARAM_DTYPE,
                                name="pooler")(first))
    return first.astype(jnp.float32)


class BertClassifier(nn.Module):
  """A `BertEncoder` and a head; returns (logits, features).

  Load a checkpoint into `params["encoder"]` (`load_bert_safetensors`); the
  head, `params["head"]`, is trained from its initialisation.

  Attributes:
    config: the `BertConfig`.
    num_classes: C.
    head: "linear" or "normalized" (see `ltjax.models.Head`).
    pooling: the encoder's pooling ("pooler", "cls" or "mean").
    dropout_rate: the encoder's dropout when train=True.
    dtype: computation dtype; logits and features are float32.
    head_kernel_init: initializer of a linear head's kernel.
  """
  config: BertConfig
  num_classes: int
  head: str = "linear"
  pooling: str = "pooler"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  head_kernel_init: Any = models.kaiming_normal_fan_in

  @nn.compact
  def __call__(self, inputs: Mapping[str, Any], *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Maps the inputs of `BertEncoder` to (logits [B, C], features [B, H])."""
    features = BertEncoder(self.config, self.pooling, self.dropout_rate,
                           self.dtype, name="encoder")(inputs, train=train)
    return _models.classify(self, features), features


# How a Hugging Face tensor becomes a Flax parameter: the name's suffix, the
# tensor's expected shape, and the conversion.
_Conversion = tuple[str, tuple[int, ...], Callable[[np.ndarray], np.ndarray]]


def _identity(w: np.ndarray) -> np.ndarray:
  return w


def _transpose(w: np.ndarray) -> np.ndarray:
  return w.T


def _bert_tensors(config: BertConfig, with_pooler: bool
                  ) -> Iterator[tuple[tuple[str, ...], _Conversion]]:
  """(Flax param path, (HF name without prefix, HF shape, conversion))."""
  c = config
  h, heads, d = c.hidden_size, c.num_heads, c.head_dim

  def norm(path, hf):
    yield path + ("scale",), (f"{hf}.weight", (h,), _identity)
    yield path + ("bias",), (f"{hf}.bias", (h,), _identity)

  def dense(path, hf, d_in, d_out):
    yield path + ("kernel",), (f"{hf}.weight", (d_out, d_in), _transpose)
    yield path + ("bias",), (f"{hf}.bias", (d_out,), _identity)

  for name, rows in (("word_embeddings", c.vocab_size),
                     ("position_embeddings", c.max_position_embeddings),
                     ("token_type_embeddings", c.type_vocab_size)):
    yield (name, "embedding"), (f"embeddings.{name}.weight", (rows, h),
                                _identity)
  yield from norm(("embeddings_norm",), "embeddings.LayerNorm")
  for i in range(c.num_layers):
    hf = f"encoder.layer.{i}"
    attention = (f"layer_{i}", "attention")
    for part in ("query", "key", "value"):
      yield attention + (part, "kernel"), (
          f"{hf}.attention.self.{part}.weight", (h, h),
          lambda w: w.T.reshape(h, heads, d))
      yield attention + (part, "bias"), (
          f"{hf}.attention.self.{part}.bias", (h,),
          lambda b: b.reshape(heads, d))
    yield attention + ("out", "kernel"), (
        f"{hf}.attention.output.dense.weight", (h, h),
        lambda w: w.T.reshape(heads, d, h))
    yield attention + ("out", "bias"), (
        f"{hf}.attention.output.dense.bias", (h,), _identity)
    yield from norm((f"layer_{i}", "attention_norm"),
                    f"{hf}.attention.output.LayerNorm")
    yield from dense((f"layer_{i}", "intermediate"), f"{hf}.intermediate.dense",
                     h, c.intermediate_size)
    yield from dense((f"layer_{i}", "output"), f"{hf}.output.dense",
                     c.intermediate_size, h)
    yield from norm((f"layer_{i}", "output_norm"), f"{hf}.output.LayerNorm")
  if with_pooler:
    yield from dense(("pooler",), "pooler.dense", h, h)


# Old (TensorFlow-converted) checkpoints name LayerNorm parameters gamma/beta.
_ALIASES = {".LayerNorm.weight": ".LayerNorm.gamma",
            ".LayerNorm.bias": ".LayerNorm.beta"}


def _find(tensors: Mapping[str, np.ndarray], name: str) -> str | None:
  if name in tensors:
    return name
  for suffix, old in _ALIASES.items():
    if name.endswith(suffix) and name[:-len(suffix)] + old in tensors:
      return name[:-len(suffix)] + old
  return None


def _nearest(names: Any, name: str) -> list[str]:
  """Up to 5 of `names` sharing the longest dotted prefix with `name`."""
  parts = name.split(".")
  for k in range(len(parts) - 1, 0, -1):
    head = ".".join(parts[:k]) + "."
    near = sorted(n for n in names if n.startswith(head))
    if near:
      return near[:5]
  return sorted(names)[:5]


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
  for key in path[:-1]:
    tree = tree.setdefault(key, {})
  tree[path[-1]] = value


def bert_params_from_tensors(tensors: Mapping[str, np.ndarray],
                             config: BertConfig, *, prefix: str | None = None,
                             with_pooler: bool = True,
                             source: str = "the checkpoint") -> dict[str, Any]:
  """Maps Hugging Face BERT tensors to `BertEncoder` params.

  Torch `Linear` weights [out, in] become Flax kernels [in, out] (the
  attention's query/key/value kernels [H, heads, H / heads] and output kernel
  [heads, H / heads, H], as `nn.MultiHeadDotProductAttention` holds them),
  LayerNorm weight/bias (or gamma/beta) become scale/bias; all float32.
  Tensors it does not need (a pre-training or classification head,
  `embeddings.position_ids`) are ignored and counted in the log.

  Args:
    tensors: {HF name: array}, e.g. from `read_safetensors`.
    config: the model's `BertConfig`; every tensor's shape must match it.
    prefix: the prefix of every name, e.g. "bert." (BertFor... checkpoints)
      or "" (BertModel); None: "bert." if some name starts with it, else "".
    with_pooler: read `pooler.dense` (needed by pooling="pooler").
    source: how error messages name where the tensors come from.

  Returns:
    The params of `BertEncoder(config)` (pooling "pooler" if with_pooler,
    else "cls" or "mean"), a nested dict of float32 NumPy arrays.

  Raises:
    ValueError: a tensor is missing or has another shape than `config`
      implies; the message names it.
  """
  if prefix is None:
    prefix = "bert." if any(k.startswith("bert.") for k in tensors) else ""
  params: dict[str, Any] = {}
  used = set()
  for path, (name, shape, convert) in _bert_tensors(config, with_pooler):
    full = prefix + name
    found = _find(tensors, full)
    if found is None:
      raise ValueError(
          f"{source} has no tensor {full!r} (needed for "
          f"{'/'.join(path)}); it holds {len(tensors)} tensors, the nearest "
          f"{_nearest(tensors, full)}.")
    value = np.asarray(tensors[found])
    if value.shape != shape:
      raise ValueError(
          f"Tensor {found!r} in {source} has shape {value.shape}, but "
          f"{config} needs {shape}.")
    _set(params, path, convert(value.astype(np.float32)))
    used.add(found)
  unused = sorted(set(tensors) - used)
  if unused:
    logging.info("Ignored %d tensors of %s, e.g. %s.", len(unused), source,
                 unused[:3])
  return params


def load_bert_safetensors(path: str, config: BertConfig, *,
                          prefix: str | None = None,
                          with_pooler: bool = True) -> dict[str, Any]:
  """Loads a Hugging Face BERT safetensors checkpoint as `BertEncoder` params.

  Args:
    path: a `model.safetensors` file of a BERT-family checkpoint with
      BertModel's tensor names (e.g. bert-base-uncased).
    config: its `BertConfig` (e.g. `bert_config_from_hf` of its
      `config.json`).
    prefix: the names' prefix ("bert.", ""); None detects it.
    with_pooler: read the pooler (for pooling="pooler").

  Returns:
    The params of `BertEncoder(config)`: use as
    `{"params": params}` for the encoder alone, or as `params["encoder"]` of
    a `BertClassifier` or `SentencePairModel`.

  Raises:
    ValueError: the file is not safetensors, or a tensor is missing or
      mis-shaped (the message names it).

  Example:
    >>> params = load_bert_safetensors("model.safetensors", BertConfig())
    >>> variables = {"params": params}
    >>> features = BertEncoder(BertConfig()).apply(
    ...     variables, {"ids": ids, "lengths": lengths}, train=False)

  References:
    Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for
    Language Understanding, NAACL 2019 (arXiv 1810.04805).
  """
  tensors = _safetensors.read_safetensors(path)
  return bert_params_from_tensors(tensors, config, prefix=prefix,
                                  with_pooler=with_pooler, source=str(path))
