"""Code outside ltjax/train reaches the engine through its public names only.

Issue 13's check, `grep -rn "ltjax.train._\\|from ltjax.train import _"
ltjax experiments benchmarks`, must find nothing outside ltjax/train/: a
package (or a benchmark, or a docstring pointing readers to a name) that
needs `ltjax.train._module` means the name belongs on `ltjax.train`.
"""

import pathlib
import re

from absl.testing import absltest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The grep pattern; "." matches any character, as in grep.
PRIVATE = re.compile(r"ltjax.train._|from ltjax.train import _")
CHECKED = ("ltjax", "experiments", "benchmarks")


def private_references() -> list[str]:
  """`path:line: text` of every match outside ltjax/train/."""
  found = []
  for top in CHECKED:
    for path in sorted((ROOT / top).rglob("*")):
      relative = path.relative_to(ROOT)
      if (not path.is_file() or "__pycache__" in relative.parts
          or relative.parts[:2] == ("ltjax", "train")):
        continue
      try:
        lines = path.read_text(encoding="utf-8").splitlines()
      except UnicodeDecodeError:
        continue  # Not text.
      found += [f"{relative}:{n}: {line.strip()}"
                for n, line in enumerate(lines, 1) if PRIVATE.search(line)]
  return found


class PrivateImportsTest(absltest.TestCase):

  def test_pattern_matches_what_the_grep_matches(self):
    for text in ("from ltjax.train import _loop",
                 "import ltjax.train._driver",
                 "`ltjax.train._driver.MAX_STEPS_IN_FLIGHT`",
                 "from ltjax.train._parallel import global_batch"):
      self.assertRegex(text, PRIVATE)
    for text in ("from ltjax import train", "ltjax.train.build_run",
                 "`ltjax.train.MAX_STEPS_IN_FLIGHT`"):
      self.assertNotRegex(text, PRIVATE)

  def test_nothing_outside_the_engine_names_its_private_modules(self):
    self.assertEqual(private_references(), [])


if __name__ == "__main__":
  absltest.main()
