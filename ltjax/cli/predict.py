r"""ltjax-predict: predicts new inputs with a finished run.

  ltjax-predict --workdir=runs/my_table --input=new_rows.csv \
      --output=predictions.csv

`--input` is a CSV file with the training file's columns (the target
column optional), an image file, a folder of image files, or a .npy / .npz
array of raw inputs (uint8 images [N, H, W, C] or feature rows [N, D]; an
.npz's first array). The output CSV has one row per input: its line in the
input file (CSV), the predicted class name, its index and probability (and
the post-hoc adjusted class for plain CE runs), or the predicted value in
the target's units (regression), and the input's own label where given.
Everything comes from the workdir (`ltjax.predict`).
"""

import os
import sys

from absl import app
from absl import flags

from ltjax import train
from ltjax.cli import _errors

_WORKDIR = flags.DEFINE_string("workdir", None, "The finished run's workdir.")
_INPUT = flags.DEFINE_string(
    "input", None, "A CSV file, an image file or folder, or a .npy / .npz "
    "array of raw inputs.")
_OUTPUT = flags.DEFINE_string("output", None, "The CSV file to write.")


def read_input(path: str):
  """What `ltjax.predict` takes, from the --input path."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if os.path.isdir(path):
    names = sorted(f for f in os.listdir(path)
                   if f.lower().endswith(train.IMAGE_SUFFIXES))
    if not names:
      raise app.UsageError(f"--input={path}: the folder holds no image "
                           f"files ({', '.join(train.IMAGE_SUFFIXES)}).")
    return [os.path.join(path, f) for f in names]
  if path.endswith(".npy"):
    return np.load(path)
  if path.endswith(".npz"):
    with np.load(path) as arrays:
      return arrays[arrays.files[0]]
  return path


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  predictions = train.predict(_WORKDIR.value, read_input(_INPUT.value))
  train.write_predictions_csv(_OUTPUT.value, predictions)
  print(f"{len(predictions.rows())} predictions written to {_OUTPUT.value}.")


def run():
  """The `ltjax-predict` console script."""
  flags.mark_flags_as_required(["workdir", "input", "output"])
  _errors.guard(lambda: app.run(main, argv=_errors.strip_verbose(sys.argv)),
                "ltjax-predict")


if __name__ == "__main__":
  run()
