"""The README's Python example runs as written; its samples are real."""

import pathlib
import re
import subprocess
import sys
import tempfile

from absl.testing import absltest
import jax

from experiments.configs import common
from ltjax import data
from ltjax import train
from ltjax.train import _report
import testdata
from data_own_test import blobs

ROOT = pathlib.Path(__file__).resolve().parents[1]


class ReadmeTest(absltest.TestCase):

  def test_python_examples_run(self):
    """Every ```python block, in order, in one folder holding the files the
    examples name (`my_table.csv`, `new_rows.csv`), with only the ltjax
    package importable (as after `pip install ltjax`). Slower than 20 s:
    the own-data example trains a (5-epoch) model, as a user would."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    self.assertGreaterEqual(len(blocks), 4)
    folder = testdata.make_tempdir(self)
    x, y = blobs([150, 60, 20])
    with open(f"{folder}/my_table.csv", "w") as f:
      f.write("x0,x1,x2,x3,label\n" + "".join(
          ",".join(f"{v:.4f}" for v in row) + f",{'abc'[c]}\n"
          for row, c in zip(x, y)))
    with open(f"{folder}/new_rows.csv", "w") as f:
      f.write("x0,x1,x2,x3\n" + "".join(
          ",".join(f"{v:.4f}" for v in row) + "\n" for row in x[::10]))
    site = testdata.make_tempdir(self)
    (pathlib.Path(site) / "ltjax").symlink_to(ROOT / "ltjax")
    env = testdata.subprocess_env(PYTHONPATH=site)
    for block in blocks:
      result = subprocess.run([sys.executable, "-c", block], cwd=folder,
                              env=env, capture_output=True, text=True,
                              timeout=300)
      self.assertEqual(result.returncode, 0, block + result.stderr[-3000:])
    rows = subprocess.run(
        [sys.executable, "-c", "import ltjax; print(ltjax.predict("
         "'runs/my_table', 'new_rows.csv').rows()[0])"], cwd=folder, env=env,
        capture_output=True, text=True, timeout=300).stdout
    self.assertRegex(rows, r"\{'line': 2, 'prediction': '[abc]', 'label': "
                     r"\d, 'probability': [\d.]+\}")

  def test_progress_line_sample_is_the_real_format(self):
    text = (ROOT / "README.md").read_text()
    samples = re.findall(r"^ +(step \d+/\d+ epoch .*)$", text, flags=re.M)
    self.assertLen(samples, 1)
    sample = samples[0]
    fields = re.fullmatch(
        r"step (\d+)/(\d+) epoch ([\d.]+) (.*) ([\d.]+) steps/s ETA (\S+)",
        sample)
    self.assertIsNotNone(fields, sample)
    step, total = int(fields[1]), int(fields[2])
    shown = dict(zip(*[iter(fields[4].split())] * 2))
    # The metric names the real train step returns, in its order (shapes
    # only: nothing is compiled or run).
    with tempfile.TemporaryDirectory() as tmp:
      config = common.build("mnist_lt", "ce", "1")
      config.data.path = testdata.write_tiny_benchmarks(tmp)["mnist_lt"]
      config.data.imbalance_ratio = 4.0
      config.data.val_per_class = 2
      config.batch_size = config.eval_batch_size = 16
      run = train.build_run(config, data.load_dataset(config.data))
      state = run.init_state()
      batch = {"image": jax.ShapeDtypeStruct((16, 28, 28, 1), "uint8"),
               "label": jax.ShapeDtypeStruct((16,), "int32")}
      _, metrics = jax.eval_shape(run.train_step, state, batch)
    values = {name: float(shown.get(name, 1.0)) for name in metrics}
    # A clock that makes the rate and the ETA come out as in the sample:
    # one line after `step` steps at a steady rate r, ETA = rest / r.
    hours, minutes = re.fullmatch(r"(\d+)h(\d+)m", fields[6]).groups()
    eta = 3600 * int(hours) + 60 * int(minutes) + 0.5
    elapsed = step * eta / (total - step)
    clock = iter([0.0, elapsed]).__next__
    per_epoch = round(step / float(fields[3]))
    progress = _report.Progress(total, per_epoch, 0, clock=clock)
    self.assertEqual(progress.line(step, values), sample)


if __name__ == "__main__":
  absltest.main()
