r"""Builds the long-tailed sets from real local copies and times the load.

Host-side only (no accelerator): reading, decoding, the seeded subset and the
validation split, as `ltjax.data.load_dataset` does at the start of a run.

  python -m benchmarks.data_load \
      --cifar10=/path/to/cifar10_jpeg.tar.gz --mnist=/path/to/mnist \
      --lists=/path/to/places_lt/Places_LT_train.txt --repeats=3

Any flag left empty is skipped. Prints, per dataset, the training class
counts, split sizes, metadata digests and the median wall time over
`--repeats` loads (each load starts from the files on disk; the OS page cache
is warm after the first).
"""

import statistics
import time

from absl import app
from absl import flags
import numpy as np

from ltjax import data

_CIFAR10 = flags.DEFINE_string(
    "cifar10", "", "CIFAR-10 copy: python tarball/folder or image folder "
    "(or its .tar.gz).")
_MNIST = flags.DEFINE_string("mnist", "", "Folder of MNIST IDX files.")
_LISTS = flags.DEFINE_list(
    "lists", [], "`path label` list files to parse (timing only; their "
    "images need not exist).")
_RATIO = flags.DEFINE_float("ratio", 100.0, "Imbalance ratio.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Loads per dataset.")


def _time_load(config):
  times, dataset = [], None
  for _ in range(_REPEATS.value):
    start = time.perf_counter()
    dataset = data.load_dataset(config)
    times.append(time.perf_counter() - start)
  return dataset, times


def _report(name, path):
  config = data.default_data_config(name)
  config.path = path
  config.imbalance_ratio = _RATIO.value
  dataset, times = _time_load(config)
  meta = dataset.metadata
  print(f"{name} from {path} ({meta['source']['format']}), rho={_RATIO.value}")
  print(f"  train {len(dataset.train)}  val {len(dataset.val or ())}  "
        f"test {len(dataset.test)}  image {dataset.image_shape}")
  print(f"  train_class_counts {dataset.train_class_counts.tolist()}")
  print(f"  val class_counts {meta['val']['class_counts']}")
  print(f"  train_indices_sha256 {meta['train_indices_sha256']}  "
        f"val {meta['val'].get('indices_sha256')}")
  print(f"  load time: median {statistics.median(times):.2f} s over "
        f"{len(times)} ({', '.join(f'{t:.2f}' for t in times)})")


def _report_list(path):
  times = []
  for _ in range(_REPEATS.value):
    start = time.perf_counter()
    paths, labels = data.read_list_file(path)
    times.append(time.perf_counter() - start)
  counts = np.bincount(labels)
  print(f"list {path}: {len(paths)} images, {counts.size} classes, "
        f"max {counts.max()} min {counts.min()}; parse median "
        f"{statistics.median(times) * 1e3:.0f} ms")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _CIFAR10.value:
    _report("cifar10_lt", _CIFAR10.value)
  if _MNIST.value:
    _report("mnist_lt", _MNIST.value)
  for path in _LISTS.value:
    _report_list(path)


if __name__ == "__main__":
  app.run(main)
