"""Regression on data that is not abalone: non-finite inputs, bins from the
data, target standardisation, relative shot thresholds, predictions.npz and
the CSV source.
"""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import regression
from ltjax.regression import _config
import regression_data_test
import testdata


def _abalone_lines(rings, seed=0):
  path_rows = []
  rng = np.random.default_rng(seed)
  for r in rings:
    values = ",".join(f"{v:.4f}" for v in rng.uniform(0, 1, 7) + r / 30)
    path_rows.append(f"{'MFI'[rng.integers(3)]},{values},{r}")
  return path_rows


def _write(path, lines):
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


class NonFiniteInputTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # (name, field index in the row, bad text, column number, column name)
      ("nan_feature", 3, "nan", 4, "height"),
      ("inf_feature", 1, "inf", 2, "length"),
      ("nan_target", 8, "NaN", 9, "rings"),
  )
  def test_abalone_rejects_nonfinite_naming_line_and_column(
      self, field, text, column, name):
    lines = _abalone_lines([5, 6, 7, 8, 9, 10])
    row = lines[3].split(",")
    row[field] = text
    lines[3] = ",".join(row)
    path = _write(os.path.join(testdata.make_tempdir(self), "abalone.data"),
                  lines)
    with self.assertRaisesRegex(
        ValueError, rf"abalone.data:4: column {column} \({name}\) is "
        rf"'{text}'.*drop_nonfinite"):
      regression.load_abalone(path)

  def test_abalone_drop_nonfinite_drops_and_records_the_lines(self):
    lines = _abalone_lines([5] * 10 + [6] * 10)
    lines[2] = lines[2].rsplit(",", 1)[0] + ",nan"  # a NaN target
    row = lines[7].split(",")
    row[1] = "inf"  # an infinite length
    lines[7] = ",".join(row)
    path = _write(os.path.join(testdata.make_tempdir(self), "abalone.data"),
                  lines)
    data = regression.load_abalone(path, val_per_label=1,
                                   drop_nonfinite=True)
    self.assertEqual(data.metadata["dropped_nonfinite_lines"], [3, 8])
    self.assertEqual(len(data.train) + len(data.val) + len(data.test), 18)
    for split in (data.train, data.val, data.test):
      self.assertTrue(np.all(np.isfinite(split.inputs)))
      self.assertTrue(np.all(np.isfinite(split.targets)))
      self.assertNotIn(3, split.source_lines)

  def test_csv_source_rejects_nan_target_naming_line_and_column(self):
    path = os.path.join(testdata.make_tempdir(self), "t.csv")
    _write(path, ["a,b,y", "1,2,3", "4,5,nan", "7,8,9"])
    with self.assertRaisesRegex(ValueError, r"line 3 column 'y'"):
      regression.load_csv(path, target="y")
    data = regression.load_csv(path, target="y", drop_nonfinite=True,
                               val_fraction=0, test_fraction=0)
    self.assertEqual(data.metadata["dropped_nonfinite_lines"], [3])
    np.testing.assert_array_equal(data.train.targets, [3, 9])

  def test_in_memory_split_rejects_nonfinite_features(self):
    inputs = np.ones((4, 3), np.float32)
    inputs[2, 1] = np.inf
    with self.assertRaisesRegex(ValueError, r"row 2, feature \(1,\)"):
      regression.RegressionSplit(inputs=inputs, targets=np.zeros(4))


class DataBinsTest(parameterized.TestCase):

  def test_small_range_targets_spread_over_bins(self):
    # The case: a target in [0, 0.2] used to fall into bin 0 of
    # [1, 30) for every training label.
    targets = np.random.default_rng(0).uniform(0, 0.2, 3149)
    edges, rule = regression.data_bin_edges(targets)
    k = int(np.ceil(np.sqrt(targets.size)))  # 57, inside [10, 100]
    self.assertLen(edges, k + 1)
    self.assertIn("count", rule)
    self.assertEqual(edges[0], targets.min())
    self.assertEqual(edges[-1], targets.max())
    counts = regression.bin_counts(targets, edges)
    self.assertEqual(counts.sum(), targets.size)
    self.assertEqual(regression.count_outside(targets, edges), 0)
    # Uniform data: every bin holds about N / K labels, none holds them all.
    self.assertLess(counts.max(), 3 * targets.size / k)

  def test_integer_targets_get_width_one(self):
    rings = np.array([1, 3, 3, 29, 7])
    edges, rule = regression.data_bin_edges(rings)
    np.testing.assert_array_equal(edges, np.arange(1, 31))
    self.assertIn("width 1", rule)
    # Not integer-valued: the count rule, at least 10 bins for 5 targets.
    edges, rule = regression.data_bin_edges(rings + 0.5)
    self.assertLen(edges, 11)
    self.assertIn("count", rule)

  @parameterized.named_parameters(
      ("num_bins", dict(num_bins=7), 7, 0.0, 10.0),
      ("width", dict(width=2.5), 5, 0.0, 12.5),  # 10 in [10, 12.5)
      ("low_high", dict(low=-5.0, high=15.0), 20, -5.0, 15.0),
      ("low_width", dict(low=-1.0, width=4.0), 3, -1.0, 11.0),
  )
  def test_every_field_is_honoured(self, fields, k, low, high):
    targets = np.linspace(0, 10, 11)  # integer-valued, 0..10
    config = regression.build_config("csv_dir", "vanilla")
    for key, value in fields.items():
      config.bins[key] = value
    edges, _ = _config.edges_of(config, targets)
    self.assertLen(edges, k + 1)
    self.assertAlmostEqual(edges[0], low)
    self.assertAlmostEqual(edges[-1], high)

  def test_width_and_num_bins_together_are_refused(self):
    config = regression.build_config("csv_dir", "vanilla")
    config.bins.width, config.bins.num_bins = 1.0, 10
    with self.assertRaisesRegex(ValueError, "config.bins.num_bins"):
      regression.validate_config(config)

  def test_benchmark_bins_are_unchanged(self):
    for dataset, (low, high) in (("abalone_dir", (1, 30)),
                                 ("agedb_dir", (0, 121))):
      edges, rule = _config.edges_of(
          regression.build_config(dataset, "lds"), None)
      np.testing.assert_array_equal(edges, np.arange(low, high + 1))
      self.assertEqual(rule, "given")


class ShotThresholdTest(absltest.TestCase):

  def test_quantile_thresholds_are_count_quantiles(self):
    counts = np.array([0, 3, 9, 1, 14, 6, 2, 0, 11])
    many, few = regression.shot_thresholds(counts, rule="quantile",
                                           quantiles=(0.25, 0.75))
    nonempty = np.array([3, 9, 1, 14, 6, 2, 11], float)
    # np.quantile's linear rule written out: sorted 1 2 3 6 9 11 14,
    # position q * (n - 1).
    ordered = np.sort(nonempty)
    self.assertAlmostEqual(few, ordered[1] + 0.5 * (ordered[2] - ordered[1]))
    self.assertAlmostEqual(many, ordered[4] + 0.5 * (ordered[5] - ordered[4]))
    self.assertEqual(regression.shot_thresholds(counts, many=100, few=20),
                     (100.0, 20.0))


class TinyRunTest(absltest.TestCase):
  """End-to-end runs on a 120-row abalone-format file (a few steps)."""

  def _data(self, scale=1.0):
    folder = testdata.make_tempdir(self)
    rng = np.random.default_rng(0)
    rings = np.clip(np.round(rng.gamma(5.0, 2.0, 120)), 1, 29)
    path = os.path.join(folder, "abalone.data")
    regression_data_test.write_abalone(path, rings)
    if scale != 1.0:  # the same file with the target column x scale
      lines = open(path).read().splitlines()
      rows = [line.rsplit(",", 1) for line in lines]
      _write(path, [f"{head},{float(rings) * scale}" for head, rings in rows])
    return path

  def _config(self, path, **data):
    config = regression.build_config("abalone_dir", "vanilla", "2")
    config.data.path = path
    config.data.val_per_label = 4
    config.bins.low = config.bins.high = config.bins.width = None
    config.bins.num_bins = 12  # the same relative bins at any scale
    config.model.widths = (16,)
    config.batch_size = 16
    config.eval_batch_size = 16
    config.log_every_steps = 1
    for key, value in data.items():
      config.data[key] = value
    return config

  def test_standardised_metrics_scale_with_the_target(self):
    plain = regression.train_and_evaluate(
        self._config(self._data(), standardize_targets=True),
        testdata.make_tempdir(self))
    scaled_dir = testdata.make_tempdir(self)
    scaled = regression.train_and_evaluate(
        self._config(self._data(100.0), standardize_targets=True),
        scaled_dir)
    for split in ("val", "test"):
      for metric, power in (("mae", 1), ("mse", 2), ("gm", 1)):
        for group in ("all", "few"):
          a = plain["final"][split][f"{metric}_{group}"]
          b = scaled["final"][split][f"{metric}_{group}"]
          self.assertAlmostEqual(b / a, 100.0 ** power,
                                 delta=1e-3 * 100.0 ** power,
                                 msg=f"{split} {metric}_{group}")
    std = scaled["target_standardization"]
    self.assertAlmostEqual(std["std"] / plain["target_standardization"]["std"],
                           100.0, places=3)
    # predictions.npz: original units, its MAE is the reported one.
    saved = np.load(os.path.join(scaled_dir, "predictions.npz"))
    self.assertEqual(set(saved.files),
                     {"index", "target", "prediction", "source_line"})
    np.testing.assert_array_equal(saved["index"],
                                  np.arange(saved["target"].size))
    mae = np.mean(np.abs(saved["prediction"].astype(np.float64)
                         - saved["target"]))
    self.assertAlmostEqual(mae, scaled["final"]["test"]["mae_all"], places=2)
    self.assertGreater(saved["target"].min(), 50)  # rings x 100

  def test_quantile_shots_recorded_and_give_many_shot_bins(self):
    config = self._config(self._data())
    config.shot_thresholds = "quantile"
    workdir = testdata.make_tempdir(self)
    regression.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.json")) as f:
      metrics = json.load(f)
    counts = np.asarray(metrics["bins"]["train_counts"])
    nonempty = counts[counts > 0]
    self.assertEqual(metrics["shots"]["thresholds"], "quantile")
    self.assertAlmostEqual(metrics["shots"]["many"],
                           np.quantile(nonempty, 2 / 3))
    self.assertAlmostEqual(metrics["shots"]["few"],
                           np.quantile(nonempty, 1 / 3))
    groups = metrics["bins"]["groups"]
    self.assertIn("many", groups)
    self.assertIn("few", groups)
    self.assertIsNotNone(metrics["final"]["test"]["mae_many"])

  def test_training_targets_outside_explicit_bins(self):
    path = self._data()
    config = self._config(path)
    config.bins.low, config.bins.high, config.bins.num_bins = 5.0, 20.0, 15
    with self.assertRaisesRegex(ValueError, "config.bins: .* training "
                                "targets lie outside the bins"):
      regression.train_and_evaluate(config, testdata.make_tempdir(self))
    config.bins.outside = "clip"
    workdir = testdata.make_tempdir(self)
    result = regression.train_and_evaluate(config, workdir)
    rings = np.concatenate([regression.load_abalone(
        path, val_per_label=4).train.targets])
    expected = int(np.sum((rings < 5) | (rings > 20)))
    self.assertGreater(expected, 0)
    self.assertEqual(result["bins"]["outside"]["train"], expected)


class CsvSourceTest(absltest.TestCase):

  def test_random_split_features_and_run(self):
    folder = testdata.make_tempdir(self)
    targets = np.random.default_rng(1).gamma(2.0, 0.05, 100)
    path = regression_data_test.write_table(os.path.join(folder, "t.csv"),
                                            targets)
    data = regression.load_csv(path, target="y", split_seed=3)
    self.assertEqual((len(data.train), len(data.val), len(data.test)),
                     (80, 10, 10))
    lines = np.concatenate([data.train.source_lines, data.val.source_lines,
                            data.test.source_lines])
    np.testing.assert_array_equal(np.sort(lines), np.arange(2, 102))
    # Rows keep their targets (line l holds targets[l - 2]).
    np.testing.assert_allclose(data.test.targets,
                               targets[data.test.source_lines - 2], rtol=1e-6)
    names = data.metadata["feature_names"]
    self.assertEqual(names, ["x1", "x2", "colour=blue", "colour=green",
                             "colour=red"])
    # Numeric features standardised on the training rows; one-hot kept.
    np.testing.assert_allclose(data.train.inputs[:, :2].mean(0), 0,
                               atol=1e-5)
    np.testing.assert_allclose(data.train.inputs[:, :2].std(0), 1, atol=1e-5)
    self.assertTrue(np.all(np.isin(data.train.inputs[:, 2:], (0, 1))))
    by_index = regression.load_csv(path, target="3", split_seed=3)
    np.testing.assert_array_equal(by_index.test.targets, data.test.targets)

    config = regression.build_config("csv_dir", "lds", "1")
    config.data.path, config.data.target = path, "y"
    config.data.split_seed = 3
    config.model.widths = (8,)
    config.batch_size = config.eval_batch_size = 16
    workdir = testdata.make_tempdir(self)
    result = regression.train_and_evaluate(config, workdir)
    self.assertIn("count", result["bins"]["rule"])
    self.assertEqual(result["shots"]["thresholds"], "quantile")
    self.assertAlmostEqual(result["target_standardization"]["mean"],
                           float(np.mean(data.train.targets)), places=5)
    saved = np.load(os.path.join(workdir, "predictions.npz"))
    np.testing.assert_array_equal(saved["source_line"],
                                  data.test.source_lines)

  def test_balanced_split_takes_equal_counts_per_bin(self):
    folder = testdata.make_tempdir(self)
    targets = np.repeat(np.arange(10), [90, 60, 30, 12, 9, 6, 3, 3, 2, 1])
    path = regression_data_test.write_table(os.path.join(folder, "t.csv"),
                                            targets.astype(float))
    data = regression.load_csv(path, target="y", split="balanced",
                               val_per_label=5)
    got = {int(v): int(n) for v, n in zip(*np.unique(
        data.val.targets, return_counts=True))}
    # min(5, n // 3) per value: 5 5 5 4 3 2 1 1 0 0.
    self.assertEqual(got, {0: 5, 1: 5, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1, 7: 1})
    self.assertEqual(len(data.test), len(data.val))

  def test_csv_config_needs_a_target(self):
    config = regression.build_config("csv_dir", "vanilla")
    config.data.path = __file__
    with self.assertRaisesRegex(ValueError, "config.data.target"):
      regression.validate_config(config)


if __name__ == "__main__":
  absltest.main()
