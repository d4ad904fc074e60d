"""Experts and distillation on the one engine (`config.experts`, `teacher`).

On tiny generated data: an expert run is evaluated on its aggregated logits
(the mean; ACE's per-class aggregation), ACE's gradient re-scaling touches
only the experts, RIDE's router stage records its routed accuracy and the
experts it consults, a distilling run's loss is the written formula and its
teacher is frozen, checkpointed and restored, and bad configs fail at
start-up naming the field.
"""

import json
import os

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.configs import common
from ltjax import data
from ltjax import losses
from ltjax import train
from ltjax.train import _engine
from ltjax.train import _experts
import testdata
from train_loop_test import shrink


def _softmax(x):
  x = x - x.max(-1, keepdims=True)
  e = np.exp(x)
  return e / e.sum(-1, keepdims=True)


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _trained(test, config, steps=2):
  run = train.build_run(config, data.load_dataset(config.data))
  state = run.init_state()
  plans = train.epoch_plans(run.task, 0)
  for step in range(steps):
    state, _ = run.train_step(state, train.train_batch(run, step, plans))
  return run, state


def _test_logits(run, state):
  """[E, N, C] evaluation-mode logits of the test split, straight apply."""
  split = run.dataset.test
  images, labels = split.get_batch(np.arange(len(split)))
  variables = {"params": state.params, "batch_stats": state.batch_stats}
  # Jitted: one compile, not a dispatch per eager op.
  logits = jax.jit(lambda v, x: run.model.apply(v, x, train=False)[0])(
      variables, run.preprocess(images, None))
  return np.asarray(logits, np.float64), np.asarray(labels)


class ExpertRunTest(testdata.TinyBenchmarksTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._trained_runs = {}

  def config(self, recipe, dataset="mnist_lt"):
    config = shrink(common.build(dataset, recipe), self.paths)
    train.validate_config(config)
    return config

  def trained(self, recipe):
    """`recipe` on mnist_lt after 2 steps, built once for the tests' reads."""
    if recipe not in self._trained_runs:
      self._trained_runs[recipe] = _trained(self, self.config(recipe))
    return self._trained_runs[recipe]

  def test_evaluation_is_the_mean_of_the_experts(self):
    run, state = self.trained("ride")
    logits, labels = _test_logits(run, state)
    self.assertEqual(logits.shape[0], 3)
    expected = np.mean(np.argmax(logits.mean(0), -1) == labels)
    counts = train.evaluate(run, state, run.dataset.test)
    got = run.task.summaries(counts)[""]["top1"]
    self.assertAlmostEqual(got, expected, places=6)

  def test_one_trace_across_the_drw_switch(self):
    config = self.config("ride")
    config.loss.drw_start_epoch = 1
    run = train.build_run(config, data.load_dataset(config.data))
    state = run.init_state()
    losses_seen = []
    for step in range(run.steps_per_epoch + 2):
      plans = train.epoch_plans(run.task, step // run.steps_per_epoch)
      state, metrics = run.train_step(state, train.train_batch(run, step,
                                                               plans))
      losses_seen.append(float(metrics["loss"]))
    self.assertTrue(np.all(np.isfinite(losses_seen)))
    self.assertEqual(run.train_step._cache_size(), 1)  # pylint: disable=protected-access

  def test_ace_evaluation_averages_the_experts_covering_each_class(self):
    run, state = self.trained("ace")
    logits, labels = _test_logits(run, state)
    num_experts, _, num_classes = logits.shape
    counts = np.asarray(run.dataset.train_class_counts)
    # Expert e covers the classes of count rank >= floor(e C / E).
    rank = np.empty(num_classes, int)
    rank[np.argsort(-counts, kind="stable")] = np.arange(num_classes)
    masks = np.stack([rank >= (e * num_classes) // num_experts
                      for e in range(num_experts)])
    # ACE's re-scaling: expert e's logits times mean_c ||w_0c|| over mean
    # over its classes of ||w_ec|| (its linear classifier's weight norms).
    norms = np.stack([np.linalg.norm(np.asarray(
        state.params[f"expert{e}"]["head"]["kernel"], np.float64), axis=0)
                      for e in range(num_experts)])
    scales = norms[0].mean() / np.array(
        [norms[e][masks[e]].mean() for e in range(num_experts)])
    summed = np.sum(np.where(masks[:, None, :],
                             scales[:, None, None] * logits, 0.0), axis=0)
    aggregated = summed / masks.sum(0)
    # predictions.npz's logits (linear heads: logit scale 1).
    got_logits = _engine.predict_split(run, state, run.dataset.test)["logits"]
    np.testing.assert_allclose(got_logits, aggregated, rtol=1e-4, atol=1e-4)
    expected = np.mean(np.argmax(aggregated, -1) == labels)
    got = run.task.summaries(train.evaluate(run, state, run.dataset.test)
                             )[""]["top1"]
    self.assertAlmostEqual(got, expected, places=6)
    # Neither the plain mean nor the unscaled per-class mean on this data
    # (else the test could not tell).
    self.assertFalse(np.allclose(aggregated, logits.mean(0)))
    self.assertFalse(np.allclose(scales, 1.0, atol=1e-3))

  def test_ace_later_experts_do_not_train_the_shared_layers(self):
    # ACE: expert 0's loss updates the backbone; the others only themselves
    # (at any parameters: those of the evaluation test's run).
    run, state = self.trained("ace")
    split = run.dataset.train
    images, _ = split.get_batch(np.arange(8))
    x = run.preprocess(images, None)

    def expert_sum(params, expert):
      logits = run.model.apply({"params": params,
                                "batch_stats": state.batch_stats}, x,
                               train=False)[0]
      return jnp.sum(logits[expert] ** 2)

    # One compiled program for the three gradients (not eager op by op).
    all_grads = jax.jit(lambda params: [
        jax.grad(expert_sum)(params, e) for e in range(3)])(state.params)
    for expert, grads in enumerate(all_grads):
      shared = [v for k, v in grads.items() if not k.startswith("expert")]
      shared_norm = sum(float(jnp.sum(g ** 2)) for g in
                        jax.tree.leaves(shared))
      own_norm = sum(float(jnp.sum(g ** 2)) for g in
                     jax.tree.leaves(grads[f"expert{expert}"]))
      self.assertGreater(own_norm, 0.0)
      if expert == 0:
        self.assertGreater(shared_norm, 0.0)
      else:
        self.assertEqual(shared_norm, 0.0)

  def test_router_stage_records_routed_accuracy_and_experts_used(self):
    config = self.config("ride")
    config.max_steps = 3
    config.experts.router_epochs = 2
    config.experts.router_batch_size = 16
    workdir = testdata.make_tempdir(self)
    result = train.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "history.jsonl")) as f:
      history = [json.loads(line) for line in f]
    routers = [r for r in history if r.get("stage") == "router"]
    self.assertLen(routers, 1)
    router = routers[0]
    self.assertEqual(router["step"], 3)
    for split in ("val", "test"):
      self.assertBetween(router["experts_used"][split], 1.0, 3.0)
      self.assertBetween(router[split]["top1"], 0.0, 1.0)
    # The run's final numbers stay the full ensemble's.
    self.assertNotEqual(result["final"].get("stage", "train"), "router")
    self.assertEqual(result["final"]["step"], 3)

  def test_ace_gradient_scales_only_the_experts(self):
    grads = {"conv": {"kernel": jnp.ones((2, 2))},
             "expert0": {"head": {"kernel": jnp.ones(3)}},
             "expert1": {"layer3_0": {"kernel": jnp.ones(4)},
                         "head": {"kernel": jnp.ones(3)}}}
    scaled = _experts.scale_expert_gradients(grads, [2.0, 0.5])
    np.testing.assert_array_equal(scaled["conv"]["kernel"], np.ones((2, 2)))
    np.testing.assert_array_equal(scaled["expert0"]["head"]["kernel"],
                                  2.0 * np.ones(3))
    for leaf in jax.tree.leaves(scaled["expert1"]):
      np.testing.assert_array_equal(leaf, 0.5 * np.ones(leaf.shape))
    with self.assertRaisesRegex(ValueError, "num_experts"):
      _experts.scale_expert_gradients(grads, [1.0, 1.0, 1.0])
    with self.assertRaisesRegex(ValueError, "expert model"):
      _experts.scale_expert_gradients({"conv": grads["conv"]}, [1.0])

  def test_ace_learning_rates_are_torch_param_group_lrs(self):
    # torch.optim.SGD with one param group per expert at lr * scale_k:
    # buf = m buf + g + wd p; p -= lr_k buf (weight decay and momentum
    # included in what the expert's learning rate scales).
    config = self.config("ace")
    config.optim.weight_decay = 0.1
    config.optim.nesterov = False
    run = train.build_run(config, data.load_dataset(config.data))
    counts = np.asarray(run.dataset.train_class_counts, np.float32)
    scales = np.asarray(losses.ace_lr_scales(counts, 3), np.float64)
    self.assertFalse(np.allclose(scales, 1.0))
    lr, momentum, wd = 0.5, config.optim.momentum, 0.1
    optimizer = run.task.optimizer(lambda step: lr)
    names = ("shared", "expert0", "expert1", "expert2")
    params = {k: jnp.full(2, 1.0 + i) for i, k in enumerate(names)}
    grads = [{k: jnp.full(2, 0.3 * (i + 1) * (t + 1)) for i, k in
              enumerate(names)} for t in range(2)]
    state = optimizer.init(params)
    new = params
    for g in grads:
      updates, state = optimizer.update(g, state, new)
      new = optax.apply_updates(new, updates)
    for i, k in enumerate(names):
      rate = lr * (1.0 if k == "shared" else scales[int(k[-1])])
      p, buf = 1.0 + i, 0.0
      for g in grads:
        buf = momentum * buf + float(g[k][0]) + wd * p
        p -= rate * buf
      np.testing.assert_allclose(np.asarray(new[k]), p, rtol=1e-5,
                                 err_msg=k)


class DistillationTest(testdata.TinyBenchmarksTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.teacher_dir = os.path.join(cls._tmp.name, "teacher")
    teacher = shrink(common.build("mnist_lt", "balanced_softmax"), cls.paths)
    teacher.max_steps = 2
    train.train_and_evaluate(teacher, cls.teacher_dir)

  def config(self):
    config = shrink(common.build("mnist_lt", "dive"), self.paths)
    config.teacher.workdir = self.teacher_dir
    train.validate_config(config)
    return config

  def test_loss_is_the_weighted_sum_with_the_flattened_teacher(self):
    config = self.config()
    w, temperature, power = (config.teacher.weight,
                             config.teacher.temperature, config.teacher.power)
    self.assertLess(power, 1.0)  # DiVE's flattening is exercised
    run = train.build_run(config, data.load_dataset(config.data))
    state = run.init_state()
    rng = np.random.default_rng(0)
    images, labels = run.dataset.train.get_batch(np.arange(8))
    inputs = run.preprocess(images, None)
    student = rng.normal(size=(8, run.dataset.num_classes)) * 3.0
    outputs = (jnp.asarray(student, jnp.float32), None)
    batch = {"input": inputs, "label": jnp.asarray(labels)}
    # Jitted as in the train step (one compile, not a dispatch per op).
    value, _ = jax.jit(run.task.loss)(state.params, outputs, batch, state)

    _, teacher_vars, _ = train.load_model(self.teacher_dir)
    teacher = np.asarray(jax.jit(
        lambda v, x: run.model.apply(v, x, train=False)[0])(
            teacher_vars, inputs), np.float64)
    counts = np.asarray(run.dataset.train_class_counts, np.float64)
    balanced = student + np.log(counts / counts.sum())
    bs = -np.mean(_log_softmax(balanced)[np.arange(8), labels])
    q = _softmax(teacher / temperature) ** power
    q /= q.sum(-1, keepdims=True)
    kl = np.sum(q * (np.log(q) - _log_softmax(student / temperature)), -1)
    expected = (1 - w) * bs + w * temperature ** 2 * np.mean(kl)
    self.assertAlmostEqual(float(value), expected, places=4)

  def test_teacher_is_frozen_checkpointed_and_restored(self):
    config = self.config()
    config.max_steps = 2
    config.checkpoint_every_steps = 1
    workdir = testdata.make_tempdir(self)
    train.train_and_evaluate(config, workdir)
    _, teacher_vars, _ = train.load_model(self.teacher_dir)
    run = train.build_run(config, data.load_dataset(config.data))
    like = run.init_state()
    state, _ = train.Checkpointer(os.path.join(workdir, "checkpoints"),
                                  every_steps=1, keep=10).restore_latest(like)
    self.assertEqual(int(state.step), 2)
    restored = jax.device_get(state.extra["teacher"])
    self.assertEqual(jax.tree.structure(restored),
                     jax.tree.structure(teacher_vars))
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(teacher_vars)):
      np.testing.assert_array_equal(a, b)
    # The student did move.
    student = jax.device_get(state.params)
    start = jax.device_get(like.params)
    self.assertFalse(all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(student), jax.tree.leaves(start))))


class ValidationTest(testdata.TinyBenchmarksTestCase):

  def check(self, config, pattern):
    with self.assertRaisesRegex(ValueError, pattern):
      train.validate_config(config)

  def test_bad_expert_configs_name_the_field(self):
    config = common.build("cifar10_lt", "ride")
    config.model.name = "resnet32"
    self.check(config, "model.name.*expert model")
    config = common.build("cifar10_lt", "ride")
    config.loss.name = "ce"
    self.check(config, "loss.name.*ldam")
    config = common.build("cifar10_lt", "ce")
    config.model.name = "resnet32_experts"
    self.check(config, "experts.method")
    config = common.build("cifar10_lt", "sade")
    config.experts.router_epochs = 3
    self.check(config, "experts.router_epochs")
    config = common.build("cifar10_lt", "ace")
    config.model.head = "normalized"
    self.check(config, "model.head.*weight norms")
    config = common.build("cifar10_lt", "sade")
    config.mixing.name = "mixup"
    self.check(config, "mixing.name")

  def test_bad_teacher_configs_name_the_field(self):
    config = common.build("cifar10_lt", "ride_distill")
    self.check(config, "teacher.workdir.*'ride_teacher'")
    config.teacher.workdir = testdata.make_tempdir(self)
    self.check(config, "teacher.workdir.*config.json")
    config = common.build("cifar10_lt", "sade")
    config.teacher.workdir = testdata.make_tempdir(self)
    with open(os.path.join(config.teacher.workdir, "config.json"), "w") as f:
      f.write("{}")
    self.check(config, "teacher.workdir.*no distillation")


if __name__ == "__main__":
  absltest.main()
