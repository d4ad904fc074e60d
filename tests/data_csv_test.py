"""Tests of the shared CSV table reader (`ltjax.data.read_csv_table`)."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from ltjax import data
from tests import testdata


def _write(test, text, name="table.csv"):
  path = os.path.join(testdata.make_tempdir(test), name)
  with open(path, "w") as f:
    f.write(text)
  return path


_TABLE = """colour,size,weight,label
red,1.5,10,cat
blue,2.0,-3,dog
red,0.5,7.25,bird
green,4,0,dog
"""


class ReadCsvTableTest(parameterized.TestCase):

  def test_header_numeric_and_one_hot(self):
    path = _write(self, _TABLE)
    table = data.read_csv_table(path, target="label")
    self.assertEqual(table.feature_names,
                     ("colour=blue", "colour=green", "colour=red", "size",
                      "weight"))
    colour = np.array(["red", "blue", "red", "green"])
    expected = np.column_stack([
        (colour[:, None] == np.array(["blue", "green", "red"])).astype(float),
        [1.5, 2.0, 0.5, 4], [10, -3, 7.25, 0]])
    np.testing.assert_array_equal(table.features, expected)
    self.assertEqual(table.features.dtype, np.float32)
    self.assertEqual(table.class_names, ("bird", "cat", "dog"))
    np.testing.assert_array_equal(table.targets, [1, 2, 0, 2])
    self.assertEqual(table.targets.dtype, np.int32)
    np.testing.assert_array_equal(table.line_numbers, [2, 3, 4, 5])
    self.assertEqual(table.target_name, "label")

  @parameterized.parameters(3, -1, "3", "-1")
  def test_target_by_index(self, target):
    path = _write(self, _TABLE)
    table = data.read_csv_table(path, target=target)
    self.assertTrue(table.schema.header)  # "size" over numbers
    self.assertEqual(table.target_name, "label")

  def test_no_header_detected(self):
    path = _write(self, "M,0.5,3\nF,0.25,9\nI,0.75,3\n")
    table = data.read_csv_table(path, target=-1, task="regression")
    self.assertFalse(table.schema.header)
    np.testing.assert_array_equal(table.targets, [3, 9, 3])
    self.assertEqual(table.targets.dtype, np.float32)
    self.assertEqual(table.feature_names,
                     ("column_0=F", "column_0=I", "column_0=M", "column_1"))
    np.testing.assert_array_equal(table.line_numbers, [1, 2, 3])

  def test_integer_classes_sort_numerically(self):
    path = _write(self, "x,y\n1,10\n2,9\n3,2\n4,10\n")
    table = data.read_csv_table(path, target="y")
    self.assertEqual(table.class_names, ("2", "9", "10"))
    np.testing.assert_array_equal(table.targets, [2, 1, 0, 2])

  def test_class_names_fix_the_order(self):
    path = _write(self, _TABLE)
    table = data.read_csv_table(path, target="label",
                                class_names=("dog", "cat", "bird"))
    np.testing.assert_array_equal(table.targets, [1, 0, 2, 0])

  def test_unknown_target_name(self):
    path = _write(self, _TABLE)
    with self.assertRaisesRegex(ValueError, r"'lable' is not in .*table.csv"):
      data.read_csv_table(path, target="lable")

  def test_target_index_out_of_range(self):
    path = _write(self, _TABLE)
    with self.assertRaisesRegex(ValueError, "out of range.*4 columns"):
      data.read_csv_table(path, target=4)

  @parameterized.parameters("nan", "inf", "-inf", "NaN")
  def test_nonfinite_feature_names_file_line_column(self, value):
    path = _write(self, f"a,b,y\n1,2,0\n3,{value},1\n5,6,0\n")
    with self.assertRaisesRegex(
        ValueError, r"table\.csv: 1 row.*line 3 column 'b' \(index 1\).*"
        r"drop_nonfinite=True"):
      data.read_csv_table(path, target="y")

  def test_nonfinite_regression_target(self):
    path = _write(self, "a,y\n1,2.5\n3,nan\n5,1\n")
    with self.assertRaisesRegex(ValueError, r"line 3 column 'y'"):
      data.read_csv_table(path, target="y", task="regression")

  def test_drop_nonfinite_drops_and_logs(self):
    path = _write(self, "a,b,y\n1,2,0.5\n3,inf,1\n\n5,6,nan\n7,8,2\n")
    with self.assertLogs(logger="absl", level="WARNING") as logs:
      table = data.read_csv_table(path, target="y", task="regression",
                                  drop_nonfinite=True)
    self.assertIn("dropped 2 row(s)", "\n".join(logs.output))
    self.assertEqual(table.dropped_lines, (3, 5))
    np.testing.assert_array_equal(table.line_numbers, [2, 6])
    np.testing.assert_array_equal(table.features, [[1, 2], [7, 8]])
    np.testing.assert_array_equal(table.targets, [0.5, 2])

  def test_missing_marker(self):
    text = "a,c,y\n1,u,0\n?,v,1\n3,?,0\n4,u,1\n"
    path = _write(self, text)
    # Without the marker, "?" in a numeric column is named with the fix.
    with self.assertRaisesRegex(
        ValueError, r"table\.csv:3: column 'a'.*'\?'.*missing='\?'"):
      data.read_csv_table(path, target="y")
    # With it: missing in a numeric column is an error (or dropped) ...
    with self.assertRaisesRegex(ValueError, r"line 3 column 'a'"):
      data.read_csv_table(path, target="y", missing="?")
    table = data.read_csv_table(path, target="y", missing="?",
                                drop_nonfinite=True)
    # ... and in a categorical one an all-zero one-hot block.
    self.assertEqual(table.feature_names, ("a", "c=u", "c=v"))
    np.testing.assert_array_equal(table.features,
                                  [[1, 1, 0], [3, 0, 0], [4, 1, 0]])
    np.testing.assert_array_equal(table.line_numbers, [2, 4, 5])

  def test_forced_categorical(self):
    path = _write(self, "code,y\n10,a\n20,b\n10,b\n")
    table = data.read_csv_table(path, target="y", categorical=["code"])
    self.assertEqual(table.feature_names, ("code=10", "code=20"))
    np.testing.assert_array_equal(table.features, [[1, 0], [0, 1], [1, 0]])

  def test_ragged_row(self):
    path = _write(self, "a,b,y\n1,2,0\n3,1\n")
    with self.assertRaisesRegex(ValueError, r"table\.csv:3: expected 3.*2"):
      data.read_csv_table(path, target="y")

  def test_whitespace_and_auto_delimiters(self):
    path = _write(self, "1 2 a\n3 4 b\n")
    table = data.read_csv_table(path, target=2, delimiter=None)
    np.testing.assert_array_equal(table.features, [[1, 2], [3, 4]])
    path = _write(self, "x;y\n1;a\n2;b\n")
    table = data.read_csv_table(path, target="y", delimiter="auto")
    np.testing.assert_array_equal(table.features, [[1], [2]])

  def test_schema_reads_another_file_the_same_way(self):
    train = data.read_csv_table(_write(self, _TABLE), target="label")
    test_path = _write(self, "colour,size,weight,label\ngreen,1,2,bird\n",
                       "test.csv")
    test = data.read_csv_table(test_path, target="ignored",
                               schema=train.schema)
    np.testing.assert_array_equal(test.features, [[0, 1, 0, 1, 2]])
    np.testing.assert_array_equal(test.targets, [0])
    bad_class = _write(self, "colour,size,weight,label\nred,1,2,cow\n",
                       "bad.csv")
    with self.assertRaisesRegex(ValueError,
                                r"bad\.csv:2: class 'cow'.*not one of the 3"):
      data.read_csv_table(bad_class, target="label", schema=train.schema)
    bad_cat = _write(self, "colour,size,weight,label\npink,1,2,cat\n",
                     "bad2.csv")
    with self.assertRaisesRegex(ValueError,
                                r"bad2\.csv:2: column 'colour'.*'pink'"):
      data.read_csv_table(bad_cat, target="label", schema=train.schema)
    bad_header = _write(self, "colour,weight,size,label\nred,1,2,cat\n",
                        "bad3.csv")
    with self.assertRaisesRegex(ValueError, r"bad3\.csv:1: header"):
      data.read_csv_table(bad_header, target="label", schema=train.schema)

  def test_missing_file(self):
    with self.assertRaisesRegex(FileNotFoundError, "nope.csv"):
      data.read_csv_table("/nonexistent/nope.csv", target=0)


if __name__ == "__main__":
  absltest.main()
