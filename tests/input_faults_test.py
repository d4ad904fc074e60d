"""The data-input faults of the fault probe (issue 32), one test class each.

D6 a truncated MNIST .gz, D7 a CSV with a byte-order mark, D8 a CSV in
another encoding or a binary file, D16 a CSV path that is a directory or a
FIFO, D9 a one-class label column, D10 regression bins stretched by
outliers (`config.bins.rule`), D12 a `:0` epochs suffix, D11 a mistyped
field on the command line. Each builds the faulty input here and checks the
error names the file, the field and the fix, or the fixed behaviour.
"""

import json
import math
import os
import signal
import subprocess
import sys

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data
from ltjax import recipes
from ltjax import regression
from ltjax.cli import _configs as _cli
from ltjax.regression import _config
from ltjax.regression import _task
from tests import testdata

ROOT = testdata.ROOT


def _write(test, content, name="table.csv", encoding="utf-8"):
  """Writes `content` (text in `encoding`, or bytes) to a new temp file."""
  path = os.path.join(testdata.make_tempdir(test), name)
  raw = content if isinstance(content, bytes) else content.encode(encoding)
  with open(path, "wb") as f:
    f.write(raw)
  return path


def _csv_config(path, target, **fields):
  config = data.default_data_config("csv")
  config.path, config.target = path, target
  for key, value in fields.items():
    config[key] = value
  return config


# Two classes, four rows each (enough for the stratified 20 % test split and
# the held-out validation rows of the `given` profile).
_SPECIES = "".join(f"{s},{x}\n" for s in ("José", "Zoë") for x in range(4))


class TruncatedGzipTest(absltest.TestCase):
  """D6: a .gz cut short is named, with the fix, not a bare EOFError."""

  def test_truncated_gz_names_file_and_fix(self):
    folder = testdata.make_tempdir(self)
    path = os.path.join(folder, "train-images-idx3-ubyte.gz")
    testdata.write_idx(path, np.arange(5 * 28 * 28).reshape(5, 28, 28))
    with open(path, "rb") as f:
      whole = f.read()
    with open(path, "wb") as f:  # an interrupted download: half the bytes
      f.write(whole[:len(whole) // 2])
    with self.assertRaisesRegex(
        ValueError, r"train-images-idx3-ubyte\.gz is truncated or corrupt.*"
        r"download it again, or replace it"):
      data.read_idx_file(path)


class ByteOrderMarkTest(absltest.TestCase):
  """D7: a UTF-8 byte-order mark (as Excel writes) is not in the header."""

  def test_header_name_without_bom(self):
    path = _write(self, "\ufeffspecies,x\nsetosa,1\nvirginica,2\n")
    table = data.read_csv_table(path, target="species")
    self.assertEqual(table.target_name, "species")
    self.assertEqual(table.schema.columns, ("species", "x"))
    self.assertEqual(table.class_names, ("setosa", "virginica"))

  def test_new_rows_with_bom(self):
    train = _write(self, "species,x\nsetosa,1\nvirginica,2\n")
    schema = data.read_csv_table(train, target="species").schema
    rows = _write(self, "\ufeffx\n3\n4\n", name="new.csv")
    features, targets, lines = data.read_csv_features(rows, schema)
    np.testing.assert_array_equal(features, [[3], [4]])
    self.assertIsNone(targets)
    np.testing.assert_array_equal(lines, [2, 3])


class EncodingTest(absltest.TestCase):
  """D8: config.data.encoding; undecodable bytes and binary files named."""

  def test_latin1_without_the_field_names_file_line_and_field(self):
    path = _write(self, "name,x\nAnn,1\nJosé,2\n", encoding="latin-1")
    # 'é' is byte 0xe9 in Latin-1, on line 3.
    with self.assertRaisesRegex(
        ValueError, r"table\.csv:3: byte 0xe9 is not valid utf-8 text.*"
        r"config\.data\.encoding"):
      data.read_csv_table(path, target="x", task="regression")

  def test_latin1_with_the_field(self):
    path = _write(self, "name,x\nAnn,1\nJosé,2\n", encoding="latin-1")
    table = data.read_csv_table(path, target="x", task="regression",
                                encoding="latin-1")
    self.assertEqual(table.feature_names, ("name=Ann", "name=José"))
    np.testing.assert_array_equal(table.targets, [1, 2])

  def test_config_field_reaches_the_reader(self):
    path = _write(self, "species,x\n" + _SPECIES, encoding="latin-1")
    dataset = data.load_dataset(_csv_config(path, "species",
                                            encoding="latin-1"))
    self.assertEqual(dataset.class_names, ("José", "Zoë"))
    regression_config = data.default_data_config("csv", task="regression")
    self.assertEqual(regression_config.encoding, "utf-8")
    self.assertEqual(data.default_data_config("csv").encoding, "utf-8")

  def test_unknown_encoding_names_the_field(self):
    for task in ("classification", "regression"):
      config = data.default_data_config("csv", task=task)
      config.path, config.target = "t.csv", "y"
      config.encoding = "utf-9"
      with self.assertRaisesRegex(ValueError,
                                  r"config\.data\.encoding .*'utf-9'"):
        data.validate_data_config(config, task=task)

  def test_prediction_reads_new_rows_in_the_run_encoding(self):
    train = _write(self, "name,x,y\nAnn,1,a\nJosé,2,b\n",
                   encoding="latin-1")
    schema = data.read_csv_table(train, target="y",
                                 encoding="latin-1").schema
    # What `ltjax predict` does: the schema comes back from inference.json.
    saved = data.CsvSchema.from_json(json.loads(json.dumps(schema.to_json())))
    self.assertEqual(saved.encoding, "latin-1")
    rows = _write(self, "name,x\nJosé,5\n", name="new.csv",
                  encoding="latin-1")
    features, _, _ = data.read_csv_features(rows, saved)
    # name=Ann, name=José one-hot, then x.
    np.testing.assert_array_equal(features, [[0, 1, 5]])
    # Latin-1 rows for a UTF-8 run: named, with the run's encoding.
    utf8_run = data.read_csv_table(
        _write(self, "name,x,y\nAnn,1,a\nJosé,2,b\n", name="utf8.csv"),
        target="y").schema
    with self.assertRaisesRegex(
        ValueError, r"new\.csv:2: byte 0xe9 .*training file as utf-8"):
      data.read_csv_features(rows, utf8_run)
    # A run made before the field read UTF-8.
    old = schema.to_json()
    del old["encoding"]
    self.assertEqual(data.CsvSchema.from_json(old).encoding, "utf-8")

  def test_binary_file_is_not_a_text_csv(self):
    # A zip archive's local header (an .xlsx is one): NUL bytes on line 1.
    zipped = _write(self, b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe",
                    name="table.xlsx")
    # Valid UTF-8 with a NUL byte on line 2.
    nul = _write(self, b"a,b\n1,\x002\n", name="nul.csv")
    for path, line in ((zipped, 1), (nul, 2)):
      with self.assertRaisesRegex(
          ValueError, rf"{os.path.basename(path)} is not a text CSV: it "
          rf"holds NUL bytes \(first on line {line}\)"):
        data.read_csv_table(path, target=-1)


class NotAFileTest(absltest.TestCase):
  """D16: a directory or FIFO is neither missing nor opened."""

  def setUp(self):
    super().setUp()
    # Opening a FIFO blocks until a writer comes: fail instead of hanging.
    def timeout(signum, frame):
      raise TimeoutError("the reader opened the FIFO")
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    self.addCleanup(signal.signal, signal.SIGALRM, previous)
    self.addCleanup(signal.alarm, 0)

  def test_directory(self):
    folder = testdata.make_tempdir(self)
    with self.assertRaisesRegex(IsADirectoryError,
                                "is a directory, expected a CSV file"):
      data.read_csv_table(folder, target=-1)
    with self.assertRaisesRegex(
        IsADirectoryError,
        r"is a directory, expected a CSV file: set config\.data\.path"):
      data.load_dataset(_csv_config(folder, "y"))
    config = data.default_data_config("csv", task="regression")
    config.path, config.target = folder, "y"
    with self.assertRaisesRegex(ValueError,
                                r"config\.data\.path: .* is a directory"):
      data.validate_data_config(config, task="regression", check_files=True)

  def test_fifo(self):
    path = os.path.join(testdata.make_tempdir(self), "pipe.csv")
    os.mkfifo(path)
    with self.assertRaisesRegex(ValueError,
                                r"pipe\.csv is a FIFO .*not a regular file"):
      data.read_csv_table(path, target=-1)
    train = _write(self, "species,x\n" + _SPECIES)
    with self.assertRaisesRegex(
        ValueError, r"is a FIFO .*set config\.data\.test_path"):
      data.load_dataset(_csv_config(train, "species", test_path=path))
    config = data.default_data_config("csv", task="regression")
    config.path, config.target = path, "y"
    with self.assertRaisesRegex(ValueError,
                                r"config\.data\.path: .* is a FIFO"):
      data.validate_data_config(config, task="regression", check_files=True)

  def test_missing_file_still_does_not_exist(self):
    path = os.path.join(testdata.make_tempdir(self), "absent.csv")
    with self.assertRaisesRegex(FileNotFoundError, "does not exist"):
      data.read_csv_table(path, target=-1)


class OneClassTest(absltest.TestCase):
  """D9: a label column with one class is refused at load."""

  def test_single_class_is_refused(self):
    path = _write(self, "x,label\n" + "".join(f"{i},cat\n"
                                              for i in range(10)))
    with self.assertRaisesRegex(
        ValueError, r"label column 'label' \(config\.data\.target\) holds "
        r"1 class \['cat'\].*at least 2"):
      data.load_dataset(_csv_config(path, "label"))

  def test_two_classes_load(self):
    path = _write(self, "species,x\n" + _SPECIES)
    self.assertLen(data.load_dataset(_csv_config(path, "species"))
                   .class_names, 2)


def _outlier_targets():
  """297 targets spread over [0.5, 25] and three of 1e6 (the probe's)."""
  clean = np.linspace(0.5, 25.0, 297)
  return np.concatenate([clean, [1e6, 1e6, 1e6]])


class BinRuleTest(parameterized.TestCase):
  """D10: config.bins.rule; a warning for bins stretched by outliers."""

  def _config(self, rule="width", num_bins=None):
    config = regression.build_config("csv_dir", "vanilla")
    config.bins.rule = rule
    config.bins.num_bins = num_bins
    return config

  def test_width_is_the_default_and_unchanged(self):
    config = regression.build_config("csv_dir", "vanilla")
    self.assertEqual(config.bins.rule, "width")
    t = _outlier_targets()
    edges, _ = _config.edges_of(config, t)
    k = math.ceil(math.sqrt(t.size))  # 18, inside [10, 100]
    np.testing.assert_allclose(edges, np.linspace(t.min(), t.max(), k + 1))

  def test_quantile_edges(self):
    t = _outlier_targets()
    edges, _ = _config.edges_of(self._config("quantile", num_bins=4), t)
    sorted_t = np.sort(t)
    # Linear interpolation at position q (N - 1), q = k / 4.
    expected = []
    for q in (0, 0.25, 0.5, 0.75, 1):
      pos = q * (t.size - 1)
      lo = int(math.floor(pos))
      hi = min(lo + 1, t.size - 1)
      expected.append(sorted_t[lo] + (pos - lo) * (sorted_t[hi] -
                                                   sorted_t[lo]))
    np.testing.assert_allclose(edges, expected)
    counts = regression.bin_counts(t, edges)
    self.assertLessEqual(counts.max() - counts.min(), 2)  # equal counts

  def test_quantile_merges_tied_edges(self):
    t = np.array([1.0] * 8 + [2.0, 3.0])
    edges = regression.quantile_bin_edges(t, num_bins=4)
    # Quantiles at 0, .25, .5, .75 are all 1; at 1 it is 3.
    np.testing.assert_allclose(edges, [1.0, 3.0])

  def test_range_edges(self):
    t = _outlier_targets()
    edges, _ = _config.edges_of(self._config("range", num_bins=10), t)
    q1, q3 = np.percentile(t, [25, 75])
    low = max(t.min(), q1 - 3 * (q3 - q1))
    high = min(t.max(), q3 + 3 * (q3 - q1))
    np.testing.assert_allclose(edges, np.linspace(low, high, 11))
    self.assertLess(edges[-1], 100)  # the outliers stretch nothing
    # ... and are counted in the last bin.
    np.testing.assert_array_equal(regression.bin_index(t[-3:], edges),
                                  [9, 9, 9])

  def test_range_without_outliers_is_min_max(self):
    t = np.linspace(0.5, 25.0, 100)
    np.testing.assert_allclose(regression.range_bin_edges(t, num_bins=5),
                               np.linspace(0.5, 25.0, 6))

  def test_range_counts_training_outliers_in_the_end_bins(self):
    dataset = self._dataset(_outlier_targets())
    config = self._config("range")
    outliers = int(np.sum(dataset.train.targets > 100))
    self.assertGreater(outliers, 0)  # the split put some in training
    task = _task.RegressionTask(config, dataset, steps_per_epoch=1)
    self.assertEqual(task.outside["train"], outliers)
    self.assertEqual(task.train_bin_counts.sum(), len(dataset.train))

  def test_explicit_edges(self):
    config = self._config("0, 1, 5, 25")
    edges, _ = _config.edges_of(config, None)
    np.testing.assert_array_equal(edges, [0, 1, 5, 25])
    regression.validate_config(config, check_data=False)

  @parameterized.named_parameters(
      ("unknown", "quantiles", r"config\.bins\.rule must be one of"),
      ("unsorted", "0,5,1", r"config\.bins\.rule: .*strictly increasing"),
      ("one_edge", "3", r"config\.bins\.rule: .*at least 2"),
      ("not_numbers", "0,a,2", r"config\.bins\.rule must be one of"),
  )
  def test_bad_rules_name_the_field(self, rule, message):
    with self.assertRaisesRegex(ValueError, message):
      regression.validate_config(self._config(rule), check_data=False)

  def test_rule_with_low_high_is_refused(self):
    config = regression.build_config("abalone_dir", "vanilla")
    config.bins.rule = "quantile"
    with self.assertRaisesRegex(ValueError,
                                r"config\.bins\.rule: 'quantile' makes"):
      regression.validate_config(config, check_data=False)

  def _dataset(self, targets):
    rng = np.random.default_rng(0)
    path = _write(self, "x,y\n" + "".join(
        f"{x},{y}\n" for x, y in zip(rng.normal(size=targets.size).tolist(),
                                         targets.tolist())))
    return data.load_csv(path, target="y")

  def test_warning_for_outliers_not_for_clean_data(self):
    outliers = self._dataset(_outlier_targets())
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      _task.RegressionTask(self._config(), outliers, steps_per_epoch=1)
    said = "\n".join(logs.output)
    self.assertIn("equal-width bins", said)
    self.assertIn("config.bins.rule=quantile", said)
    self.assertIn("config.bins.rule=range", said)
    # Clean data, and the outliers under rule "range": no such warning
    # (another may come: val / test targets outside the training range).
    clean = self._dataset(np.linspace(0.5, 25.0, 300))
    for config, dataset in ((self._config(), clean),
                            (self._config("range"), outliers)):
      with self.assertLogs(logger="absl", level="INFO") as logs:
        logging.info("start")  # assertLogs needs one record
        _task.RegressionTask(config, dataset, steps_per_epoch=1)
      self.assertNotIn("config.bins.rule=quantile", "\n".join(logs.output))


class EpochsSuffixTest(parameterized.TestCase):
  """D12: `:0`, negative and non-integer epochs are errors."""

  @parameterized.parameters("0", "-3", "x", "1.5")
  def test_bad_suffix_is_refused(self, arg):
    with self.assertRaisesRegex(ValueError,
                                rf"config argument '{arg}' must be a number "
                                rf"of epochs"):
      _cli.load_config_file(_cli.resolve_config(f"csv_lt/ce.py:{arg}"))

  def test_positive_suffix_scales(self):
    config = recipes.build("csv_lt", "ce", "3")
    self.assertEqual(config.num_epochs, 3)

  def test_decouple_config_takes_no_suffix(self):
    with self.assertRaisesRegex(ValueError, "decouple/default takes none"):
      _cli.load_config_file(_cli.resolve_config("decouple/default:5"))


class CommandLineTest(absltest.TestCase):
  """D11 and D12 through `ltjax-train`: one line, exit code 2."""

  def _train(self, *args):
    return subprocess.run(
        [sys.executable, "-c", "from ltjax.cli import train; train.run()",
         *args], cwd=ROOT, env=testdata.subprocess_env(), capture_output=True,
        text=True, timeout=120)

  def test_unknown_field_names_the_closest(self):
    workdir = os.path.join(testdata.make_tempdir(self), "run")
    result = self._train("--config=mnist_lt/ce",
                         "--config.optim.learning_rate=0.1",
                         f"--workdir={workdir}")
    self.assertEqual(result.returncode, 2, result.stderr)
    lines = result.stderr.strip().splitlines()
    self.assertLen(lines, 1, result.stderr)
    self.assertRegex(lines[0], r"^ltjax-train: error: "
                     r"config\.optim\.learning_rate: unknown field of .*"
                     r"mnist_lt/ce\.py; did you mean config\.optim\.lr\?$")
    self.assertFalse(os.path.exists(workdir))

  def test_zero_epochs_suffix(self):
    workdir = os.path.join(testdata.make_tempdir(self), "run")
    result = self._train("--config=csv_lt/ce.py:0", f"--workdir={workdir}")
    self.assertEqual(result.returncode, 2, result.stderr)
    lines = result.stderr.strip().splitlines()
    self.assertLen(lines, 1, result.stderr)
    self.assertRegex(lines[0], r"^ltjax-train: error: config argument '0' "
                     r".*must be a number of epochs >= 1")
    self.assertFalse(os.path.exists(workdir))


if __name__ == "__main__":
  absltest.main()
