"""Tests of the one head-retraining routine and the one feature extractor.

cRT, LWS (`ltjax.decouple.fit_on_features`) and RRT
(`ltjax.regression.retrain_regressor`) all run `ltjax.train.retrain_head`;
each is checked against its algorithm written out here in NumPy (float64):
the same plans, the same optimizer, the same update order.
"""

from absl.testing import absltest
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import decouple
from ltjax import regression
from ltjax import sampling
from ltjax import train


def _softmax(z):
  z = z - z.max(axis=1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(axis=1, keepdims=True)


def _cosine(lr, step, total):
  return 0.5 * lr * (1 + np.cos(np.pi * min(step, total) / total))


def _stage2_reference(kind, params, frozen, features, labels, counts,
                      options):
  """cRT / LWS as the decoupling code did it, in NumPy float64.

  Per epoch the sampler's class probabilities give `epoch_plan`; each step
  takes `batch_indices` of it; the gradient of the mean cross-entropy gets
  coupled weight decay, then torch-style momentum, then a cosine step.
  """
  p = {k: np.asarray(v, np.float64) for k, v in params.items()}
  buf = {k: np.zeros_like(v) for k, v in p.items()}
  h_all = np.asarray(features, np.float64)
  n = len(labels)
  per_epoch = sampling.steps_per_epoch(n, options.batch_size)
  total = options.epochs * per_epoch
  t = 0
  for epoch in range(options.epochs):
    probs = sampling.sampling_probabilities(
        options.sampler, counts, epoch=epoch, num_epochs=options.epochs)
    plan = sampling.epoch_plan(labels, seed=options.seed, epoch=epoch,
                               class_probabilities=probs)
    for s in range(per_epoch):
      idx = sampling.batch_indices(plan, s,
                                   global_batch_size=options.batch_size)
      h, y = h_all[idx], labels[idx]
      if kind == "crt":
        logits = h @ p["kernel"] + p["bias"]
      else:
        raw = h @ frozen["kernel"] + frozen["bias"]
        logits = p["scales"] * raw
      g = _softmax(logits)
      g[np.arange(len(y)), y] -= 1
      g /= len(y)  # d mean CE / d logits
      if kind == "crt":
        grads = {"kernel": h.T @ g, "bias": g.sum(0)}
      else:
        grads = {"scales": (g * raw).sum(0)}
      lr = _cosine(options.lr, t, total)
      for k in p:
        d = grads[k] + options.weight_decay * p[k]
        buf[k] = options.momentum * buf[k] + d
        p[k] = p[k] - lr * buf[k]
      t += 1
  return p


def _long_tailed(n_per_class, dim, seed):
  rng = np.random.default_rng(seed)
  labels = np.concatenate([np.full(m, c) for c, m in enumerate(n_per_class)])
  centers = rng.normal(size=(len(n_per_class), dim)) * 2
  features = (centers[labels] + rng.normal(size=(len(labels), dim))).astype(
      np.float32)
  return features, labels.astype(np.int64), np.asarray(n_per_class)


class Stage2EquivalenceTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.features, self.labels, self.counts = _long_tailed(
        [20, 9, 4, 2], dim=6, seed=0)

  def test_crt_matches_its_numpy_statement(self):
    options = decouple.Stage2Options(epochs=3, batch_size=8, lr=0.3,
                                     momentum=0.9, weight_decay=5e-3,
                                     sampler="class_balanced", seed=4)
    params, logits_fn = decouple.crt_init(4, 6, jax.random.PRNGKey(1))
    got = decouple.fit_on_features(params, logits_fn, self.features,
                                   self.labels, self.counts, options)
    want = _stage2_reference("crt", params, None, self.features, self.labels,
                             self.counts, options)
    for k in want:
      np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5)
    # The plan matters: an instance-balanced sampler trains another head.
    other = _stage2_reference(
        "crt", params, None, self.features, self.labels, self.counts,
        decouple.Stage2Options(**{**options.__dict__, "sampler": "instance"}))
    self.assertGreater(np.abs(other["kernel"] - want["kernel"]).max(), 1e-3)

  def test_lws_matches_its_numpy_statement(self):
    rng = np.random.default_rng(3)
    head = {"kernel": rng.normal(size=(6, 4)).astype(np.float32),
            "bias": rng.normal(size=(4,)).astype(np.float32)}
    options = decouple.Stage2Options(epochs=2, batch_size=16, lr=0.2,
                                     momentum=0.9, weight_decay=1e-3,
                                     sampler="square_root", seed=1)
    params, logits_fn = decouple.lws_init(head, "linear", 4)
    got = decouple.fit_on_features(params, logits_fn, self.features,
                                   self.labels, self.counts, options)
    want = _stage2_reference("lws", params, head, self.features, self.labels,
                             self.counts, options)
    np.testing.assert_allclose(got["scales"], want["scales"], rtol=1e-4,
                               atol=1e-5)
    self.assertGreater(np.abs(want["scales"] - 1).max(), 1e-3)


class RrtEquivalenceTest(absltest.TestCase):

  def test_matches_its_numpy_statement(self):
    rng = np.random.default_rng(0)
    n, d = 37, 5
    features = rng.normal(size=(n, d)).astype(np.float32)
    targets = (features @ rng.normal(size=d) + 3).astype(np.float32)
    edges = np.array([-10.0, 0.0, 2.0, 4.0, 20.0])
    bin_weights = np.array([2.0, 0.5, 1.0, 3.0], np.float32)
    head = {"kernel": rng.normal(size=(d, 1)).astype(np.float32) * 0.1,
            "bias": np.zeros((1,), np.float32)}
    lr, wd, epochs, batch, seed = 0.05, 1e-2, 3, 8, 5
    b1, b2, eps = 0.9, 0.999, 1e-8

    def objective(pred, y, w, aux):
      del aux
      return w * (pred - y) ** 2

    seen = []
    got = regression.retrain_regressor(
        features, targets, head_params=head, objective=objective,
        edges=edges, bin_weights=bin_weights, epochs=epochs,
        batch_size=batch, learning_rate=lr, weight_decay=wd, seed=seed,
        on_epoch_end=lambda e, h, loss: seen.append((e, loss)))

    # Adam (eps outside the root) on mean(w_bin(y) (h.W + b - y)^2) with
    # the decay added to the gradient, over seeded permutations.
    w_all = bin_weights[np.searchsorted(edges[1:-1], targets, side="right")]
    p = {k: np.asarray(v, np.float64) for k, v in head.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(val) for k, val in p.items()}
    per_epoch = sampling.steps_per_epoch(n, batch)
    t, mean_losses = 0, []
    for epoch in range(epochs):
      plan = sampling.epoch_plan(np.zeros(n, np.int64), seed=seed,
                                 epoch=epoch)
      batch_losses = []
      for s in range(per_epoch):
        idx = sampling.batch_indices(plan, s, global_batch_size=batch)
        h, y, w = features[idx].astype(np.float64), targets[idx], w_all[idx]
        r = h @ p["kernel"][:, 0] + p["bias"][0] - y
        batch_losses.append(np.mean(w * r ** 2))
        g_pred = 2 * w * r / len(y)
        grads = {"kernel": (h.T @ g_pred)[:, None],
                 "bias": np.array([g_pred.sum()])}
        t += 1
        for k in p:
          g = grads[k] + wd * p[k]
          m[k] = b1 * m[k] + (1 - b1) * g
          v[k] = b2 * v[k] + (1 - b2) * g ** 2
          mhat, vhat = m[k] / (1 - b1 ** t), v[k] / (1 - b2 ** t)
          p[k] = p[k] - lr * mhat / (np.sqrt(vhat) + eps)
      mean_losses.append(np.mean(batch_losses))
    for k in p:
      np.testing.assert_allclose(got[k], p[k], rtol=1e-4, atol=1e-5)
    self.assertEqual([e for e, _ in seen], [1, 2, 3])
    np.testing.assert_allclose([loss for _, loss in seen], mean_losses,
                               rtol=1e-4)

  def test_max_steps_stops_early(self):
    features = np.ones((10, 2), np.float32)
    targets = np.ones((10,), np.float32)
    head = {"kernel": np.zeros((2, 1), np.float32),
            "bias": np.zeros((1,), np.float32)}
    seen = []
    regression.retrain_regressor(
        features, targets, head_params=head,
        objective=lambda p, y, w, aux: w * (p - y) ** 2,
        edges=np.array([0.0, 2.0]), bin_weights=np.ones(1), epochs=5,
        batch_size=4, learning_rate=0.1,
        on_epoch_end=lambda e, h, loss: seen.append(e), max_steps=4)
    self.assertEqual(seen, [1, 2])  # 3 steps in epoch 1, 1 in epoch 2


class RetrainHeadTest(absltest.TestCase):

  def test_weights_scale_the_gradient(self):
    # Plain SGD: example weights of 3 equal a learning rate 3 times larger.
    features = np.random.default_rng(0).normal(size=(12, 3)).astype(
        np.float32)
    targets = np.arange(12, dtype=np.float32)
    params = {"w": jnp.zeros((3,))}

    def fit(weights, lr):
      return train.retrain_head(
          params, features, targets, apply_fn=lambda p, x: x @ p["w"],
          loss_fn=lambda out, y, w: (out - y) ** 2 * (1 if w is None else w),
          tx=optax.sgd(lr), epochs=2, batch_size=5, weights=weights)

    np.testing.assert_allclose(fit(np.full(12, 3.0), 0.01)["w"],
                               fit(None, 0.03)["w"], rtol=1e-5)

  def test_plan_chooses_the_examples(self):
    # A plan that only ever shows example 0 fits it exactly.
    features = np.eye(4, dtype=np.float32)
    targets = np.array([5.0, -1.0, -1.0, -1.0], np.float32)
    got = train.retrain_head(
        {"w": jnp.zeros((4,))}, features, targets,
        apply_fn=lambda p, x: x @ p["w"],
        loss_fn=lambda out, y, w: (out - y) ** 2, tx=optax.sgd(0.25),
        epochs=30, batch_size=4, plan=lambda epoch: np.zeros(4, np.int64))
    np.testing.assert_allclose(got["w"], [5.0, 0.0, 0.0, 0.0], atol=1e-4)


class _Tiny(nn.Module):

  @nn.compact
  def __call__(self, x, train: bool):
    h = nn.BatchNorm(use_running_average=not train)(x)
    h = nn.relu(nn.Dense(5)(h))
    return nn.Dense(3)(h), h


class _Split:

  def __init__(self, inputs):
    self.inputs = inputs

  def __len__(self):
    return len(self.inputs)

  def get_batch(self, indices):
    return self.inputs[indices], np.zeros(len(indices), np.int32)


class ExtractFeaturesTest(absltest.TestCase):

  def test_evaluation_mode_in_split_order_with_padding(self):
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 255, size=(13, 4)).astype(np.uint8)
    model = _Tiny()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)),
                           train=False)
    variables = {"params": variables["params"], "batch_stats": {
        "BatchNorm_0": {"mean": jnp.full((4,), 60.0),
                        "var": jnp.full((4,), 900.0)}}}
    keys = []

    def preprocess(x, key):
      keys.append(key)
      return x.astype(jnp.float32) / 2

    features, logits = train.extract_features(
        model, variables, _Split(inputs), preprocess=preprocess,
        batch_size=5, with_outputs=True)  # 8 devices: batches of 8
    self.assertEqual(set(keys), {None})
    want_logits, want = model.apply(
        variables, jnp.asarray(inputs, jnp.float32) / 2, train=False)
    self.assertEqual(features.dtype, np.float32)
    self.assertEqual(features.shape, (13, 5))
    np.testing.assert_allclose(features, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-5, atol=1e-5)
    only = train.extract_features(model, variables, _Split(inputs[:3]),
                                  preprocess=preprocess, batch_size=8)
    np.testing.assert_allclose(only, want[:3], rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
  absltest.main()
