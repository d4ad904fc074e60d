"""Tests of the safetensors reader/writer and the BERT checkpoint loader.

The checkpoint is a tiny random one in the Hugging Face names and torch
layout ([out, in] weights); the expected hidden states come from BERT's
forward pass written out in NumPy from those tensors, never from the model.
"""

import functools
import json
import math
import os
import struct
import tempfile

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import text

CONFIG = text.BertConfig(vocab_size=20, hidden_size=8, num_layers=2,
                         num_heads=2, intermediate_size=12,
                         max_position_embeddings=10, type_vocab_size=2)


def temp_path(test: absltest.TestCase, name: str) -> str:
  tmp = tempfile.TemporaryDirectory()
  test.addCleanup(tmp.cleanup)
  return os.path.join(tmp.name, name)


def hf_checkpoint(config, seed=0, prefix="bert."):
  """Random tensors with BertModel's names and torch shapes."""
  rng = np.random.default_rng(seed)
  h, inter = config.hidden_size, config.intermediate_size

  def w(*shape):
    return rng.normal(0.0, 0.5, shape).astype(np.float32)

  t = {"embeddings.word_embeddings.weight": w(config.vocab_size, h),
       "embeddings.position_embeddings.weight": w(
           config.max_position_embeddings, h),
       "embeddings.token_type_embeddings.weight": w(
           config.type_vocab_size, h),
       "embeddings.LayerNorm.weight": 1.0 + w(h),
       "embeddings.LayerNorm.bias": w(h),
       "pooler.dense.weight": w(h, h), "pooler.dense.bias": w(h)}
  for i in range(config.num_layers):
    p = f"encoder.layer.{i}."
    for part in ("query", "key", "value"):
      t[p + f"attention.self.{part}.weight"] = w(h, h)
      t[p + f"attention.self.{part}.bias"] = w(h)
    t[p + "attention.output.dense.weight"] = w(h, h)
    t[p + "attention.output.dense.bias"] = w(h)
    t[p + "attention.output.LayerNorm.weight"] = 1.0 + w(h)
    t[p + "attention.output.LayerNorm.bias"] = w(h)
    t[p + "intermediate.dense.weight"] = w(inter, h)
    t[p + "intermediate.dense.bias"] = w(inter)
    t[p + "output.dense.weight"] = w(h, inter)
    t[p + "output.dense.bias"] = w(h)
    t[p + "output.LayerNorm.weight"] = 1.0 + w(h)
    t[p + "output.LayerNorm.bias"] = w(h)
  t = {prefix + k: v for k, v in t.items()}
  # What real checkpoints hold besides the encoder.
  t["cls.predictions.bias"] = w(config.vocab_size)
  t[prefix + "embeddings.position_ids"] = np.arange(
      config.max_position_embeddings, dtype=np.int64)[None]
  return t


def layer_norm(x, g, b, eps):
  mu = x.mean(-1, keepdims=True)
  var = ((x - mu) ** 2).mean(-1, keepdims=True)
  return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
  return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def numpy_bert(t, config, ids, lengths, types, prefix="bert."):
  """BertModel's forward in float64: hidden states [B, L, H], pooled [B, H]."""
  t = {k[len(prefix):]: v.astype(np.float64) for k, v in t.items()
       if k.startswith(prefix) and v.dtype == np.float32}
  eps, heads = config.layer_norm_eps, config.num_heads
  b, length = ids.shape
  d = config.hidden_size // heads
  x = (t["embeddings.word_embeddings.weight"][ids]
       + t["embeddings.position_embeddings.weight"][np.arange(length)][None]
       + t["embeddings.token_type_embeddings.weight"][types])
  x = layer_norm(x, t["embeddings.LayerNorm.weight"],
                 t["embeddings.LayerNorm.bias"], eps)
  key_valid = np.arange(length)[None, :] < lengths[:, None]  # [B, L]

  def linear(x, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]

  for i in range(config.num_layers):
    p = f"encoder.layer.{i}."
    q, k, v = (linear(x, p + f"attention.self.{n}").reshape(b, length, heads,
                                                           d)
               for n in ("query", "key", "value"))
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d)
    scores = np.where(key_valid[:, None, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    context = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, length, -1)
    attention = linear(context, p + "attention.output.dense")
    x = layer_norm(x + attention, t[p + "attention.output.LayerNorm.weight"],
                   t[p + "attention.output.LayerNorm.bias"], eps)
    y = linear(gelu(linear(x, p + "intermediate.dense")), p + "output.dense")
    x = layer_norm(x + y, t[p + "output.LayerNorm.weight"],
                   t[p + "output.LayerNorm.bias"], eps)
  pooled = np.tanh(linear(x[:, 0], "pooler.dense"))
  return x, pooled


def inputs():
  ids = np.array([[2, 5, 7, 9, 3, 0, 0], [2, 11, 3, 0, 0, 0, 0]], np.int32)
  lengths = np.array([5, 3], np.int32)
  types = np.array([[0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0]], np.int32)
  return {"ids": ids, "lengths": lengths, "token_type_ids": types}


class SafetensorsTest(absltest.TestCase):

  def test_reads_a_file_written_from_the_specification(self):
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([-1, 2**40], "<i8")
    c = np.array([0x3FC0, 0xC010], "<u2")  # bfloat16 bits of 1.5 and -2.25.
    header = {"b": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
              "a": {"dtype": "F32", "shape": [2, 3],
                    "data_offsets": [16, 40]},
              "c": {"dtype": "BF16", "shape": [2], "data_offsets": [40, 44]},
              "__metadata__": {"format": "pt"}}
    raw = json.dumps(header).encode()
    path = temp_path(self, "spec.safetensors")
    with open(path, "wb") as f:
      f.write(struct.pack("<Q", len(raw)) + raw + b.tobytes() + a.tobytes()
              + c.tobytes())
    tensors = text.read_safetensors(path)
    self.assertEqual(sorted(tensors), ["a", "b", "c"])
    np.testing.assert_array_equal(tensors["a"], a)
    np.testing.assert_array_equal(tensors["b"], b)
    np.testing.assert_array_equal(tensors["c"], np.float32([1.5, -2.25]))
    self.assertEqual(tensors["c"].dtype, np.float32)
    self.assertEqual(text.read_safetensors_metadata(path), {"format": "pt"})

  def test_writer_round_trip_and_layout(self):
    tensors = {"w": np.random.default_rng(0).normal(size=(3, 4)).astype(
                   np.float32),
               "ids": np.array([[1, -2]], np.int32),
               "half": np.array([0.5, 2.0], np.float16),
               "empty": np.zeros((0, 2), np.float32),
               "mask": np.array([True, False]),
               "bf": jnp.array([1.5, -3.0], jnp.bfloat16)}
    path = temp_path(self, "w.safetensors")
    text.write_safetensors(path, tensors, metadata={"k": "v"})
    with open(path, "rb") as f:
      size = struct.unpack("<Q", f.read(8))[0]
      header = json.loads(f.read(size))
    self.assertEqual(size % 8, 0)
    self.assertEqual(header["w"], {"dtype": "F32", "shape": [3, 4],
                                   "data_offsets": header["w"][
                                       "data_offsets"]})
    self.assertEqual(header["bf"]["dtype"], "BF16")
    back = text.read_safetensors(path)
    for name, value in tensors.items():
      expected = np.asarray(value, np.float32 if name == "bf" else None)
      np.testing.assert_array_equal(back[name], expected)
      self.assertEqual(back[name].dtype, expected.dtype)
    self.assertEqual(text.read_safetensors_metadata(path), {"k": "v"})

  def test_malformed_files_name_the_problem(self):
    path = temp_path(self, "bad.safetensors")
    with open(path, "wb") as f:
      f.write(struct.pack("<Q", 10**6) + b"{}")
    with self.assertRaisesRegex(ValueError, "header length"):
      text.read_safetensors(path)
    raw = json.dumps({"x": {"dtype": "F32", "shape": [4],
                            "data_offsets": [0, 8]}}).encode()
    with open(path, "wb") as f:
      f.write(struct.pack("<Q", len(raw)) + raw + bytes(8))
    with self.assertRaisesRegex(ValueError, r"'x' \(F32 \(4,\), 16 bytes\)"):
      text.read_safetensors(path)


class BertTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tensors = hf_checkpoint(CONFIG)

  def write(self, tensors):
    path = temp_path(self, "model.safetensors")
    text.write_safetensors(path, tensors)
    return path

  def test_loaded_params_reproduce_numpy_bert(self):
    params = text.load_bert_safetensors(self.write(self.tensors), CONFIG)
    encoder = text.BertEncoder(CONFIG)
    # The loaded tree is exactly the one the encoder initialises.
    init = jax.eval_shape(functools.partial(encoder.init, train=False),
                          jax.random.key(0), inputs())
    self.assertEqual(jax.tree.map(np.shape, params),
                     jax.tree.map(lambda s: s.shape, init["params"]))
    apply = jax.jit(functools.partial(encoder.apply, train=False,
                                      mutable=["intermediates"]))
    pooled, state = apply({"params": params}, inputs())
    sequence = state["intermediates"]["sequence"][0]
    x = inputs()
    expected_sequence, expected_pooled = numpy_bert(
        self.tensors, CONFIG, x["ids"], x["lengths"], x["token_type_ids"])
    for b, n in enumerate(x["lengths"]):
      np.testing.assert_allclose(sequence[b, :n], expected_sequence[b, :n],
                                 rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pooled, expected_pooled, rtol=1e-4, atol=1e-4)

  def test_unprefixed_names_and_gamma_beta(self):
    renamed = {}
    for name, value in self.tensors.items():
      name = name.removeprefix("bert.")
      name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
          "LayerNorm.bias", "LayerNorm.beta")
      renamed[name] = value
    got = text.load_bert_safetensors(self.write(renamed), CONFIG)
    want = text.bert_params_from_tensors(self.tensors, CONFIG)
    jax.tree.map(np.testing.assert_array_equal, got, want)
    without = text.load_bert_safetensors(self.write(renamed), CONFIG,
                                         with_pooler=False)
    self.assertNotIn("pooler", without)

  def test_missing_tensor_is_named(self):
    name = "bert.encoder.layer.1.attention.self.key.bias"
    tensors = {k: v for k, v in self.tensors.items() if k != name}
    with self.assertRaisesRegex(ValueError, f"no tensor '{name}'.*layer_1"):
      text.load_bert_safetensors(self.write(tensors), CONFIG)

  def test_misshapen_tensor_is_named(self):
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    tensors = dict(self.tensors)
    tensors[name] = np.zeros((12, 6), np.float32)
    with self.assertRaisesRegex(
        ValueError, rf"'{name}'.*shape \(12, 6\).*needs \(12, 8\)"):
      text.load_bert_safetensors(self.write(tensors), CONFIG)

  def test_classifier_on_loaded_encoder(self):
    model = text.BertClassifier(CONFIG, num_classes=3, pooling="mean")
    variables = jax.jit(functools.partial(model.init, train=False))(
        jax.random.key(0), inputs())
    params = dict(variables["params"])
    params["encoder"] = text.load_bert_safetensors(
        self.write(self.tensors), CONFIG, with_pooler=False)
    logits, features = jax.jit(functools.partial(model.apply, train=False))(
        {"params": params}, inputs())
    self.assertEqual((logits.shape, features.shape), ((2, 3), (2, 8)))
    x = inputs()
    sequence, _ = numpy_bert(self.tensors, CONFIG, x["ids"], x["lengths"],
                             x["token_type_ids"])
    expected = [sequence[b, :n].mean(0) for b, n in enumerate(x["lengths"])]
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)

  def test_config_from_hf(self):
    hf = {"vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2,
          "num_attention_heads": 2, "intermediate_size": 12,
          "max_position_embeddings": 10, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    self.assertEqual(text.bert_config_from_hf(hf), CONFIG)
    with self.assertRaisesRegex(ValueError, "gelu"):
      text.bert_config_from_hf({**hf, "hidden_act": "relu"})


if __name__ == "__main__":
  absltest.main()
