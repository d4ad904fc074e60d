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

from experiments import _cli

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
                     imported_distributions("ltjax", "experiments"))
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
    for folder in (ROOT / "experiments" / "configs").iterdir():
      if folder.is_dir() and not folder.name.startswith("_"):
        self.assertIn(f"experiments.configs.{folder.name}", packages)
    self.assertIn("ltjax", packages)
    self.assertNotIn("tests", packages)
    self.assertIn("py.typed", options["package_data"]["ltjax"])
    self.assertTrue((ROOT / "ltjax" / "py.typed").exists())
    license_text = (ROOT / "LICENSE").read_text()
    self.assertIn("Apache License", license_text)
    self.assertIn("Version 2.0, January 2004", license_text)
    self.assertEqual(self.config["metadata"]["license"], "Apache-2.0")
    scripts = dict(
        re.split(r"\s*=\s*", line.strip())
        for line in options["entry_points"]["console_scripts"])
    self.assertEqual(set(scripts),
                     {"ltjax-train", "ltjax-decouple", "ltjax-predict"})
    for target in scripts.values():
      module, function = target.split(":")
      source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
      defined = {node.name for node in ast.parse(source.read_text()).body
                 if isinstance(node, ast.FunctionDef)}
      self.assertIn(function, defined, target)

  def test_console_scripts_run_outside_the_checkout(self):
    # What the scripts do, started from another directory with the package
    # importable (as after `pip install .`).
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for module, flag in (("main", "--watchdog_seconds"),
                         ("decouple", "--checkpoint")):
      result = subprocess.run(
          [sys.executable, "-c",
           f"from experiments import {module}; {module}.run()", "--helpfull"],
          cwd="/", env=env, capture_output=True, text=True, timeout=120)
      self.assertNotIn("Traceback", result.stderr)
      self.assertIn("--host_devices", result.stdout)
      self.assertIn(flag, result.stdout)
    result = subprocess.run(
        [sys.executable, "-c", "from experiments import main; main.run()",
         "--config=mnist_lt/cee", "--workdir=/tmp/unused"],
        cwd="/", env=env, capture_output=True, text=True, timeout=120)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("no shipped config 'mnist_lt/cee'", result.stderr)
    self.assertIn("mnist_lt/ce,", result.stderr)


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
      with self.assertRaisesRegex(ValueError, r"cifar10_lt/ldam_drw, "):
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
