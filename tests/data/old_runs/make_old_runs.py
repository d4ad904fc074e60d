"""Writes the runs `components_test.OldCheckpointTest` resumes.

  python tests/data/old_runs/make_old_runs.py  # with ltjax of the commit
  python tests/data/old_runs/make_old_runs.py --check METHOD TMPDIR

The committed runs were written in the environment of a test's child
process with one CPU device (`testdata.subprocess_env(1)`), which `--check`
(run by the test) has too: the XLA flags change float results.

Each is a 2-epoch MNIST-LT recipe on `tiny_dataset()` stopped after its first
epoch (`max_steps`, resume-neutral): its workdir holds the config, the data
digests and the epoch-1 checkpoint as that commit's ltjax wrote them. The
committed runs were written by ltjax 073cf09 (before the training
components), so the test shows a checkpoint of the old layout resumes.
"""

import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("glmc", "paco")


def tiny_dataset():
  """3 classes (24 / 12 / 6 training images, 8 x 8 grey), brightness by
  class plus noise; 10 test images a class."""
  from ltjax import data  # pylint: disable=g-import-not-at-top

  def split(counts, seed):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), counts)
    images = rng.normal(60.0 + 60.0 * labels[:, None, None, None], 25.0,
                        size=(labels.size, 8, 8, 1))
    return np.clip(images, 0, 255).astype(np.uint8), labels

  return data.from_arrays(split([24, 12, 6], 0), test=split([10, 10, 10], 1),
                          name="tiny")


def config(method: str):
  from ltjax import recipes  # pylint: disable=g-import-not-at-top
  c = recipes.build("mnist_lt", method, "2")
  c.batch_size = 8
  c.eval_batch_size = 16
  c.checkpoint_every_steps = 1000  # one checkpoint: where max_steps stops
  c.log_every_steps = 5
  c.keep_checkpoints = 1
  c.augment.padding = 1
  if method == "paco":
    c.contrastive.queue_size = 16
  return c


def check(method: str, tmp: str) -> dict:
  """Resumes a copy of the committed `method` run to its end, and trains
  the same run uninterrupted; {"resumed", "fresh"}: their final records,
  "resumed_run": the resumed run's `run` entry (steps it trained)."""
  from ltjax import train  # pylint: disable=g-import-not-at-top
  old = os.path.join(tmp, "old")
  shutil.copytree(os.path.join(HERE, method), old)
  ds = tiny_dataset()
  resumed = train.train_and_evaluate(config(method), old, dataset=ds)
  fresh = train.train_and_evaluate(config(method), os.path.join(tmp, "fresh"),
                                   dataset=ds)
  return {"resumed": resumed["final"], "fresh": fresh["final"],
          "resumed_run": resumed["run"]}


def main():
  if sys.argv[1:2] == ["--check"]:
    print("RESULT " + json.dumps(check(sys.argv[2], sys.argv[3])))
    return 0
  from ltjax import train  # pylint: disable=g-import-not-at-top
  ds = tiny_dataset()
  for method in METHODS:
    workdir = os.path.join(HERE, method)
    shutil.rmtree(workdir, ignore_errors=True)
    c = config(method)
    c.max_steps = train.build_run(c, ds).steps_per_epoch
    train.train_and_evaluate(c, workdir, dataset=ds)
  return 0


if __name__ == "__main__":
  sys.exit(main())
