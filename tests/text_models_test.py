"""Tests of ltjax.text's models: shapes, padding invariance, heads, pairs.

The BiLSTM is checked against an LSTM written out in NumPy; the other
checks are properties (extra padding, or anything written in it, changes
nothing; a token inside the length does change the result).
"""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import models
from ltjax import text

VOCAB = 23
NUM_CLASSES = 3


def tiny_bilstm(**kwargs):
  return text.BiLSTMClassifier(num_classes=NUM_CLASSES, vocab_size=VOCAB,
                               embed_dim=6, hidden_size=5, **kwargs)


def tiny_transformer(**kwargs):
  return text.TransformerClassifier(
      num_classes=NUM_CLASSES, vocab_size=VOCAB, max_length=16, embed_dim=8,
      num_heads=2, mlp_dim=12, **kwargs)


MODELS = {"bilstm": tiny_bilstm, "transformer": tiny_transformer}


# Compiled once per model and head: eager Flax calls re-trace the LSTM's scan
# on every call, which costs seconds on a small CPU.
@functools.lru_cache(maxsize=None)
def initialised(name, head="linear"):
  """(model, variables, (logits, features) of batch(8)), one compile."""
  model = MODELS[name](head=head)
  init = jax.jit(functools.partial(model.init_with_output, train=False))
  outputs, variables = init(jax.random.key(0), batch(8))
  return model, variables, outputs


def model_and_variables(name, head="linear"):
  return initialised(name, head)[:2]


@functools.lru_cache(maxsize=None)
def evaluate(name, head="linear"):
  """A jitted (variables, inputs) -> (logits, features) with train=False."""
  return jax.jit(functools.partial(MODELS[name](head=head).apply,
                                   train=False))


def batch(length, *, fill=0, seed=0):
  """Three sentences (lengths 4, 1, 6) padded to `length` with `fill`."""
  lengths = np.array([4, 1, 6], np.int32)
  rng = np.random.default_rng(seed)
  ids = np.full((3, length), fill, np.int32)
  for b, n in enumerate(lengths):
    ids[b, :n] = rng.integers(2, VOCAB, n)
  return {"ids": ids, "lengths": lengths}


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(p, xs):
  """An LSTM over xs [T, E] with Flax's OptimizedLSTMCell params."""
  h = np.zeros(p["hi"]["kernel"].shape[0])
  c = np.zeros_like(h)
  out = []
  for x in xs:
    gate = {g: x @ p["i" + g]["kernel"] + h @ p["h" + g]["kernel"]
            + p["h" + g]["bias"] for g in "ifgo"}
    c = sigmoid(gate["f"]) * c + sigmoid(gate["i"]) * np.tanh(gate["g"])
    h = sigmoid(gate["o"]) * np.tanh(c)
    out.append(h)
  return np.array(out)


class TextModelsTest(parameterized.TestCase):

  @parameterized.parameters(("bilstm", 10), ("transformer", 8))
  def test_shapes(self, name, dim):
    logits, features = initialised(name)[2]
    self.assertEqual(logits.shape, (3, NUM_CLASSES))
    self.assertEqual(features.shape, (3, dim))
    self.assertEqual((logits.dtype, features.dtype),
                     (jnp.float32, jnp.float32))

  @parameterized.product(name=("bilstm", "transformer"), fill=(0, 7))
  def test_padding_changes_nothing(self, name, fill):
    _, variables = model_and_variables(name)
    short = evaluate(name)(variables, batch(8))
    # More padding, and even real ids (fill=7) written after each length.
    long = evaluate(name)(variables, batch(13, fill=fill))
    for a, b in zip(short, long):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

  @parameterized.parameters("bilstm", "transformer")
  def test_lengths_mask_tokens(self, name):
    _, variables, (logits, _) = initialised(name)
    x = batch(8)
    inside = {"ids": x["ids"].copy(), "lengths": x["lengths"]}
    inside["ids"][0, 3] = 1 if x["ids"][0, 3] != 1 else 2  # Position 3 < 4.
    changed, _ = evaluate(name)(variables, inside)
    self.assertGreater(np.abs(changed[0] - logits[0]).max(), 1e-4)
    # Other rows do not see row 0.
    np.testing.assert_allclose(changed[1:], logits[1:], rtol=1e-5, atol=1e-6)
    # The same ids read with shorter lengths: a different result.
    shorter = {"ids": x["ids"], "lengths": x["lengths"] - np.int32([2, 0, 0])}
    cut, _ = evaluate(name)(variables, shorter)
    self.assertGreater(np.abs(cut[0] - logits[0]).max(), 1e-4)

  def test_bilstm_matches_a_numpy_lstm(self):
    encoder = text.BiLSTMEncoder(vocab_size=VOCAB, embed_dim=4,
                                 hidden_size=3, num_layers=1)
    x = batch(7)
    variables = jax.jit(functools.partial(encoder.init, train=False))(
        jax.random.key(1), x)
    p = jax.tree.map(np.asarray, variables["params"])
    both = jax.jit(lambda params, inputs: {  # One compile for both.
        pooling: encoder.clone(pooling=pooling).apply(params, inputs,
                                                      train=False)
        for pooling in ("mean", "max")})(variables, x)
    for pooling, features in both.items():
      for b, n in enumerate(x["lengths"]):
        emb = p["embed"]["embedding"][x["ids"][b, :n]]
        forward = numpy_lstm(p["lstm1"]["forward_rnn"]["cell"], emb)
        backward = numpy_lstm(p["lstm1"]["backward_rnn"]["cell"],
                              emb[::-1])[::-1]
        steps = np.concatenate([forward, backward], axis=-1)
        expected = steps.mean(0) if pooling == "mean" else steps.max(0)
        np.testing.assert_allclose(features[b], expected, rtol=1e-5,
                                   atol=1e-6)

  def test_masked_pool(self):
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(np.float32)
    lengths = np.int32([2, 4, 0])
    mean = text.masked_pool(x, lengths, kind="mean")
    peak = text.masked_pool(x, lengths, kind="max")
    np.testing.assert_allclose(mean[:2], [x[0, :2].mean(0), x[1].mean(0)],
                               rtol=1e-6)
    np.testing.assert_allclose(peak[:2], [x[0, :2].max(0), x[1].max(0)])
    np.testing.assert_array_equal(mean[2], [0.0, 0.0])
    np.testing.assert_array_equal(peak[2], [0.0, 0.0])

  @parameterized.parameters("bilstm", "transformer")
  def test_head_types(self, name):
    for kind in models.HEADS:
      model, variables, (logits, features) = initialised(name, kind)
      head = {k: np.asarray(v) for k, v in variables["params"]["head"].items()}
      f = np.asarray(features)
      if kind == "linear":
        expected = f @ head["kernel"] + head["bias"]
      else:
        self.assertNotIn("bias", head)
        w = head["kernel"]
        expected = ((f / np.linalg.norm(f, axis=1, keepdims=True))
                    @ (w / np.linalg.norm(w, axis=0, keepdims=True)))
        self.assertLessEqual(np.abs(logits).max(), 1.0 + 1e-6)
      np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
      # The model's head is the one ltjax.models rebuilds and applies.
      np.testing.assert_allclose(
          models.apply_head(variables["params"]["head"], features, kind=kind),
          logits, rtol=1e-6)
      fresh = models.head_of(model).init(jax.random.key(3), features[:1])
      self.assertEqual(jax.tree.map(jnp.shape, fresh["params"]),
                       jax.tree.map(jnp.shape, variables["params"]["head"]))

  def test_dropout(self):
    model = tiny_transformer(dropout_rate=0.5)
    _, variables, (plain, _) = initialised("transformer")
    apply = jax.jit(model.apply, static_argnames="train")
    evaluated, _ = apply(variables, batch(8), train=False)
    np.testing.assert_allclose(evaluated, plain, rtol=1e-5, atol=1e-6)
    dropped, _ = apply(variables, batch(8), train=True,
                       rngs={"dropout": jax.random.key(0)})
    self.assertGreater(np.abs(dropped - evaluated).max(), 1e-4)

  def test_bad_inputs(self):
    model, variables = model_and_variables("transformer")
    with self.assertRaisesRegex(ValueError, "'lengths'"):
      model.apply(variables, {"ids": batch(8)["ids"]}, train=False)
    with self.assertRaisesRegex(ValueError, "max_length=16"):
      model.apply(variables, batch(17), train=False)
    with self.assertRaisesRegex(ValueError, "pooling"):
      text.masked_pool(np.zeros((1, 2, 3)), np.int32([1]), kind="last")


class PairTest(absltest.TestCase):

  def test_pair_features(self):
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(2, 3, 4)).astype(np.float32)
    expected = np.concatenate([u, v, np.abs(u - v), u * v], axis=1)
    np.testing.assert_allclose(text.pair_features(u, v), expected, rtol=1e-6)
    with self.assertRaisesRegex(ValueError, "u and v"):
      text.pair_features(u, v[:, :3])

  def test_sentence_pair_model_shares_one_encoder(self):
    encoder = text.BiLSTMEncoder(vocab_size=VOCAB, embed_dim=4, hidden_size=3,
                                 num_layers=1)
    model = text.SentencePairModel(encoder=encoder, num_classes=1)
    first, second = batch(6, seed=0), batch(9, seed=1)
    inputs = {"ids": first["ids"], "lengths": first["lengths"],
              "pair_ids": second["ids"], "pair_lengths": second["lengths"]}
    init = jax.jit(functools.partial(model.init_with_output, train=False))
    (logits, features), variables = init(jax.random.key(0), inputs)
    self.assertEqual(sorted(variables["params"]), ["encoder", "head"])
    self.assertEqual((logits.shape, features.shape), ((3, 1), (3, 24)))
    encoder_vars = {"params": variables["params"]["encoder"]}
    u, v = jax.jit(lambda params: [encoder.apply(params, x, train=False)
                                   for x in (first, second)])(encoder_vars)
    np.testing.assert_allclose(features, text.pair_features(u, v), rtol=1e-6)


if __name__ == "__main__":
  absltest.main()
