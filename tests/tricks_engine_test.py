"""The training tricks on the engine (issue 17).

Each is off by default and a config without the new fields trains exactly
as before; weight averages are checkpointed, restored and evaluated; TTA
of flip-symmetric images equals no TTA; label smoothing is the formula for
every loss; the schedules, learning-rate scaling, zero-init and whitening
do what their names say.
"""

import os

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import common
from ltjax import data
from ltjax import recipes
from ltjax import train
from ltjax.train import _average
from ltjax.train import _engine
from ltjax.train import _objectives
from ltjax.train import _workdir
import testdata

# The new fields and their "off" values.
OFF = {
    "loss.label_smoothing": 0.0,
    "weight_average.kind": "none",
    "eval_tta": "none",
    "augment.flip_mode": "random",
    "model.zero_init_residual": False,
    "model.whiten_init": False,
    "optim.lr_scaling": "none",
}


def _dataset(seed=0, symmetric_test=False):
  rng = np.random.default_rng(seed)
  counts = np.array([20, 9, 4, 2])
  labels = np.repeat(np.arange(4), counts).astype(np.int32)
  images = rng.integers(0, 256, (len(labels), 8, 8, 3), dtype=np.uint8)
  test_y = np.repeat(np.arange(4), 3).astype(np.int32)
  test_x = rng.integers(0, 256, (len(test_y), 8, 8, 3), dtype=np.uint8)
  if symmetric_test:  # left-right mirror images
    test_x[:, :, 4:] = test_x[:, :, 3::-1]
  return data.from_arrays((images, labels), test=(test_x, test_y),
                          val=(test_x, test_y))


def _config(method="ce", model="mnist_cnn", **fields):
  config = common.build("cifar10_lt", method, "2")
  config.model.name = model
  config.batch_size = 8
  config.eval_batch_size = 8
  config.log_every_steps = 4
  config.checkpoint_every_steps = 5
  config.augment.padding = 2
  for name, value in fields.items():
    testdata.set_field(config, name, value)
  return config


def _tree_equal(test, a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


class OffByDefaultTest(parameterized.TestCase):

  def test_defaults_are_off(self):
    config = train.default_config()
    for field, value in OFF.items():
      node = config
      for part in field.split("."):
        node = node[part]
      self.assertEqual(node, value, field)
    self.assertEqual(config.optim.schedule, "warmup_step")
    self.assertFalse(config.optim.nesterov)

  def test_every_recipe_has_the_tricks_off(self):
    # All but `fast`, the recipe made of them.
    methods = [m for m in common.METHODS if m != "fast"]
    self.assertLen(methods, len(common.METHODS) - 1)
    for method in methods:
      config = common.build("cifar10_lt", method)
      for field, value in OFF.items():
        node = config
        for part in field.split("."):
          node = node[part]
        self.assertEqual(node, value, f"{method}: {field}")

  def test_a_config_without_the_new_fields_trains_as_before(self):
    # An old run's config.json lacks the fields: the schema's defaults (all
    # off) fill them in, and the run is the same bit for bit.
    dataset = _dataset()
    old = _config(max_steps=6)
    for section in ("weight_average",):
      del old[section]
    del old.loss["label_smoothing"], old["eval_tta"]
    del old.augment["flip_mode"]
    del old.model["zero_init_residual"], old.model["whiten_init"]
    del old.optim["lr_scaling"], old.optim["base_batch_size"]
    tmp = testdata.make_tempdir(self)
    new = _config(max_steps=6)
    # An old run resumes under the new schema.
    self.assertEqual(_workdir.config_differences(
        old.to_dict(), new.to_dict(),
        defaults=train.default_config().to_dict()), [])
    for name, config in (("old", old), ("new", new)):
      train.train_and_evaluate(config, os.path.join(tmp, name),
                               dataset=dataset)
    _tree_equal(self, train.read_checkpoint(os.path.join(tmp, "old"))[0],
                train.read_checkpoint(os.path.join(tmp, "new"))[0])
    run = _engine.build_run(new, dataset)
    self.assertNotIn("average", run.init_state().extra)
    objective = _objectives.make_objective(
        new.loss, dataset.train_class_counts, steps_per_epoch=5)
    from ltjax import losses  # pylint: disable=g-import-not-at-top
    self.assertIs(objective.per_example_at(0), losses.weighted_cross_entropy)


class LabelSmoothingTest(parameterized.TestCase):

  @parameterized.parameters("ce", "logit_adjusted", "focal")
  def test_is_the_formula_for_every_loss(self, name):
    counts = np.array([50, 10, 5])
    config = train.default_config()
    config.loss.name = name
    config.loss.reweight = "none"
    plain = _objectives.make_objective(config.loss, counts,
                                       steps_per_epoch=1)
    config.loss.label_smoothing = 0.2
    smooth = _objectives.make_objective(config.loss, counts,
                                        steps_per_epoch=1)
    logits = jax.random.normal(jax.random.key(0), (6, 3))
    labels = jnp.array([0, 1, 2, 0, 1, 2])
    per = lambda y: np.asarray(plain.per_example_at(0)(logits, y))  # pylint: disable=g-long-lambda
    expected = np.mean(
        0.8 * per(labels)
        + 0.2 / 3 * sum(per(jnp.full_like(labels, c)) for c in range(3)))
    np.testing.assert_allclose(smooth(logits, labels, 0), expected,
                               rtol=1e-5)
    if name == "ce":  # PyTorch's cross_entropy(label_smoothing=0.2)
      logp = np.asarray(jax.nn.log_softmax(logits))
      torch_like = np.mean(-(0.8 * logp[np.arange(6), labels]
                             + 0.2 / 3 * logp.sum(1)))
      np.testing.assert_allclose(smooth(logits, labels, 0), torch_like,
                                 rtol=1e-5)

  def test_refused_for_methods_with_their_own_loss(self):
    config = common.build("cifar10_lt", "ride")
    config.loss.label_smoothing = 0.1
    with self.assertRaisesRegex(ValueError, "loss.label_smoothing"):
      train.validate_config(config, check_data=False)


class WeightAverageTest(parameterized.TestCase):

  def test_checkpointed_restored_and_resumed_bit_identically(self):
    dataset = _dataset()
    fields = {"weight_average.kind": "ema", "weight_average.decay": 0.9,
              "weight_average.warmup": 2}
    tmp = testdata.make_tempdir(self)
    straight = os.path.join(tmp, "straight")
    train.train_and_evaluate(_config(**fields), straight, dataset=dataset)
    parts = os.path.join(tmp, "parts")
    train.train_and_evaluate(_config(max_steps=3, **fields), parts,
                             dataset=dataset)
    tree, step = train.read_checkpoint(parts)
    self.assertEqual(step, 3)
    self.assertIn("average", tree["extra"])
    # The average differs from the trained weights after 3 updates.
    self.assertFalse(np.array_equal(
        tree["extra"]["average"]["params"]["head"]["kernel"],
        tree["params"]["head"]["kernel"]))
    train.train_and_evaluate(_config(**fields), parts, dataset=dataset)
    _tree_equal(self, train.read_checkpoint(straight)[0],
                train.read_checkpoint(parts)[0])
    # load_model gives the averaged weights (what was evaluated).
    _, variables, _ = train.load_model(straight)
    tree, _ = train.read_checkpoint(straight)
    np.testing.assert_array_equal(
        variables["params"]["head"]["kernel"],
        tree["extra"]["average"]["params"]["head"]["kernel"])

  def test_ema_is_the_recurrence(self):
    config = _config(**{"weight_average.kind": "ema",
                        "weight_average.decay": 0.8,
                        "weight_average.every_steps": 2})
    run = _engine.build_run(config, _dataset())
    state = run.init_state()
    average = np.asarray(state.params["head"]["kernel"])
    plans = _engine.epoch_plans(run.task, 0)
    for step in range(4):
      state, _ = run.train_step(state, _engine.train_batch(run, step, plans))
      if (step + 1) % 2 == 0:
        average = 0.8 * average + 0.2 * np.asarray(
            state.params["head"]["kernel"])
    np.testing.assert_allclose(
        state.extra["average"]["params"]["head"]["kernel"], average,
        rtol=1e-6, atol=1e-7)
    variables = _engine.model_variables(run.task, state)
    np.testing.assert_array_equal(variables["params"]["head"]["kernel"],
                                  state.extra["average"]["params"]["head"][
                                      "kernel"])

  def test_lookahead_copies_the_average_back(self):
    config = _config(**{"weight_average.kind": "lookahead",
                        "weight_average.decay": 0.5,
                        "weight_average.every_steps": 3})
    run = _engine.build_run(config, _dataset())
    state = run.init_state()
    slow = np.asarray(state.params["head"]["kernel"])
    plans = _engine.epoch_plans(run.task, 0)
    for step in range(3):
      state, _ = run.train_step(state, _engine.train_batch(run, step, plans))
      if step < 2:
        self.assertFalse(np.array_equal(state.params["head"]["kernel"],
                                        slow))
    # After k = 3 fast steps: slow <- slow + 0.5 (fast - slow); fast <- slow.
    np.testing.assert_array_equal(
        state.params["head"]["kernel"],
        state.extra["average"]["params"]["head"]["kernel"])

  def test_warmup_decay(self):
    self.assertAlmostEqual(float(_average.decay_at(1, decay=0.999,
                                                   warmup=10)), 2 / 11)
    self.assertAlmostEqual(float(_average.decay_at(10**6, decay=0.999,
                                                   warmup=10)), 0.999,
                           places=6)


class TtaTest(parameterized.TestCase):

  def test_flip_tta_of_mirror_images_equals_no_tta(self):
    dataset = _dataset(symmetric_test=True)
    results = {}
    for mode in ("none", "flip"):
      run = _engine.build_run(_config(eval_tta=mode), dataset)
      results[mode] = jax.device_get(_engine.evaluate(
          run, run.init_state(), dataset.test))
    _tree_equal(self, results["none"], results["flip"])

  def test_flip_tta_changes_predictions_of_asymmetric_images(self):
    dataset = _dataset()
    outs = {}
    for mode in ("none", "flip_translate"):
      run = _engine.build_run(_config(eval_tta=mode), dataset)
      outs[mode] = _engine.predict_split(run, run.init_state(),
                                         dataset.test)["logits"]
    self.assertFalse(np.allclose(outs["none"], outs["flip_translate"]))

  def test_features_are_refused_by_name(self):
    config = _config(eval_tta="flip", model="mlp")
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    y = np.repeat(np.arange(3), 4).astype(np.int32)
    dataset = data.from_arrays((x, y), test=(x, y))
    with self.assertRaisesRegex(ValueError, "eval_tta"):
      run = _engine.build_run(config, dataset)
      _engine.evaluate(run, run.init_state(), dataset.test)


class FlipAndInitTest(parameterized.TestCase):

  def test_alternating_flip_mirrors_each_image_once_in_two_epochs(self):
    config = _config(**{"augment.flip_mode": "alternating",
                        "augment.padding": 0})
    dataset = _dataset()
    run = _engine.build_run(config, dataset)
    augment = run.task.transforms()[0]
    seen = {}
    for epoch in (0, 1):
      for step in range(epoch * run.steps_per_epoch,
                        (epoch + 1) * run.steps_per_epoch):
        batch = _engine.train_batch(run, step, _engine.epoch_plans(
            run.task, epoch))
        self.assertIn("index", batch)
        out = np.asarray(augment({**batch, "step": jnp.int32(step)},
                                 jax.random.key(0))["input"])
        plain = np.asarray(run.task.preprocess(batch["image"], None))
        for row, index in enumerate(np.asarray(batch["index"])):
          flipped = np.array_equal(out[row], plain[row, :, ::-1])
          unflipped = np.array_equal(out[row], plain[row])
          self.assertTrue(flipped or unflipped)
          seen.setdefault(int(index), set()).add((epoch, flipped))
    for index, views in seen.items():
      self.assertEqual({f for _, f in views}, {True, False}, index)

  def test_zero_init_residual(self):
    run = _engine.build_run(
        _config(model="resnet32", **{"model.zero_init_residual": True}),
        _dataset())
    params = run.init_state().params
    for name, block in params.items():
      if name.startswith("layer"):
        np.testing.assert_array_equal(block["bn2"]["scale"], 0.0)
        np.testing.assert_array_equal(block["bn1"]["scale"], 1.0)
    with self.assertRaisesRegex(ValueError, "model.zero_init_residual"):
      train.validate_config(
          _config(**{"model.zero_init_residual": True}), check_data=False)

  def test_whitening_init_whitens_the_training_patches(self):
    dataset = _dataset()
    run = _engine.build_run(
        _config(model="resnet32", **{"model.whiten_init": True}), dataset)
    kernel = np.asarray(run.init_state().params["conv1"]["kernel"])
    self.assertEqual(kernel.shape, (3, 3, 3, 16))
    np.testing.assert_allclose(kernel[..., 8:], -kernel[..., :8])
    images = ((dataset.train.images / 255.0 - np.asarray(run.task.mean))
              / np.asarray(run.task.std))
    patches = np.stack([images[:, i:i + 3, j:j + 3].reshape(len(images), -1)
                        for i in range(6) for j in range(6)], 1)
    patches = patches.reshape(-1, 27)
    out = (patches - patches.mean(0)) @ kernel[..., :8].reshape(27, 8)
    # The top directions come out with unit variance (up to eps).
    np.testing.assert_allclose(np.var(out, 0), 1.0, atol=0.05)


class DtypeTest(absltest.TestCase):

  def test_auto_is_bfloat16_on_accelerators_only(self):
    config = _config(**{"model.dtype": "auto"})
    self.assertEqual(train.compute_dtype(config, "cpu"), jnp.float32)
    self.assertEqual(train.compute_dtype(config, "gpu"), jnp.bfloat16)
    self.assertEqual(train.compute_dtype(config, "tpu"), jnp.bfloat16)
    config.model.dtype = "float32"
    self.assertEqual(train.compute_dtype(config, "gpu"), jnp.float32)
    self.assertEqual(recipes.build("cifar10_lt", "fast").model.dtype, "auto")
    self.assertEqual(recipes.build("cifar10_lt", "ldam_drw").model.dtype,
                     "float32")


class WhiteningChannelsTest(absltest.TestCase):

  def test_more_channels_than_patch_directions_keep_their_init(self):
    # mnist_cnn's conv1 has 32 channels; 3 x 3 grey patches have 9
    # directions: 9 +/- pairs, the last 14 channels as initialised. (It
    # raised before: MNIST-LT's fast recipe could not start.)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [20, 9, 4, 2]).astype(np.int32)
    images = rng.integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    test = (images[:8], labels[:8])
    dataset = data.from_arrays((images, labels), test=test, val=test)
    plain = _engine.build_run(_config(), dataset).init_state().params
    whitened = _engine.build_run(
        _config(**{"model.whiten_init": True}), dataset).init_state().params
    kernel = np.asarray(whitened["conv1"]["kernel"])
    self.assertEqual(kernel.shape, (3, 3, 1, 32))
    np.testing.assert_allclose(kernel[..., 9:18], -kernel[..., :9])
    np.testing.assert_array_equal(kernel[..., 18:],
                                  plain["conv1"]["kernel"][..., 18:])
    self.assertFalse(np.allclose(kernel[..., :18],
                                 plain["conv1"]["kernel"][..., :18]))
    # The 9 filters whiten: the patches' covariance maps to ~ identity.
    patches = np.lib.stride_tricks.sliding_window_view(
        (images / 255.0 - np.asarray(train.ClassificationTask(
            _config(), dataset, steps_per_epoch=1).mean)) / np.asarray(
                train.ClassificationTask(_config(), dataset,
                                         steps_per_epoch=1).std),
        (3, 3), axis=(1, 2)).reshape(-1, 9)
    out = (patches - patches.mean(0)) @ kernel[..., :9].reshape(9, 9)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(9),
                               atol=0.05)


class ScheduleTest(parameterized.TestCase):

  def test_linear_scaling_scales_the_peak(self):
    config = _config(batch_size=32, **{"optim.lr_scaling": "linear",
                                       "optim.base_batch_size": 8,
                                       "optim.schedule": "linear",
                                       "optim.warmup_epochs": 1})
    schedule = _engine.make_schedule(config, steps_per_epoch=10)
    self.assertAlmostEqual(float(schedule(10)), config.optim.lr * 4,
                           places=6)
    self.assertAlmostEqual(float(schedule(20)), 0.0, places=6)

  def test_one_cycle_peaks_after_warmup(self):
    config = _config(**{"optim.schedule": "one_cycle",
                        "optim.warmup_epochs": 1})
    schedule = _engine.make_schedule(config, steps_per_epoch=10)
    values = np.array([float(schedule(s)) for s in range(20)])
    self.assertAlmostEqual(values.max(), config.optim.lr, places=6)
    self.assertEqual(int(np.argmax(values)), 9)
    self.assertAlmostEqual(values[0], config.optim.lr / 25, places=6)


if __name__ == "__main__":
  absltest.main()
