"""What `pip install .` ships: dependencies, packages, console scripts."""

import ast
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys

from absl.testing import absltest
from setuptools.config import setupcfg

import testdata

from ltjax.cli import _configs as _cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Required although never imported: jax's compiled half, and a module that
# tensorflow-datasets imports without declaring it.
NOT_IMPORTED = {"jaxlib", "importlib-resources"}


def normalise(name: str) -> str:
  return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines) -> set[str]:
  return {normalise(re.match(r"[A-Za-z0-9_.\-]+", line.strip())[0])
          for line in lines if line.strip()}


def imported_distributions(*folders: str) -> set[str]:
  """Distributions of the third-party modules the code imports."""
  modules = set()
  for folder in folders:
    for path in (ROOT / folder).rglob("*.py"):
      for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
          modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
          modules.add(node.module.split(".")[0])
  local = {p.stem for folder in folders for p in (ROOT / folder).iterdir()}
  modules -= set(sys.stdlib_module_names) | local | {
      "ltjax", "experiments", "benchmarks", "tests"}
  owners = importlib.metadata.packages_distributions()
  return {normalise(owners[m][0]) for m in modules}


class PackagingTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = setupcfg.read_configuration(ROOT / "setup.cfg")

  def test_runtime_dependencies_are_what_the_code_imports(self):
    required = requirement_names(
        self.config["options"]["install_requires"])
    self.assertEqual(required - NOT_IMPORTED,
                     imported_distributions("ltjax"))
    self.assertNotIn("grain", required)
    self.assertIn("chex", requirement_names(
        self.config["options"]["extras_require"]["test"]))

  def test_test_dependencies_are_declared(self):
    extras = self.config["options"]["extras_require"]
    declared = (requirement_names(self.config["options"]["install_requires"])
                | requirement_names(extras["test"])
                | requirement_names(extras["bench"]))
    # setuptools: the build backend (pyproject.toml), read by this test.
    self.assertLessEqual(imported_distributions("tests") - {"setuptools"},
                         declared)

  def test_lock_file_pins_every_requirement(self):
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
      if line and not line.startswith("#"):
        name, version = line.split("==")
        pins[normalise(name)] = version
    extras = self.config["options"]["extras_require"]
    for name in (requirement_names(self.config["options"]["install_requires"])
                 | requirement_names(extras["test"])
                 | requirement_names(extras["tensorboard"])):
      self.assertIn(name, pins)
    self.assertNotIn("grain", pins)

  def test_configs_and_entry_points_are_shipped(self):
    options = self.config["options"]
    packages = set(options["packages"])  # `find:` resolved
    for folder in (ROOT / "ltjax" / "configs").iterdir():
      if folder.is_dir() and not folder.name.startswith("_"):
        self.assertIn(f"ltjax.configs.{folder.name}", packages)
    self.assertIn("ltjax.cli", packages)
    # No top-level `experiments` (it would shadow a user's own); the
    # checkout's experiments/configs is a link to ltjax/configs.
    self.assertEqual({p.split(".")[0] for p in packages}, {"ltjax"})
    self.assertTrue((ROOT / "experiments" / "configs").is_symlink())
    self.assertIn("py.typed", options["package_data"]["ltjax"])
    self.assertTrue((ROOT / "ltjax" / "py.typed").exists())
    license_text = (ROOT / "LICENSE").read_text()
    self.assertIn("Apache License", license_text)
    self.assertIn("Version 2.0, January 2004", license_text)
    self.assertEqual(self.config["metadata"]["license"], "Apache-2.0")
    scripts = dict(
        re.split(r"\s*=\s*", line.strip())
        for line in options["entry_points"]["console_scripts"])
    self.assertEqual(scripts, {"ltjax-train": "ltjax.cli.train:run",
                               "ltjax-decouple": "ltjax.cli.decouple:run",
                               "ltjax-predict": "ltjax.cli.predict:run"})
    for target in scripts.values():
      module, function = target.split(":")
      source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
      defined = {node.name for node in ast.parse(source.read_text()).body
                 if isinstance(node, ast.FunctionDef)}
      self.assertIn(function, defined, target)

  def _script(self, module, *args):
    """`ltjax.cli.<module>.run()` started outside the checkout, with only
    the ltjax package importable (as after `pip install .`)."""
    site = testdata.make_tempdir(self)
    os.symlink(ROOT / "ltjax", os.path.join(site, "ltjax"))
    env = dict(os.environ, PYTHONPATH=site)
    return subprocess.run(
        [sys.executable, "-c", f"from ltjax.cli import {module}; "
         f"{module}.run()", *args],
        cwd="/", env=env, capture_output=True, text=True, timeout=120)

  def test_console_scripts_run_outside_the_checkout(self):
    for module, flag in (("train", "--watchdog_seconds"),
                         ("decouple", "--checkpoint"),
                         ("predict", "--output")):
      result = self._script(module, "--helpfull")
      self.assertNotIn("Traceback", result.stderr)
      self.assertIn(flag, result.stdout)
    help_text = self._script("train", "--help").stdout
    self.assertTrue(help_text.startswith(
        "ltjax-train: trains and evaluates a long-tailed model."), help_text)
    self.assertIn("ltjax-train --config=cifar10_lt/ldam_drw", help_text)
    self.assertIn("ltjax-train --list", help_text)
    listed = self._script("train", "--list")
    self.assertEqual(listed.returncode, 0, listed.stderr)
    self.assertRegex(listed.stdout, r"\n  mnist_lt +.*\bldam_drw\b")

  def test_user_errors_are_one_line_exit_2(self):
    result = self._script("train", "--config=mnist_lt/cee",
                          "--workdir=/tmp/unused")
    self.assertEqual(result.returncode, 2)
    self.assertTrue(result.stderr.startswith(
        "ltjax-train: error: --config=mnist_lt/cee: no such file, and no "
        "shipped config 'mnist_lt/cee'; did you mean mnist_lt/ce"),
                    result.stderr)
    self.assertNotIn("Traceback", result.stderr)
    workdir = os.path.join(testdata.make_tempdir(self), "run")
    for flag, said in (
        ("--config.loss.taus=1", "config.loss.taus: unknown field of "),
        ("--config.optim.learning_rate=0.1",
         "did you mean config.optim.lr?"),
        ("--config.loss.tau=-1", "config.loss.tau: must be >= 0")):
      result = self._script("train", "--config=mnist_lt/ce",
                            f"--workdir={workdir}", flag)
      self.assertEqual(result.returncode, 2, result.stderr)
      self.assertIn(said, result.stderr)
      self.assertNotIn("Traceback", result.stderr)
    self.assertFalse(os.path.exists(workdir))  # a failed start leaves none
    result = self._script("train", "--config=abalone_dir/vanilla",
                          f"--workdir={workdir}", "--config.data.target=3")
    self.assertIn("config.data.target is a field of other datasets' "
                  "configs: start from one of csv_dir/vanilla", result.stderr)
    result = self._script("train", "--config=mnist_lt/ce",
                          f"--workdir={workdir}", "--config.loss.taus=1",
                          "--verbose")
    self.assertIn("Traceback", result.stderr)
    # ltjax-decouple: a config argument it does not take, an unknown field.
    for args, said in (
        (("--config=decouple/default:3",),
         "ltjax-decouple: error: config argument '3': decouple/default takes "
         "none"),
        (("--config=decouple/default", "--config.crt.epoch=3"),
         "ltjax-decouple: error: config.crt.epoch: unknown field of ")):
      result = self._script("decouple", *args, f"--checkpoint={workdir}")
      self.assertEqual(result.returncode, 2, result.stderr)
      self.assertTrue(result.stderr.startswith(said), result.stderr)
      self.assertNotIn("Traceback", result.stderr)


class ConfigNameTest(absltest.TestCase):

  def test_names_resolve_to_shipped_files(self):
    shipped = os.path.join(_cli.CONFIG_DIR, "cifar10_lt", "ldam_drw.py")
    elsewhere = os.getcwd()
    try:
      os.chdir("/")
      for value in ("cifar10_lt/ldam_drw", "cifar10_lt/ldam_drw.py",
                    "experiments/configs/cifar10_lt/ldam_drw.py"):
        self.assertEqual(_cli.resolve_config(value), shipped)
      self.assertEqual(_cli.resolve_config("mnist_lt/ce:2"),
                       os.path.join(_cli.CONFIG_DIR, "mnist_lt", "ce.py:2"))
      with self.assertRaisesRegex(ValueError,
                                  r"did you mean cifar10_lt/ldam_drw\b"):
        _cli.resolve_config("cifar10_lt/ldam_drwx")
    finally:
      os.chdir(elsewhere)
    self.assertIn("abalone_dir/lds_fds", _cli.config_names())
    self.assertEqual(
        _cli.resolve_config_flag(["x", "--config", "mnist_lt/ce", "--a=1"]),
        ["x", "--config", os.path.join(_cli.CONFIG_DIR, "mnist_lt", "ce.py"),
         "--a=1"])

  def test_an_existing_path_is_kept(self):
    path = os.path.join("experiments", "configs", "mnist_lt", "ce.py")
    elsewhere = os.getcwd()
    try:
      os.chdir(ROOT)
      self.assertEqual(_cli.resolve_config(path + ":3"), path + ":3")
    finally:
      os.chdir(elsewhere)


if __name__ == "__main__":
  absltest.main()
