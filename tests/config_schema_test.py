"""Tests for the one config schema: run fields once, task sections on top.

Every task's default config carries the same run fields, checked by the one
validator `ltjax.train.validate_config` with one error format; it dispatches
the task sections on `config.task`. A workdir whose config.json was written
before `task` / `optim.name` existed still resumes.
"""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized

from ltjax import recipes
from ltjax import regression
from ltjax import train
from ltjax.train import _workdir
import testdata

TASKS = ("classification", "regression")
RUN_FIELDS = (
    "task", "seed", "num_epochs", "batch_size", "max_steps",
    "eval_every_epochs", "eval_batch_size", "log_every_steps",
    "checkpoint_every_steps", "keep_checkpoints", "shot_many", "shot_few",
    "model.dtype", "model.conv", "optim.name", "optim.lr", "optim.momentum",
    "optim.nesterov", "optim.weight_decay", "optim.schedule",
    "optim.warmup_epochs", "optim.decay_epochs", "optim.decay_factors")


def flat_keys(config):
  keys = []
  for key, value in config.items():
    if hasattr(value, "items"):
      keys += [f"{key}.{k}" for k in flat_keys(value)]
    else:
      keys.append(key)
  return keys


def get(config, path):
  for part in path.split("."):
    config = config[part]
  return config


def put(config, path, value):
  *parents, leaf = path.split(".")
  for part in parents:
    config = config[part]
  config[leaf] = value


class SchemaTest(parameterized.TestCase):

  def test_run_fields_are_one_set_for_every_task(self):
    keys = {task: flat_keys(train.default_run_fields(task)) for task in TASKS}
    self.assertCountEqual(keys["classification"], keys["regression"])
    self.assertContainsSubset(RUN_FIELDS, keys["classification"])

  @parameterized.parameters(*TASKS)
  def test_task_configs_start_from_the_run_fields(self, task):
    run = train.default_run_fields(task)
    config = train.default_config(task)
    for field in flat_keys(run):
      self.assertEqual(get(config, field), get(run, field), field)
    for field in RUN_FIELDS:
      self.assertEqual(get(config, field), get(run, field), field)
    self.assertEqual(config.task, task)

  def test_task_defaults(self):
    classification = train.default_config()
    self.assertEqual(classification.optim.name, "sgd")
    self.assertEqual((classification.num_epochs, classification.batch_size,
                      classification.eval_batch_size, classification.optim.lr),
                     (200, 128, 500, 0.1))
    reg = regression.default_config()
    self.assertEqual(reg.optim.name, "adam")
    self.assertEqual((reg.num_epochs, reg.batch_size, reg.eval_batch_size,
                      reg.optim.lr), (90, 256, 512, 1e-3))
    self.assertEqual(train.default_config("regression"), reg)
    with self.assertRaisesRegex(ValueError, r"config.task: 'ranking' is not"):
      train.default_config("ranking")

  @parameterized.parameters(*TASKS)
  def test_default_config_is_valid(self, task):
    train.validate_config(train.default_config(task), check_data=False)

  @parameterized.parameters(
      ("batch_size", 0, r"config.batch_size: must be >= 1, got 0\."),
      ("optim.name", "lamb", r"config.optim.name: 'lamb' is not one of"),
      ("optim.lr", -1.0, r"config.optim.lr: must be > 0"),
      ("model.dtype", "float16", r"config.model.dtype: 'float16'"),
      ("max_steps", 0, r"config.max_steps: must be -1"),
      ("optim.decay_epochs", (9, 3), r"config.optim.decay_epochs: must "
       r"increase"),
  )
  def test_run_field_errors_are_the_same_for_every_task(self, field, value,
                                                        message):
    for task in TASKS:
      config = train.default_config(task)
      put(config, field, value)
      with self.assertRaisesRegex(ValueError, message):
        train.validate_config(config, check_data=False)

  def test_dispatches_task_sections_on_task(self):
    config = recipes.build("abalone_dir", "lds")
    config.loss.name = "ce"  # a classification loss, not a regression one
    with self.assertRaisesRegex(ValueError, r"config.loss.name: 'ce' is not "
                                r"one of \['bmc'"):
      train.validate_config(config, check_data=False)
    config = recipes.build("mnist_lt", "ce")
    config.loss.name = "l1"
    with self.assertRaisesRegex(ValueError, r"config.loss.name: 'l1' is not "
                                r"one of \['balanced_softmax'"):
      train.validate_config(config, check_data=False)
    config.task = "ranking"
    with self.assertRaisesRegex(ValueError, r"config.task: 'ranking' is not "
                                r"one of \['classification', 'regression'\]"):
      train.validate_config(config, check_data=False)

  def test_a_config_without_task_is_classification(self):
    config = recipes.build("mnist_lt", "ldam_drw")
    del config["task"]
    del config.optim["name"]
    train.validate_config(config, check_data=False)
    config.loss.max_margin = -1.0
    with self.assertRaisesRegex(ValueError, "config.loss.max_margin"):
      train.validate_config(config, check_data=False)

  def test_regression_validator_is_the_one_validator(self):
    config = recipes.build("csv_dir", "rrt")
    regression.validate_config(config, check_data=False)
    config.batch_size = 0
    with self.assertRaisesRegex(ValueError, r"config.batch_size: must be"):
      regression.validate_config(config, check_data=False)
    with self.assertRaisesRegex(ValueError, r"config.task: must be "
                                r"'regression' for ltjax.regression"):
      regression.validate_config(recipes.build("mnist_lt", "ce"))

  def test_every_recipe_is_valid(self):
    for dataset, (task, _) in recipes.DATASETS.items():
      for method in recipes.METHODS[task]:
        if not recipes.supported(dataset, method):
          with self.assertRaisesRegex(ValueError, f"{method}.*{dataset}"):
            recipes.build(dataset, method, "3")
          continue
        train.validate_config(recipes.build(dataset, method, "3"),
                              check_data=False)


class OldWorkdirTest(parameterized.TestCase):
  """A config.json written by the schema before `task` and `optim.name`."""

  @parameterized.parameters(("mnist_lt", "ce", ("task", "optim.name")),
                            ("abalone_dir", "lds_fds",
                             ("optim.nesterov",)))
  def test_old_saved_config_resumes(self, dataset, method, new_fields):
    config = recipes.build(dataset, method, "2")
    saved = config.to_dict()
    for field in new_fields:  # what the old schema did not write
      *parents, leaf = field.split(".")
      section = saved
      for part in parents:
        section = section[part]
      del section[leaf]
    workdir = testdata.make_tempdir(self)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      json.dump(saved, f)
    # Compared field by field, the old file lacks the new fields ...
    self.assertLen(_workdir.config_differences(saved, config.to_dict()),
                   len(new_fields))
    # ... which take the defaults of the config's task: it resumes, whether
    # the caller passes the defaults or leaves them to the schema.
    for defaults in (train.default_config(config.task).to_dict(), None):
      lock = _workdir.open_workdir(workdir, config.to_dict(),
                                   defaults=defaults)
      lock.release()
    # A field that does differ is still refused.
    config.optim.name = "adam" if config.optim.name == "sgd" else "sgd"
    with self.assertRaisesRegex(train.ConfigMismatchError, "optim.name"):
      _workdir.open_workdir(workdir, config.to_dict())


if __name__ == "__main__":
  absltest.main()
