"""Executes every notebook in colabs/ top to bottom on tiny generated data.

Parameters are injected after the cell tagged "parameters" (as papermill
does); any cell error fails the test, and every expected figure must have
been written as a non-empty PNG. Stored notebooks must carry no outputs.
"""

import glob
import os
import pathlib
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import nbformat

import testdata

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(glob.glob(str(ROOT / "colabs" / "*.ipynb")))

# notebook -> (figures it must produce, parameter overrides builder).
EXPECTED_FIGURES = {
    "01_quickstart.ipynb": ("class_counts", "per_class_accuracy"),
    "02_posthoc_and_decoupling.ipynb": ("weight_norms", "accuracy_vs_tau"),
    "03_imbalanced_regression.ipynb": (
        "label_density", "error_vs_density", "fds_statistics",
        "mae_per_bin"),
    "04_your_own_data.ipynb": ("per_class_accuracy", "class_counts"),
}


def execute(path, parameters, cwd, env=None):
  """Runs the notebook with `parameters` injected; returns it executed.

  `env` adds environment variables for the kernel.
  """
  import nbclient  # pylint: disable=g-import-not-at-top
  notebook = nbformat.read(path, as_version=4)
  index = next(i for i, cell in enumerate(notebook.cells)
               if "parameters" in cell.metadata.get("tags", []))
  source = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
  injected = nbformat.v4.new_code_cell(source)
  injected.metadata["tags"] = ["injected-parameters"]
  notebook.cells.insert(index + 1, injected)
  client = nbclient.NotebookClient(
      notebook, timeout=300, kernel_name="python3",
      resources={"metadata": {"path": str(cwd)}})
  # Only the ltjax package is importable, as after `pip install ltjax`: the
  # notebooks need no checkout.
  site = tempfile.mkdtemp()
  os.symlink(ROOT / "ltjax", os.path.join(site, "ltjax"))
  try:
    client.execute(env=dict(os.environ, PYTHONPATH=site, **(env or {})))
  finally:
    shutil.rmtree(site)
  return notebook


class NotebooksTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls.paths = testdata.write_tiny_benchmarks(cls._tmp.name, per_class=40)
    cls.abalone = os.path.join(cls._tmp.name, "abalone.data")
    testdata.write_abalone_like(cls.abalone)
    # The kernels share JAX's persistent compilation cache: notebooks 01
    # and 02 train the same tiny CE model, and each kernel starts cold.
    cls.kernel_env = {
        "JAX_COMPILATION_CACHE_DIR": os.path.join(cls._tmp.name, "jax_cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def parameters(self, name, workdir, figures):
    common = {"WORKDIR": workdir, "FIGURE_DIR": figures, "SEED": 0}
    if name.startswith("03"):
      return {**common, "DATA_PATH": self.abalone, "EPOCHS": 2}
    if name.startswith("04"):  # Writes its own small CSV into WORKDIR.
      return {**common, "EPOCHS": 2}
    return {**common, "DATASET": "cifar10_lt",
            "DATA_PATH": self.paths["cifar10_lt"], "EPOCHS": 1,
            "IMBALANCE_RATIO": 10.0, "BATCH_SIZE": 32, "MODEL": "mnist_cnn",
            **({"STAGE2_EPOCHS": 1} if name.startswith("02") else {})}

  def test_every_notebook_is_covered(self):
    self.assertEqual({os.path.basename(p) for p in NOTEBOOKS},
                     set(EXPECTED_FIGURES))

  @parameterized.named_parameters(
      *[(os.path.basename(p)[:2], p) for p in NOTEBOOKS])
  def test_runs_and_draws_its_figures(self, path):
    """Runs the notebook in a Jupyter kernel (~15-25 s on 2 cores).

    Slow because each kernel is a fresh process: it imports JAX and ltjax
    and compiles its tiny runs cold. Executing the notebook top to bottom,
    as a user does, is the property, so it cannot be done in-process.
    """
    name = os.path.basename(path)
    workdir = testdata.make_tempdir(self)
    figures = os.path.join(workdir, "figures")
    execute(path, self.parameters(name, workdir, figures), ROOT,
            self.kernel_env)
    for figure in EXPECTED_FIGURES[name]:
      png = os.path.join(figures, f"{figure}.png")
      self.assertTrue(os.path.exists(png), f"{name} did not draw {figure}")
      self.assertGreater(os.path.getsize(png), 5_000, png)

  @parameterized.named_parameters(
      *[(os.path.basename(p)[:2], p) for p in NOTEBOOKS])
  def test_stored_without_outputs(self, path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
      if cell.cell_type == "code":
        self.assertEmpty(cell.outputs, f"{path}: strip the outputs")
        self.assertIsNone(cell.execution_count, path)


if __name__ == "__main__":
  absltest.main()
