"""The golden runs (`benchmarks/golden.py`) reproduce their numbers exactly.

`tests/data/golden_runs.json` holds the final metrics of short runs of the
listed recipes, recorded before the components refactor (one CPU device,
XLA's default flags). Code that only moves code leaves every number
bit-identical on the CPU that recorded them; another CPU model may vectorise
reductions differently, so there the test is skipped, naming both.

The suite checks the cheap runs (abalone RankSim, 10 epochs; the CSV
table); `LTJAX_GOLDEN=all` checks every run (about 40 minutes here), as does
`python -m benchmarks.golden --check --data_root=...`.
"""

import json
import os
import tempfile

from absl.testing import absltest

from benchmarks import golden

DATA_ROOT = os.environ.get("LTJAX_DATA_ROOT", os.path.join(
    golden.ROOT, "..", "shared", "data"))
CHEAP = "abalone_dir/ranksim:10,csv_lt/logit_adjusted:2"


class GoldenRunsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    with open(golden.GOLDEN_FILE) as f:
      self.expected = json.load(f)
    here = golden.host()
    if here["cpu"] != self.expected["host"]["cpu"]:
      self.skipTest(f"the golden numbers are of a {self.expected['host']['cpu']!r} "
                    f"CPU, this is {here['cpu']!r}: XLA may vectorise "
                    f"reductions differently here.")
    if not os.path.exists(os.path.join(DATA_ROOT, "abalone")):
      self.skipTest(f"no abalone data under {DATA_ROOT} (LTJAX_DATA_ROOT)")

  def test_file_lists_every_run(self):
    self.assertEqual(sorted(self.expected["runs"]),
                     sorted(r.name for r in golden.runs()))
    self.assertEqual(self.expected["device_count"], 1)

  def test_runs_are_bit_identical(self):
    only = None if os.environ.get("LTJAX_GOLDEN") == "all" else CHEAP
    selected = golden.runs(only)
    with tempfile.TemporaryDirectory() as root:
      got = golden.train_all(selected, DATA_ROOT, root)
    self.assertEqual(golden.differences(self.expected, got), [])

  def test_a_difference_is_reported(self):
    name = "csv_lt/logit_adjusted:2"
    got = {name: json.loads(json.dumps(self.expected["runs"][name]))}
    got[name]["test"]["top1"] += 1e-7
    self.assertLen(golden.differences(self.expected, got), 1)


if __name__ == "__main__":
  absltest.main()
