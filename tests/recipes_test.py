"""Tests for the one recipe table, `ltjax.recipes`, and the config files.

The expected values of every dataset x method are those of the code before
the table was merged (commit 88e9ffb: `experiments/configs/common.py`,
`experiments/configs/csv_lt/__init__.py`, `ltjax/regression/_recipes.py`),
stored in `recipes_88e9ffb.json` as each task's old default config plus each
recipe's differences from it; it was written by running that commit's
`build` functions, not the code under test. A short run (`:EPOCHS`) is
checked against the full recipe by the scaling formula, with the duration
fields found here by their names, independently of `ltjax.train`.
"""

import ast
import importlib.util
import json
import pathlib
import re
import warnings

from absl.testing import absltest
from absl.testing import parameterized
import ml_collections

from experiments.configs import common
from experiments.configs import csv_lt
from ltjax import recipes
from ltjax import regression
from ltjax import train
from ltjax.regression import _recipes as regression_recipes

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "recipes_88e9ffb.json").read_text())
# Fields the old schema lacked (task, optim.name: both tasks; optim.nesterov:
# regression), and the data source's own defaults (another module's schema).
NEW_FIELDS = ("task", "optim.name", "optim.nesterov")
ROWS = sorted(GOLDEN["recipes"])
ARGS = ("1", "3", "7", "30", "45", "1000")
# The classification methods of the recipes issue (not in 88e9ffb).
NEW_METHODS = ("mixup_drw_bs", "remix_drw", "glmc", "mislas", "vs", "lade",
               "weight_balancing", "sam_ldam_drw", "imbsam_ce", "disalign",
               "la_mixup_sam_maxnorm_las",
               # the experts and distillation issue's
               "ride", "ride_teacher", "ride_distill", "sade", "ace", "dive",
    # the representation-learning and re-sampling issue's
    "supcon", "bcl", "paco", "smote_crt", "feature_aug_crt",
    # the time-to-accuracy issue's
    "fast",
    # the text issue's: LDAM-DRW's re-sampling and re-weighting baselines
    # under its names (resample is cb_resample)
    "resample", "reweight")
# Datasets that ship some of their rows as files (any method builds).
PARTIAL_DATASETS = ("csv_lt/", "text_lt/", "sts_b_dir/")
TEXT_METHODS = ()
# The same issue's regression methods (abalone_dir, csv_dir; RankSim also on
# the face datasets, SMOGN only on tables).
NEW_REGRESSION_METHODS = ("smogn", "ranksim", "lds_fds_ranksim")


def flatten(tree, prefix=""):
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = json.loads(json.dumps(value))
  return out


def old_values(row):
  """The 88e9ffb config of `row` ("dataset/method"), flattened."""
  dataset = row.split("/")[0]
  task = recipes.DATASETS[dataset].task
  values = dict(GOLDEN["defaults"][task])
  values.update(GOLDEN["recipes"][row])
  return {k: v for k, v in values.items() if v != "(absent)"}


def is_duration(path):
  """A numeric duration by its name: `*epoch`, `*epochs`, no period."""
  leaf = path.rsplit(".", 1)[-1]
  return (leaf in ("epoch", "epochs") or leaf.endswith(("_epoch", "_epochs"))
          ) and not leaf.endswith("_every_epochs") and leaf != "num_epochs"


def scaled(value, ratio):
  if isinstance(value, list):
    return [scaled(v, ratio) for v in value]
  return max(1, round(value * ratio)) if value else 0


def load_config_file(path, arg=None):
  spec = importlib.util.spec_from_file_location("config_module", ROOT / path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


class RecipeTableTest(parameterized.TestCase):

  def test_table_has_every_row_of_the_old_tables(self):
    rows = sorted(f"{d}/{m}" for d, (task, _) in recipes.DATASETS.items()
                  for m in recipes.METHODS[task])
    self.assertLen(ROWS, 4 * 12 + 4 * 8)
    self.assertContainsSubset(ROWS, rows)
    # Rows added since 88e9ffb are the recipes issue's methods (and the
    # rows of text_lt and sts_b_dir, datasets added since).
    added = {row.split("/")[1] for row in set(rows) - set(ROWS)
             if not row.startswith(("text_lt/", "sts_b_dir/"))}
    self.assertContainsSubset(added, NEW_METHODS + NEW_REGRESSION_METHODS)

  @parameterized.parameters(*ROWS)
  def test_same_values_as_before(self, row):
    dataset, method = row.split("/")
    config = recipes.build(dataset, method)
    new = flatten(config.to_dict())
    old = old_values(row)
    task = recipes.DATASETS[dataset].task
    defaults = flatten(train.default_config(task).to_dict())
    for field in new:
      if field in NEW_FIELDS or field.startswith("data."):
        continue
      if field not in old:  # added to the schema since: the recipe keeps
        self.assertEqual(new[field], defaults[field], f"{row}: {field}")
        continue  # its default
      self.assertEqual(new[field], old[field], f"{row}: {field}")
    for field in old:
      if not field.startswith("data."):
        self.assertIn(field, new, f"{row}: lost field {field}")
    self.assertEqual(new["data.name"], old["data.name"])
    self.assertEqual(config.task, task)
    self.assertEqual(config.optim.name,
                     "sgd" if task == "classification" else "adam")
    self.assertFalse(config.optim.nesterov)

  @parameterized.parameters(*ROWS)
  def test_epochs_argument_scales_every_duration_by_the_rule(self, row):
    dataset, method = row.split("/")
    full = flatten(recipes.build(dataset, method).to_dict())
    durations = {f for f in full if is_duration(f)}
    task = recipes.DATASETS[dataset].task
    expected_durations = {"optim.warmup_epochs", "optim.decay_epochs"} | (
        {"loss.drw_start_epoch", "sampler.start_epoch",
         "mixing.start_epoch", "mixing.stop_epoch", "experts.router_epochs"}
        if task == "classification" else {"rrt.epochs"})
    self.assertEqual(durations, expected_durations)
    for arg in ARGS:
      short = flatten(recipes.build(dataset, method, arg).to_dict())
      ratio = int(arg) / full["num_epochs"]
      self.assertEqual(short["num_epochs"], int(arg))
      for field, value in full.items():
        if field == "num_epochs":
          continue
        want = scaled(value, ratio) if field in durations else value
        self.assertEqual(short[field], want, f"{row}:{arg} {field}")

  def test_fds_start_epochs_are_absolute(self):
    config = recipes.build("abalone_dir", "lds_fds", "3")
    self.assertEqual((config.fds.start_update, config.fds.start_smooth),
                     (0, 1))
    self.assertEqual(config.eval_every_epochs, 1)

  def test_a_new_epoch_field_scales_without_registration(self):
    config = recipes.build("mnist_lt", "ce")
    config.foo = ml_collections.ConfigDict(dict(
        bar_epochs=8, start_epoch=4, stages_epochs=(2, 6), zero_epochs=0,
        check_every_epochs=2, bar=8, name_epoch="x", flag_epoch=True))
    train.scale_schedule(config, 5)
    self.assertEqual(config.foo.bar_epochs, 4)
    self.assertEqual(config.foo.start_epoch, 2)
    self.assertEqual(tuple(config.foo.stages_epochs), (1, 3))
    self.assertEqual(config.foo.zero_epochs, 0)
    self.assertEqual(config.foo.check_every_epochs, 2)  # a period
    self.assertEqual(config.foo.bar, 8)
    self.assertEqual(config.foo.name_epoch, "x")
    self.assertIs(config.foo.flag_epoch, True)
    self.assertEqual(config.num_epochs, 5)
    self.assertIn("foo.bar_epochs", train.epoch_fields(config))

  def test_also_is_deprecated_and_never_scales_twice(self):
    config = recipes.build("cifar10_lt", "ldam_drw")
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      train.scale_schedule(config, 20, also=("loss.drw_start_epoch",))
    self.assertTrue(any(issubclass(w.category, DeprecationWarning)
                        for w in caught))
    self.assertEqual(config.loss.drw_start_epoch, 16)

  def test_unknown_names_list_the_known_ones(self):
    with self.assertRaisesRegex(ValueError, r"unknown dataset 'cifar1'.*"
                                r"'cifar10_lt'.*'abalone_dir'"):
      recipes.build("cifar1", "ce")
    with self.assertRaisesRegex(ValueError, r"unknown method 'lds' for "
                                r"mnist_lt \(classification\).*'ldam_drw'"):
      recipes.build("mnist_lt", "lds")
    with self.assertRaisesRegex(ValueError, "number of epochs"):
      recipes.build("abalone_dir", "lds", "short")

  def test_old_names_are_the_same_table(self):
    self.assertEqual(set(common.METHODS), set(recipes.METHODS[
        "classification"]))
    self.assertEqual(set(common.DATASETS),
                     {"cifar10_lt", "cifar100_lt", "mnist_lt"})
    self.assertEqual(common.build("mnist_lt", "ce", "2"),
                     recipes.build("mnist_lt", "ce", "2"))
    self.assertEqual(csv_lt.build("ce", "6"),
                     recipes.build("csv_lt", "ce", "6"))
    self.assertEqual(set(regression.METHODS), set(recipes.METHODS[
        "regression"]))
    self.assertEqual(set(regression_recipes.DATASETS),
                     {"abalone_dir", "agedb_dir", "imdb_wiki_dir", "csv_dir",
                      "sts_b_dir"})
    self.assertEqual(regression.build_config("abalone_dir", "rrt", "9"),
                     recipes.build("abalone_dir", "rrt", "9"))
    with self.assertRaisesRegex(ValueError, "unknown dataset 'mnist_lt'"):
      regression.build_config("mnist_lt", "ce")


CONFIG_FILES = sorted(
    str(p.relative_to(ROOT))
    for p in (ROOT / "experiments" / "configs").glob("*/*.py")
    if p.name != "__init__.py" and p.parent.name != "decouple")


class ConfigFileTest(parameterized.TestCase):

  def test_a_file_for_every_row(self):
    # csv_lt and text_lt ship some of their rows (any method builds with
    # csv_lt.build / text_lt.build). The recipes issue's methods have files
    # for CIFAR-10/100-LT and MNIST-LT.
    files = sorted(p.split("/", 2)[2][:-3] for p in CONFIG_FILES)
    new_rows = [f"{d}/{m}" for d in ("cifar10_lt", "cifar100_lt", "mnist_lt")
                for m in NEW_METHODS if m not in TEXT_METHODS] + [
                    f"{d}/{m}" for d in ("abalone_dir", "agedb_dir",
                                         "imdb_wiki_dir", "csv_dir")
                    for m in NEW_REGRESSION_METHODS
                    if recipes.supported(d, m)]
    self.assertEqual([r for r in files if not r.startswith(PARTIAL_DATASETS)],
                     sorted([r for r in ROWS
                             if not r.startswith(PARTIAL_DATASETS)]
                            + new_rows))
    text_rows = [f"text_lt/{m}" for m in ("ce", "resample", "reweight",
                                          "ldam_drw", "logit_adjusted")]
    # sts_b_dir ships the eight rows (`tests/sts_b_dir_test.py`).
    sts_rows = [f"sts_b_dir/{m}" for m in (
        "vanilla", "lds", "fds", "lds_fds", "rrt", "focal_r", "balanced_mse",
        "ranksim")]
    self.assertContainsSubset(files, ROWS + new_rows + text_rows + sts_rows)
    self.assertContainsSubset(text_rows, files)
    self.assertEqual(sorted(r for r in files if r.startswith("sts_b_dir/")),
                     sorted(sts_rows))

  @parameterized.parameters(*CONFIG_FILES)
  def test_file_is_its_row_with_command_and_number(self, path):
    dataset, method = path.split("/", 2)[2][:-3].split("/")
    self.assertEqual(load_config_file(path), recipes.build(dataset, method))
    self.assertEqual(load_config_file(path, "2"),
                     recipes.build(dataset, method, "2"))
    doc = ast.get_docstring(ast.parse((ROOT / path).read_text()))
    self.assertIn(f"python -m experiments.main --config={dataset}/{method}",
                  doc)
    # The number to reproduce closes the docstring.
    self.assertRegex(doc.split("\n\n")[-1],
                     r"^(Published .*\d+\.\d+|No published figure)")


if __name__ == "__main__":
  absltest.main()
