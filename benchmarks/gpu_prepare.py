r"""Prepares the git-ignored folders that `benchmarks/gpu_session.sh` carries.

Run here, in the checkout's root, before the device call:

  .venv/bin/python -m benchmarks.gpu_prepare --data_root=../shared/data

It writes
  .gpu_wheels/  the wheels of the pure-Python packages ltjax imports that
                the device machine's image lacks (`WHEELS`, the versions
                pinned in requirements.txt), by `pip download --no-deps`
                from this machine's package index;
  .gpu_data/    cifar10_jpeg/cifar10_jpeg.tar.gz, the CIFAR-10 JPEG copy
                laid out as `benchmarks.campaign.DATA_FILES` (checked
                against the copy's SHA256SUMS),
both ignored by .gitignore; the `run` call names them in `carry`
(benchmarks/README.md gives the call). About 20 MiB in all.

`--toy`: instead of copying the real data, writes a tiny CIFAR-10-style
tarball of random JPEGs in the same layout (`--toy_per_class` training and
`--toy_test_per_class` test images per class), for the toy run of the
session script on a CPU (tests/gpu_session_test.py); `--nowheels` skips
the download.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Packages ltjax imports that the device image lacks (its package list:
# absl-py, flax, optax, orbax-checkpoint, numpy, scipy, pillow, protobuf …
# are there; tensorflow-datasets is imported only for TFDS sources).
WHEELS = ("ml_collections", "tensorboardX")
CIFAR10 = "cifar10_jpeg/cifar10_jpeg.tar.gz"  # campaign.DATA_FILES
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
               "frog", "horse", "ship", "truck")

_DATA_ROOT = flags.DEFINE_string(
    "data_root", os.path.join(os.path.dirname(ROOT), "shared", "data"),
    "The shared data folder (its cifar10_jpeg/ is copied).")
_DATA_OUT = flags.DEFINE_string("data_out", os.path.join(ROOT, ".gpu_data"),
                                "Where the data copy goes.")
_WHEELS_OUT = flags.DEFINE_string(
    "wheels_out", os.path.join(ROOT, ".gpu_wheels"), "Where the wheels go.")
_WHEELS = flags.DEFINE_bool("wheels", True, "Download the wheels.")
_TOY = flags.DEFINE_bool("toy", False, "Write tiny random data instead.")
_TOY_PER_CLASS = flags.DEFINE_integer("toy_per_class", 100,
                                      "--toy: training images per class.")
_TOY_TEST_PER_CLASS = flags.DEFINE_integer("toy_test_per_class", 4,
                                           "--toy: test images per class.")


def pinned_version(name: str, requirements: str | None = None) -> str:
  """The `name==VERSION` pin of requirements.txt (case-insensitive)."""
  path = requirements or os.path.join(ROOT, "requirements.txt")
  with open(path) as f:
    for line in f:
      match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
      if match and _norm(match.group(1)) == _norm(name):
        return match.group(2)
  raise ValueError(f"{name} has no '==' pin in {path}.")


def _norm(name: str) -> str:
  return re.sub(r"[-_.]+", "-", name).lower()


def download_wheels(folder: str) -> list[str]:
  """Pure-Python wheels of WHEELS for the device's Python 3.12."""
  os.makedirs(folder, exist_ok=True)
  specs = [f"{name}=={pinned_version(name)}" for name in WHEELS]
  subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                  "--only-binary=:all:", "--python-version", "3.12",
                  "-d", folder, *specs], check=True)
  wheels = sorted(f for f in os.listdir(folder) if f.endswith(".whl"))
  for name in WHEELS:
    found = [w for w in wheels if _norm(w.split("-")[0]) == _norm(name)]
    if len(found) != 1:
      raise RuntimeError(f"{folder}: expected one wheel of {name}, found "
                         f"{found} (keep one version of each).")
  return wheels


def copy_cifar10(data_root: str, out: str) -> str:
  """Copies the CIFAR-10 JPEG tarball, checking its SHA256SUMS."""
  source = os.path.join(data_root, CIFAR10)
  sums = os.path.join(os.path.dirname(source), "SHA256SUMS")
  target = os.path.join(out, CIFAR10)
  os.makedirs(os.path.dirname(target), exist_ok=True)
  shutil.copyfile(source, target)
  if os.path.exists(sums):
    with open(sums) as f:
      expected = {line.split()[1].lstrip("*"): line.split()[0]
                  for line in f if line.strip()}
    want = expected.get(os.path.basename(source))
    with open(target, "rb") as f:
      got = hashlib.sha256(f.read()).hexdigest()
    if want and got != want:
      raise RuntimeError(f"{target}: SHA-256 {got} is not {want} "
                         f"({sums}).")
  return target


def write_toy_cifar10(out: str, *, per_class: int, test_per_class: int,
                      seed: int = 0) -> str:
  """A tiny train/<class>/NNNN.jpg + test/... tarball of random images."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  target = os.path.join(out, CIFAR10)
  os.makedirs(os.path.dirname(target), exist_ok=True)
  with tempfile.TemporaryDirectory() as tmp:
    for split, count in (("train", per_class), ("test", test_per_class)):
      for label, name in enumerate(CLASS_NAMES):
        folder = os.path.join(tmp, split, name)
        os.makedirs(folder)
        for i in range(count):
          # A class-dependent mean colour, so that the toy runs can learn.
          image = rng.normal(25 * label, 40, (32, 32, 3))
          Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
              os.path.join(folder, f"{i:04d}.jpg"), quality=90)
    with tarfile.open(target, "w:gz") as tar:
      for split in ("train", "test"):
        tar.add(os.path.join(tmp, split), arcname=split)
  return target


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _WHEELS.value:
    for wheel in download_wheels(_WHEELS_OUT.value):
      print(os.path.join(_WHEELS_OUT.value, wheel))
  if _TOY.value:
    path = write_toy_cifar10(_DATA_OUT.value, per_class=_TOY_PER_CLASS.value,
                             test_per_class=_TOY_TEST_PER_CLASS.value)
  else:
    path = copy_cifar10(_DATA_ROOT.value, _DATA_OUT.value)
  print(path)


if __name__ == "__main__":
  app.run(main)
