"""Writers of small datasets in the official formats, for the tests.

Everything here is written from the format specifications (pickle layouts,
IDX headers, folder trees), never with ltjax's own readers.
"""

import gzip
import importlib.util
import os
import pathlib
import pickle
import shutil
import struct
import tarfile
import tempfile

from absl.testing import parameterized
import jax
import numpy as np
from PIL import Image

from ltjax import runtime

ROOT = pathlib.Path(__file__).resolve().parents[1]


def config_files(datasets) -> list[str]:
  """experiments/configs/<dataset>/<method>.py of `datasets`, sorted."""
  return sorted(
      str(p.relative_to(ROOT)) for d in datasets
      for p in (ROOT / "experiments" / "configs" / d).glob("*.py")
      if p.name != "__init__.py")


def subprocess_env(devices: int = 1, **extra) -> dict[str, str]:
  """The environment of a child process a test starts (`experiments.main`).

  `devices` fake CPU devices, conftest's fast-compile flag, the checkout on
  PYTHONPATH (and the compilation cache conftest set up, inherited).
  """
  env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_FLAGS=(
      f"--xla_force_host_platform_device_count={devices} "
      f"--xla_backend_optimization_level=0 {runtime.CPU_COLLECTIVE_FLAGS}"))
  env.update(extra)
  return env


def held_out_val_counts(counts, per_class):
  """Validation examples per class held out of a training split.

  The documented rule, written out: val_per_class of each class, but the
  class keeps at least 80 % and 5 of its examples (all, if it has 5 or
  fewer).
  """
  counts = np.asarray(counts, np.int64)
  keep = np.maximum(np.ceil(0.8 * counts), np.minimum(5, counts))
  return np.minimum(per_class, counts - keep.astype(np.int64))


def set_field(config, field: str, value) -> None:
  """Sets the dotted `field` (e.g. "data.path") of a ConfigDict."""
  parent, _, leaf = field.rpartition(".")
  target = config
  for part in filter(None, parent.split(".")):
    target = target[part]
  target[leaf] = value


def assert_fails_before_compiling(test, run, error, message, workdir):
  """`run()` raises `error` matching `message` and compiles nothing.

  Nothing is written to `workdir`'s checkpoints either.
  """
  compiles = []
  jax.monitoring.register_event_duration_secs_listener(
      lambda event, *_, **__: compiles.append(event)
      if "compile" in event else None)
  with test.assertRaisesRegex(error, message):
    run()
  test.assertEmpty(compiles)
  test.assertFalse(os.path.exists(os.path.join(workdir, "checkpoints")))


def load_config_file(path, arg=None):
  """`get_config(arg)` of a config file (a path relative to the checkout)."""
  spec = importlib.util.spec_from_file_location("config_module", ROOT / path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)

CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                 "frog", "horse", "ship", "truck")


def make_tempdir(test):
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path)
  return path


def random_images(n, height=32, width=32, channels=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, height, width, channels), dtype=np.uint8)


def cifar_rows(images):
  """uint8 [n, 32, 32, 3] -> [n, 3072]: all red, then green, then blue."""
  return np.stack([np.concatenate([im[:, :, ch].ravel() for ch in range(3)])
                   for im in images])


def dump_py2_style(path, record):
  """Pickles like the Python 2 originals: bytes keys, protocol 2."""
  record = {k.encode(): v for k, v in record.items()}
  with open(path, "wb") as f:
    pickle.dump(record, f, protocol=2)


def write_cifar10(folder, images, labels, test_images, test_labels):
  os.makedirs(folder)
  for i, part in enumerate(np.array_split(np.arange(len(labels)), 5)):
    dump_py2_style(os.path.join(folder, f"data_batch_{i + 1}"), {
        "batch_label": f"training batch {i + 1} of 5",
        "labels": [int(labels[j]) for j in part],
        "data": cifar_rows(images[part]),
    })
  dump_py2_style(os.path.join(folder, "test_batch"), {
      "labels": [int(x) for x in test_labels],
      "data": cifar_rows(test_images)})
  dump_py2_style(os.path.join(folder, "batches.meta"), {
      "label_names": [n.encode() for n in CIFAR10_NAMES],
      "num_cases_per_batch": 10})


def write_cifar100(folder, images, labels, test_images, test_labels, names):
  os.makedirs(folder)
  for split, ims, labs in (("train", images, labels),
                           ("test", test_images, test_labels)):
    dump_py2_style(os.path.join(folder, split), {
        "fine_labels": [int(x) for x in labs],
        "coarse_labels": [int(x) // 5 for x in labs],
        "data": cifar_rows(ims)})
  dump_py2_style(os.path.join(folder, "meta"), {
      "fine_label_names": [n.encode() for n in names],
      "coarse_label_names": [b"c"]})


def tar_folder(folder, tarball, arcname):
  with tarfile.open(tarball, "w:gz") as tar:
    tar.add(folder, arcname=arcname)


def write_idx(path, array):
  """IDX: 0, 0, type 0x08 (ubyte), ndim; big-endian uint32 dims; data."""
  header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
      f">{array.ndim}I", *array.shape)
  payload = header + np.ascontiguousarray(array, np.uint8).tobytes()
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(payload)


def write_image(path, array, fmt):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
  image.save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def write_folder(root, splits, class_names, fmt="PNG", ext=".png"):
  """splits: {split: (images, labels)} -> root/split/class/NNNN.ext."""
  for split, (images, labels) in splits.items():
    for i, (image, label) in enumerate(zip(images, labels)):
      write_image(os.path.join(root, split, class_names[label],
                               f"{i:04d}{ext}"), image, fmt)


def in_file_order(images, labels):
  """Images grouped by label, in their original order within a label."""
  order = np.argsort(labels, kind="stable")
  return images[order], labels[order]


def tiny_labels(per_class, num_classes, seed):
  """`per_class` examples of every class, in a seeded shuffled order."""
  labels = np.repeat(np.arange(num_classes), per_class)
  return np.random.default_rng(seed).permutation(labels)


def write_tiny_benchmarks(root, *, per_class=24, test_per_class=4):
  """Tiny CIFAR-10, CIFAR-100 and MNIST in their official formats.

  Returns:
    {"cifar10_lt": path, "cifar100_lt": path, "mnist_lt": path}.
  """
  paths = {}
  labels = tiny_labels(per_class, 10, seed=0)
  test_labels = tiny_labels(test_per_class, 10, seed=1)
  paths["cifar10_lt"] = os.path.join(root, "cifar-10-batches-py")
  write_cifar10(paths["cifar10_lt"], random_images(labels.size, seed=2),
                labels, random_images(test_labels.size, seed=3), test_labels)
  labels100 = tiny_labels(max(per_class // 4, 4), 100, seed=4)
  test100 = tiny_labels(1, 100, seed=5)
  paths["cifar100_lt"] = os.path.join(root, "cifar-100-python")
  write_cifar100(paths["cifar100_lt"], random_images(labels100.size, seed=6),
                 labels100, random_images(test100.size, seed=7), test100,
                 [f"class{i:03d}" for i in range(100)])
  paths["mnist_lt"] = os.path.join(root, "mnist")
  os.makedirs(paths["mnist_lt"])
  for prefix, labs, seed in (("train", labels, 8), ("t10k", test_labels, 9)):
    images = random_images(labs.size, 28, 28, 1, seed=seed)[..., 0]
    write_idx(os.path.join(paths["mnist_lt"],
                           f"{prefix}-images-idx3-ubyte.gz"), images)
    write_idx(os.path.join(paths["mnist_lt"],
                           f"{prefix}-labels-idx1-ubyte.gz"),
              labs.astype(np.uint8))
  return paths


def write_abalone_like(path, *, rows=600, seed=0):
  """A file in the UCI abalone format: sex, 7 measurements, rings.

  Rings are right-skewed over 1..29 like the real data (many around 9, few
  above 20); the measurements grow with the rings plus noise.
  """
  rng = np.random.default_rng(seed)
  rings = np.clip(np.round(rng.gamma(6.0, 1.6, size=rows)), 1, 29).astype(int)
  size = rings / 29.0
  with open(path, "w") as f:
    for r, s in zip(rings, size):
      sex = rng.choice(["M", "F", "I"])
      length = 0.2 + 0.5 * s + 0.03 * rng.standard_normal()
      values = [length, 0.8 * length, 0.3 * length] + [
          abs(2.0 * s * length + 0.05 * rng.standard_normal())
          for _ in range(4)]
      f.write(",".join([sex] + [f"{v:.4f}" for v in values] + [str(r)])
              + "\n")


class TinyBenchmarksTestCase(parameterized.TestCase):
  """A test case with `self.paths`: tiny CIFAR/MNIST copies in a temp dir.

  The copies (`write_tiny_benchmarks`) are written once per class;
  `workdir()` gives each test a fresh temporary workdir.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._tmp = tempfile.TemporaryDirectory()
    cls.paths = write_tiny_benchmarks(cls._tmp.name)

  @classmethod
  def tearDownClass(cls):
    cls._tmp.cleanup()
    super().tearDownClass()

  def workdir(self):
    return make_tempdir(self)

