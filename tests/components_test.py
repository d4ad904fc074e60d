"""Training components: the registry, their roles and conflicts, the task's
composition, and checkpoints of the layout before them.

The classification task names no method: every training-procedure idea is a
component (`ltjax.train.Component`) the task composes.
"""

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

from absl.testing import absltest
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import data
from ltjax import recipes
from ltjax import regression  # pylint: disable=unused-import  (registers its components)
from ltjax import train
from ltjax.train import _component
from ltjax.train import _components
import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]
OLD_RUNS = ROOT / "tests" / "data" / "old_runs"
_SPEC = importlib.util.spec_from_file_location(
    "make_old_runs", OLD_RUNS / "make_old_runs.py")
make_old_runs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_old_runs)

# The grep: the task modules mention no method. (Regression's as
# words and identifier parts, case-insensitive: "lds" is also in "fields".)
_DIR_METHODS = r"fds|ranksim|smogn|lds|rrt|resample"
METHOD_WORDS = {
    "ltjax/train/_classification.py":
        r"glmc|contrastive|experts|teacher|imbsam|ace|paco|ride|sade",
    "ltjax/regression/_task.py":
        rf"(?i)\b({_DIR_METHODS})\b|_({_DIR_METHODS})|({_DIR_METHODS})_",
}


class TaskNamesNoMethodTest(absltest.TestCase):

  def test_grep_finds_nothing(self):
    for path, pattern in METHOD_WORDS.items():
      text = (ROOT / path).read_text()
      found = [f"{n}: {line}" for n, line in enumerate(text.splitlines(), 1)
               if re.search(pattern, line)]
      self.assertEqual(found, [], path)


class RegistryTest(absltest.TestCase):

  def test_documented_order(self):
    names = [c.name for c in _component.component_classes("classification")]
    self.assertEqual(names, [name for name, _ in _components.CLASSIFICATION])
    self.assertEqual(names[0], "mixing")
    self.assertEqual(names[-1], "stage2")

  def test_regression_order(self):
    names = [c.name for c in _component.component_classes("regression")]
    self.assertEqual(names, ["resample", "reweight", "fds", "ranksim", "rrt"])

  def test_each_component_owns_its_section(self):
    config = train.default_config("classification")
    for component in _component.component_classes("classification"):
      fresh = ml_collections.ConfigDict()
      fresh.optim = ml_collections.ConfigDict({"sam_rho": 0.0})
      component.add_defaults(fresh)
      for key in fresh:
        if key == "optim":
          continue
        self.assertIn(key, config, component.name)
        self.assertEqual(fresh[key].to_dict() if hasattr(fresh[key], "to_dict")
                         else fresh[key],
                         config[key].to_dict() if hasattr(config[key],
                                                          "to_dict")
                         else config[key])
      # Off by default: a default config enables no component.
      self.assertFalse(component.enabled(config), component.name)


def _enabled(dataset, method, **fields):
  config = recipes.build(dataset, method, "2")
  for field, value in fields.items():
    section, key = field.split("__")
    config[section][key] = value
  return [c.name for c in _component.enabled_classes("classification",
                                                      config)]


class CompositionTest(absltest.TestCase):

  def test_recipes_enable_their_components(self):
    self.assertEqual(_enabled("mnist_lt", "ce"), [])
    self.assertEqual(_enabled("mnist_lt", "glmc"), ["glmc"])
    self.assertEqual(_enabled("mnist_lt", "paco"), ["contrastive"])
    self.assertEqual(_enabled("mnist_lt", "ride_distill"), ["experts"])
    self.assertEqual(_enabled("mnist_lt", "ride_distill",
                              teacher__workdir="runs/ride_teacher"),
                     ["experts", "teacher"])
    self.assertEqual(_enabled("mnist_lt", "imbsam_ce"), ["sam"])
    self.assertEqual(_enabled("mnist_lt", "remix_drw"), ["mixing"])
    self.assertEqual(_enabled("mnist_lt", "mislas"), ["mixing", "stage2"])
    self.assertEqual(_enabled("mnist_lt", "weight_balancing"), ["stage2"])
    self.assertEqual(_enabled("cifar10_lt", "fast"), ["eval_tta"])
    self.assertEqual(_enabled("mnist_lt", "la_mixup_sam_maxnorm_las"),
                     ["mixing", "sam", "max_norm", "stage2"])

  def test_regression_recipes_enable_their_components(self):
    def enabled(method):
      config = recipes.build("abalone_dir", method, "2")
      return [c.name for c in _component.enabled_classes("regression",
                                                          config)]
    self.assertEqual(enabled("vanilla"), [])
    self.assertEqual(enabled("lds_fds"), ["reweight", "fds"])
    self.assertEqual(enabled("ranksim"), ["ranksim"])
    self.assertEqual(enabled("smogn"), ["resample"])
    self.assertEqual(enabled("rrt"), ["reweight", "rrt"])

  def test_roles_are_declared(self):
    config = recipes.build("mnist_lt", "imbsam_ce", "2")
    sam = next(c for c in _component.enabled_classes("classification",
                                                      config))
    self.assertEqual(sam.roles_of(config), {"gradient", "loss"})
    config.optim.sam_kind = "sam"
    self.assertEqual(sam.roles_of(config), {"gradient"})


class ConflictTest(absltest.TestCase):

  def test_two_losses_are_refused_naming_both(self):
    """GLMC and ImbSAM each take the loss: refused at validation."""
    config = recipes.build("mnist_lt", "glmc", "2")
    config.optim.sam_rho = 0.05
    config.optim.sam_kind = "imbsam"
    with self.assertRaisesRegex(
        ValueError, r"glmc \(config\.glmc\.enabled\) and sam "
        r"\(config\.optim\.sam_rho, config\.optim\.sam_kind\) each take "
        r"the 'loss' role"):
      train.validate_config(config, check_data=False)

  def test_a_declared_refusal(self):

    class Loud(train.Component):
      name = "loud"
      fields = ("loud",)
      refuses = ("mixing",)

      @staticmethod
      def enabled(config):
        return True

    _component.register_component("classification", "loud", Loud)
    self.addCleanup(_component.REGISTRY["classification"].pop, "loud")
    config = recipes.build("mnist_lt", "remix_drw", "2")
    with self.assertRaisesRegex(ValueError, r"loud \(config\.loud\) cannot "
                                r"run with mixing \(config\.mixing\.name\)"):
      _component.check_conflicts("classification", config)
    _component.check_conflicts("classification",
                               recipes.build("mnist_lt", "ce", "2"))


class ProcessesTest(absltest.TestCase):
  """A single-process second stage is refused in a multi-process job when
  the task is made (before stage 1), naming its field."""

  def test_refused_before_training(self):
    config = recipes.build("mnist_lt", "mislas", "2")
    with self.assertRaisesRegex(ValueError, r"stage2 \(config\.stage2\.name\)"
                                r": this second stage runs in a single "
                                r"process, and this job has 2"):
      _component.check_processes("classification", config, 2)
    _component.check_processes("classification", config, 1)
    router = recipes.build("mnist_lt", "ride", "2")
    _component.check_processes("classification", router, 2)  # no router
    router.experts.router_epochs = 2
    with self.assertRaisesRegex(ValueError, r"experts \(config\.experts"):
      _component.check_processes("classification", router, 2)
    # RRT declares no single-process limit (it had no refusal before).
    _component.check_processes(
        "regression", recipes.build("abalone_dir", "rrt", "2"), 2)


def _blobs(counts=(60, 20, 8), seed=0):
  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(len(counts)), counts)
  return rng.normal(size=(labels.size, 4)) + 4.0 * labels[:, None], labels


class HookTest(absltest.TestCase):
  """A registered component's hooks reach the run; the task adds nothing."""

  def _run(self, on: bool):
    class PlusOne(train.Component):
      name = "plus_one"

      @staticmethod
      def add_defaults(config):
        config.plus_one = False

      @staticmethod
      def enabled(config):
        return bool(config.get("plus_one", False))

      def wrap_loss(self, value, aux, batch, state):
        return value + 1.0, {**aux, "plus_one": jnp.ones(())}

    _component.register_component("classification", "plus_one", PlusOne)
    self.addCleanup(_component.REGISTRY["classification"].pop, "plus_one",
                    None)
    config = recipes.build("csv_lt", "ce", "1")
    config.plus_one = on
    x, y = _blobs()
    ds = data.from_arrays((x, y), test=(x, y))
    return train.build_run(config, ds)

  def test_wrap_loss_adds_exactly_its_term(self):
    values = []
    for on in (False, True):
      run = self._run(on)
      self.assertLen(run.task.components, int(on))
      logits = jnp.asarray(np.random.default_rng(1).normal(size=(5, 3)),
                           jnp.float32)
      batch = {"label": jnp.array([0, 1, 2, 0, 1])}
      state = type("S", (), {"step": jnp.asarray(0)})()
      value, aux = run.task.loss(None, (logits, None), batch, state)
      self.assertEqual("plus_one" in aux, on)
      values.append(float(value))
    # The plain objective: mean cross-entropy, written here in NumPy.
    z = np.asarray(logits, np.float64)
    labels = np.array([0, 1, 2, 0, 1])
    ce = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(5), labels])
    self.assertAlmostEqual(values[0], ce, places=5)
    self.assertAlmostEqual(values[1] - values[0], 1.0, places=5)


class OldCheckpointTest(absltest.TestCase):
  """Runs written by ltjax before the components (073cf09) resume.

  Each stopped after epoch 1 of 2 (`make_old_runs.py`); resumed with this
  code it finishes at epoch 2 and equals this code's own uninterrupted run
  exactly (one CPU device, as the runs were written): the checkpoint's
  layout (the trained parameters' `{"model", "glmc" | "contrast"}`, PaCo's
  encoder and queue in the step state) is the one the components make.
  """

  def _check(self, method):
    tmp = testdata.make_tempdir(self)
    proc = subprocess.run(
        [sys.executable, str(OLD_RUNS / "make_old_runs.py"), "--check",
         method, tmp], cwd=ROOT, env=testdata.subprocess_env(1), text=True,
        capture_output=True, timeout=600, check=False)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    self.assertEqual(result["resumed_run"]["steps_this_run"], 6)  # of 12
    self.assertEqual(result["resumed"]["epoch"], 2.0)
    np.testing.assert_equal(result["resumed"]["test"],
                            result["fresh"]["test"])

  def test_glmc(self):
    self._check("glmc")

  def test_paco(self):
    self._check("paco")


if __name__ == "__main__":
  absltest.main()
