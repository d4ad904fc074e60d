"""Mixed targets, ImbSAM, SAM at rho = 0 and MaxNorm in the one step.

Expected values come from the formulas written out here in NumPy (the
mixed, class-weighted reduction), from independent gradients of separately
written head and tail losses (ImbSAM), or from properties: lambda = 1 is no
mixing, a zero radius is plain SGD, one compiled step for a whole schedule
whose mixing and DRW switch on and off.
"""

from absl.testing import absltest
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import data
from ltjax import losses
from ltjax import recipes
from ltjax import train
from ltjax.train import _component
import testdata

COUNTS = np.array([40.0, 12.0, 5.0, 2.0])


def _loss_config(**fields):
  config = train.default_config().loss
  config.update(fields)
  return config


def _logits_labels(seed=0, batch=12):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(batch, 4)).astype(np.float32) * 2
  return (logits, rng.integers(0, 4, batch).astype(np.int32),
          rng.integers(0, 4, batch).astype(np.int32),
          rng.uniform(size=batch).astype(np.float32))


def _np_ce(logits, labels):
  z = logits - logits.max(-1, keepdims=True)
  logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
  return -logp[np.arange(len(labels)), labels]


class MixedObjectiveTest(absltest.TestCase):

  def test_unit_weight_is_exactly_the_unmixed_loss_for_every_loss(self):
    logits, y, y_b, _ = _logits_labels()
    ones = np.ones(len(y), np.float32)
    for name in sorted(train.LOSSES):
      for reweight in ("default", "drw"):
        objective = train.make_objective(
            _loss_config(name=name, reweight=reweight, drw_start_epoch=0),
            COUNTS, steps_per_epoch=1)
        plain = objective(logits, y, 5)
        mixed = objective(logits, y, 5, labels_b=y_b, weight_a=ones)
        self.assertEqual(float(plain), float(mixed), (name, reweight))

  def test_class_weighted_mix_matches_the_formula(self):
    # DRW weights w; R(v; y) = sum w_y v / sum w_y on each target.
    logits, y, y_b, a = _logits_labels(1)
    objective = train.make_objective(
        _loss_config(name="ce", reweight="drw", drw_start_epoch=0), COUNTS,
        steps_per_epoch=1)
    w = np.asarray(losses.class_balanced_weights(COUNTS, beta=0.9999))
    expected = (np.sum(w[y] * a * _np_ce(logits, y)) / np.sum(w[y])
                + np.sum(w[y_b] * (1 - a) * _np_ce(logits, y_b))
                / np.sum(w[y_b]))
    got = objective(logits, y, 3, labels_b=y_b, weight_a=a)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_unweighted_mix_is_the_mixup_criterion(self):
    logits, y, y_b, _ = _logits_labels(2)
    lam = np.full(len(y), 0.3, np.float32)
    objective = train.make_objective(_loss_config(name="ce"), COUNTS,
                                     steps_per_epoch=1)
    expected = (0.3 * _np_ce(logits, y).mean()
                + 0.7 * _np_ce(logits, y_b).mean())
    np.testing.assert_allclose(
        objective(logits, y, 0, labels_b=y_b, weight_a=lam), expected,
        rtol=1e-5)

  def test_parts_of_disjoint_class_sets_sum_to_the_loss(self):
    logits, y, y_b, a = _logits_labels(3)
    tail = COUNTS < 10
    for name in ("ce", "ldam", "focal"):
      objective = train.make_objective(
          _loss_config(name=name, reweight="drw", drw_start_epoch=0), COUNTS,
          steps_per_epoch=1)
      for kwargs in ({}, {"labels_b": y_b, "weight_a": a}):
        total = objective(logits, y, 2, **kwargs)
        parts = (objective.part(logits, y, 2, classes=tail, **kwargs)
                 + objective.part(logits, y, 2, classes=~tail, **kwargs))
        np.testing.assert_allclose(parts, total, rtol=1e-5, atol=1e-7)


class _Linear(nn.Module):

  @nn.compact
  def __call__(self, x, *, train: bool):
    del train
    features = jnp.tanh(nn.Dense(6, name="body")(x))
    return nn.Dense(4, name="head")(features), features


def _state(model, tx, x, extra=None):
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  return train.TrainState(
      step=jnp.zeros((), jnp.int32), params=variables["params"],
      batch_stats={}, opt_state=tx.init(variables["params"]),
      rng=jax.random.PRNGKey(1), extra={} if extra is None else extra)


def _batch(seed=0, size=10):
  rng = np.random.default_rng(seed)
  return {"input": rng.normal(size=(size, 5)).astype(np.float32),
          "label": rng.integers(0, 4, size).astype(np.int32)}


class ImbSamTest(absltest.TestCase):
  TAIL = np.array([False, False, True, True])

  def _pieces(self, batch):
    model = _Linear()

    def subset_loss(params, keep):
      logits = model.apply({"params": params}, batch["input"], train=True)[0]
      ce = optax.softmax_cross_entropy_with_integer_labels(logits,
                                                           batch["label"])
      return jnp.sum(jnp.where(keep[batch["label"]], ce, 0.0)) / len(ce)

    def loss_fn(params):
      logits = model.apply({"params": params}, batch["input"], train=True)[0]
      ce = optax.softmax_cross_entropy_with_integer_labels(logits,
                                                           batch["label"])
      return jnp.mean(ce), ({"tail_loss": subset_loss(params, self.TAIL)},
                            {})

    params = model.init(jax.random.PRNGKey(0), batch["input"],
                        train=False)["params"]
    return params, loss_fn, subset_loss

  def test_gradient_is_head_gradient_plus_tail_gradient_at_the_ascent(self):
    batch = _batch()
    params, loss_fn, subset_loss = self._pieces(batch)
    rho = 0.2
    head = jax.grad(subset_loss)(params, ~self.TAIL)
    tail = jax.grad(subset_loss)(params, self.TAIL)
    norm = np.sqrt(sum(np.sum(np.square(g))
                       for g in jax.tree.leaves(tail)))
    ascent = jax.tree.map(lambda p, g: p + rho * g / norm, params, tail)
    expected = jax.tree.map(jnp.add, head,
                            jax.grad(subset_loss)(ascent, self.TAIL))
    (loss, _), grads = train.imbsam_gradient(
        rho, part=lambda aux: aux["tail_loss"])(loss_fn, params)
    np.testing.assert_allclose(loss, loss_fn(params)[0], rtol=1e-6)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected)):
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)

  def test_ascent_direction_ignores_head_class_examples(self):
    # Replacing the head-class examples' inputs changes the head gradient
    # only: the sharpness-aware part (the total minus the head gradient at
    # w) is the same, so the ascent point was built from tail examples.
    batch = _batch(1, size=16)
    other = dict(batch)
    head_rows = ~self.TAIL[batch["label"]]
    self.assertTrue(head_rows.any() and (~head_rows).any())
    other["input"] = np.where(head_rows[:, None], 5.0 * batch["input"] + 1,
                              batch["input"]).astype(np.float32)
    sharp = []
    for b in (batch, other):
      params, loss_fn, subset_loss = self._pieces(b)
      _, grads = train.imbsam_gradient(
          0.5, part=lambda aux: aux["tail_loss"])(loss_fn, params)
      head = jax.grad(subset_loss)(params, ~self.TAIL)
      sharp.append(jax.tree.map(jnp.subtract, grads, head))
    for a, b in zip(jax.tree.leaves(sharp[0]), jax.tree.leaves(sharp[1])):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

  def test_no_tail_example_gives_the_plain_gradient(self):
    batch = _batch(2)
    batch["label"] = batch["label"] % 2  # head classes 0, 1 only
    params, loss_fn, _ = self._pieces(batch)
    _, grads = train.imbsam_gradient(
        0.5, part=lambda aux: aux["tail_loss"])(loss_fn, params)
    plain = jax.grad(lambda p: loss_fn(p)[0])(params)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(plain)):
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def _ce(params, outputs, batch, state):
  del params, state
  logits = outputs[0]
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
      logits, batch["label"])), logits


class SamZeroTest(absltest.TestCase):

  def test_zero_radius_is_plain_sgd(self):
    model, tx = _Linear(), optax.sgd(0.1, momentum=0.9)
    batch = _batch()
    plain = jax.jit(train.make_step(model, tx, loss=_ce,
                                    learning_rate=lambda s: 0.1))
    sam = jax.jit(train.make_step(model, tx, loss=_ce,
                                  learning_rate=lambda s: 0.1,
                                  gradient=train.sam_gradient(0.0)))
    s1 = s2 = _state(model, tx, batch["input"])
    for i in range(3):
      s1, _ = plain(s1, _batch(i))
      s2, _ = sam(s2, _batch(i))
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
      np.testing.assert_array_equal(a, b)


class ProjectTest(absltest.TestCase):

  def test_projection_runs_after_the_update_with_its_state(self):
    model, tx = _Linear(), optax.sgd(1.0)
    batch = _batch()
    seen = {}

    def project(params, extra, previous):
      seen["previous"] = previous
      head = {**params["head"], "kernel": params["head"]["kernel"] * 0.0}
      return {**params, "head": head}, {"count": extra["count"] + 1}

    step = train.make_step(model, tx, loss=_ce, learning_rate=lambda s: 1.0,
                           project=project)
    state = _state(model, tx, batch["input"],
                   extra={"count": jnp.zeros((), jnp.int32)})
    new, _ = step(state, batch)
    np.testing.assert_array_equal(new.params["head"]["kernel"], 0.0)
    self.assertEqual(int(new.extra["count"]), 1)
    np.testing.assert_array_equal(seen["previous"]["head"]["kernel"],
                                  state.params["head"]["kernel"])
    # The body got the plain SGD update.
    grads = jax.grad(lambda p: _ce(p, model.apply(
        {"params": p}, batch["input"], train=True), batch, None)[0])(
            state.params)
    np.testing.assert_allclose(
        new.params["body"]["kernel"],
        state.params["body"]["kernel"] - grads["body"]["kernel"], rtol=1e-5)


class EngineMixingTest(testdata.TinyBenchmarksTestCase):
  """Mixing, ImbSAM and MaxNorm through the config, on tiny MNIST-LT."""

  def _config(self, **fields):
    config = recipes.build("mnist_lt", "ce", "4")
    config.data.path = self.paths["mnist_lt"]
    config.data.imbalance_ratio = 4.0
    config.data.val_per_class = 2
    config.batch_size = 16
    config.eval_every_epochs = 2
    for field, value in fields.items():
      testdata.set_field(config, field, value)
    train.validate_config(config)
    return config

  def _params_after(self, config, steps):
    run = train.build_run(config, data.load_dataset(config.data))
    state = run.init_state()
    for step in range(steps):
      plans = train.epoch_plans(run.task, step // run.steps_per_epoch)
      state, metrics = run.train_step(state, train.train_batch(run, step,
                                                               plans))
    return run, state, metrics

  def test_lambda_one_mixing_is_bit_identical_to_no_mixing(self):
    # alpha = 0: lambda = 1, so the mixed batch and loss are the plain ones.
    _, plain, m1 = self._params_after(self._config(), 3)
    _, mixed, m2 = self._params_after(
        self._config(**{"mixing.name": "mixup", "mixing.alpha": 0.0}), 3)
    self.assertEqual(float(m1["loss"]), float(m2["loss"]))
    for a, b in zip(jax.tree.leaves(plain.params),
                    jax.tree.leaves(mixed.params)):
      np.testing.assert_array_equal(a, b)

  def test_one_trace_across_mixing_and_drw_switches(self):
    config = self._config(**{
        "mixing.name": "cutmix", "mixing.targets": "remix",
        "mixing.start_epoch": 1, "mixing.stop_epoch": 3,
        "loss.reweight": "drw", "loss.drw_start_epoch": 2})
    run, _, _ = self._params_after(config, 4 * self.steps(config))
    self.assertEqual(run.train_step._cache_size(), 1)

  def steps(self, config):
    return train.build_run(config, data.load_dataset(
        config.data)).steps_per_epoch

  def test_balanced_partner_batch_is_class_balanced(self):
    config = self._config(**{"mixing.name": "mixup",
                             "mixing.partner": "balanced"})
    run = train.build_run(config, data.load_dataset(config.data))
    train_labels = np.asarray(run.dataset.train.labels)
    plans = train.epoch_plans(run.task, 0)
    batch = train.train_batch(run, 1, plans)
    self.assertEqual(batch["image_b"].shape, batch["image"].shape)
    size = config.batch_size
    np.testing.assert_array_equal(batch["label_b"],
                                  train_labels[plans[1][size:2 * size]])
    np.testing.assert_array_equal(batch["label"],
                                  train_labels[plans[0][size:2 * size]])
    drawn = np.concatenate([train_labels[run.task.partner_plan(e)]
                            for e in range(20)])
    counts = np.bincount(drawn, minlength=run.dataset.num_classes)
    # Uniform over classes although the training set is imbalanced.
    self.assertGreater(run.counts.max() / run.counts.min(), 3.0)
    self.assertLess(counts.max() / counts.min(), 1.5)
    state = run.init_state()
    state, metrics = run.train_step(state, batch)
    self.assertTrue(np.isfinite(float(metrics["loss"])))

  def test_relative_max_norm_holds_from_the_initial_classifier(self):
    config = self._config(**{"max_norm.mode": "relative",
                             "max_norm.position": 0.1,
                             "optim.lr": 0.5})
    run = train.build_run(config, data.load_dataset(config.data))
    kernel = np.asarray(run.init_state().params["head"]["kernel"])
    norms = np.linalg.norm(kernel, axis=0)
    threshold = norms.min() + 0.1 * (norms.max() - norms.min())
    _, state, _ = self._params_after(config, 5)
    np.testing.assert_allclose(state.extra["max_norm_threshold"], threshold,
                               rtol=1e-6)
    after = np.linalg.norm(np.asarray(state.params["head"]["kernel"]),
                           axis=0)
    self.assertTrue(np.all(after <= threshold * (1 + 1e-5)))

  def test_imbsam_config_splits_the_loss_by_tail_classes(self):
    config = self._config(**{"optim.sam_rho": 0.05,
                             "optim.sam_kind": "imbsam",
                             "imbsam_tail_count": 10})
    run = train.build_run(config, data.load_dataset(config.data))
    sam = _component.with_role(run.task.components, "gradient")
    np.testing.assert_array_equal(sam.tail_classes, run.counts < 10)
    _, state, metrics = self._params_after(config, 2)
    self.assertTrue(np.isfinite(float(metrics["loss"])))

  def test_imbsam_refuses_an_empty_or_full_tail_set(self):
    # MNIST-LT's smallest class has 54 examples: with the original's eta 20
    # the tail set was empty and the run silently plain SGD.
    for count, message in ((1, "tail set is empty"),
                           (10_000, "every class has fewer")):
      config = self._config(**{"optim.sam_rho": 0.05,
                               "optim.sam_kind": "imbsam",
                               "imbsam_tail_count": count})
      with self.assertRaisesRegex(ValueError,
                                  f"config.imbsam_tail_count={count}: "
                                  f".*{message}"):
        train.build_run(config, data.load_dataset(config.data))

  def test_imbsam_loss_weights_the_tail_share(self):
    # loss = head + w * tail = plain + (w - 1) * tail, at the same params.
    values = {}
    for weight in (1.0, 3.0):
      config = self._config(**{"optim.sam_rho": 0.05,
                               "optim.sam_kind": "imbsam",
                               "imbsam_tail_count": 10,
                               "imbsam_tail_weight": weight})
      run = train.build_run(config, data.load_dataset(config.data))
      state = run.init_state()
      batch = train.train_batch(run, 0, train.epoch_plans(run.task, 0))
      outputs = run.model.apply(
          {"params": state.params, "batch_stats": state.batch_stats},
          run.task.preprocess(batch["image"], None), train=False)
      value, aux = run.task.loss(state.params, outputs, batch, state)
      values[weight] = (float(value), float(aux["tail_loss"]))
    (plain, tail1), (weighted, tail3) = values[1.0], values[3.0]
    np.testing.assert_allclose(tail3, 3 * tail1, rtol=1e-6)
    np.testing.assert_allclose(weighted, plain + 2 * tail1, rtol=1e-6)
    self.assertGreater(tail1, 0)

  def test_glmc_trains_its_heads_and_evaluates_the_rebalanced_one(self):
    config = self._config(**{"glmc.enabled": True,
                             "max_norm.mode": "relative"})
    run, state, metrics = self._params_after(config, 3)
    self.assertEqual(run.train_step._cache_size(), 1)
    self.assertTrue(np.isfinite(float(metrics["loss"])))
    self.assertEqual(set(state.params), {"model", "glmc"})
    # Both the model and the extra heads were trained.
    first = run.init_state()
    for part in ("model", "glmc"):
      self.assertFalse(np.allclose(
          jax.tree.leaves(first.params[part])[-1],
          jax.tree.leaves(state.params[part])[-1]))
    # MaxNorm bounds the evaluated (re-balanced) classifier.
    kernel = np.asarray(state.params["glmc"]["classifier_cb"]["kernel"])
    self.assertTrue(np.all(np.linalg.norm(kernel, axis=0)
                           <= float(state.extra["max_norm_threshold"])
                           * (1 + 1e-5)))
    # The predict step's logits are those of GLMCHeads' fc_cb on features.
    from ltjax import mixing  # pylint: disable=g-import-not-at-top
    images, labels = run.dataset.test.get_batch(np.arange(8))
    batch = {"image": images, "label": labels.astype(np.int32),
             "mask": np.ones(8, bool)}
    out = run.predict_step(state, batch)
    _, features = run.model.apply(
        {"params": state.params["model"], "batch_stats": state.batch_stats},
        run.preprocess(batch["image"], None), train=False)
    expected = mixing.GLMCHeads(num_classes=run.dataset.num_classes).apply(
        {"params": state.params["glmc"]}, features)["logits_cb"]
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-5,
                               atol=1e-5)

  def test_config_errors_name_the_field(self):
    for fields, field in (
        ({"mixing.name": "mixmatch"}, "mixing.name"),
        ({"mixing.stop_epoch": 1, "mixing.start_epoch": 2},
         "mixing.stop_epoch"),
        ({"mixing.name": "mixup", "mixing.targets": "remix",
          "loss.name": "lade"}, "mixing.targets"),
        ({"max_norm.mode": "relative", "model.head": "normalized"},
         "max_norm.mode"),
        ({"optim.sam_kind": "asam"}, "optim.sam_kind"),
        ({"glmc.enabled": True, "mixing.name": "mixup"}, "mixing.name"),
        ({"glmc.enabled": True, "loss.name": "ldam"}, "loss.name"),
        ({"glmc.enabled": True, "stage2.name": "crt"}, "stage2.name")):
      config = recipes.build("mnist_lt", "ce")
      for f, v in fields.items():
        testdata.set_field(config, f, v)
      with self.assertRaisesRegex(ValueError, f"config.{field}"):
        train.validate_config(config, check_data=False)

  def test_imbsam_is_refused_for_regression(self):
    config = recipes.build("abalone_dir", "vanilla")
    config.optim.sam_kind = "imbsam"
    with self.assertRaisesRegex(ValueError, "config.optim.sam_kind"):
      train.validate_config(config, check_data=False)



if __name__ == "__main__":
  absltest.main()
