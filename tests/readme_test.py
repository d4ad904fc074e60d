"""The README's Python example runs as written."""

import pathlib
import re
import subprocess
import sys

from absl.testing import absltest

ROOT = pathlib.Path(__file__).resolve().parents[1]


class ReadmeTest(absltest.TestCase):

  def test_python_examples_run(self):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    self.assertNotEmpty(blocks)
    for block in blocks:
      result = subprocess.run([sys.executable, "-c", block], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
      self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
  absltest.main()
