"""Direct download of the official CIFAR tarballs and MNIST IDX files.

This is the default data of a fresh machine: it needs no TensorFlow (TFDS's
`cifar10` needs it to be prepared) and fetches the original files, which
`read_cifar` / `read_mnist` then read. Every file is checked against its
known md5 and written atomically into `data_dir` (a temporary name in the same
folder, then `os.replace`), so an interrupted or corrupt download leaves
nothing behind and a finished one is never half-written. Offline, a download
fails within about `timeout` seconds per mirror, naming the URLs tried and the
local formats that can be used instead.
"""

import concurrent.futures
import dataclasses
import hashlib
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from absl import logging

_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class DownloadSpec:
  """One file: its name in `data_dir`, md5 and the mirrors to try in order."""
  filename: str
  md5: str
  urls: tuple[str, ...]


def _mnist(stem: str, md5: str) -> DownloadSpec:
  filename = stem + ".gz"
  return DownloadSpec(filename, md5, (
      "https://ossci-datasets.s3.amazonaws.com/mnist/" + filename,
      "https://storage.googleapis.com/cvdf-datasets/mnist/" + filename))


# The official files. MNIST's md5s are those of the original gzipped files
# (the same as torchvision's).
DOWNLOADS = {
    "cifar10": (DownloadSpec(
        "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),),
    "cifar100": (DownloadSpec(
        "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
        ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",)),),
    "mnist": (
        _mnist("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        _mnist("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
        _mnist("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
        _mnist("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}


class DownloadError(OSError):
  """A file could not be downloaded from any mirror (or failed its md5)."""


def default_data_dir() -> str:
  """`$LTJAX_DATA_DIR`, else `~/.cache/ltjax`: where downloads go."""
  return os.environ.get("LTJAX_DATA_DIR") or os.path.join(
      os.path.expanduser("~"), ".cache", "ltjax")


def _resolve(host: str, timeout: float) -> None:
  """Resolves `host` within `timeout` (socket timeouts do not cover DNS)."""
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  future = pool.submit(socket.getaddrinfo, host, None)
  pool.shutdown(wait=False)
  try:
    future.result(timeout=timeout)
  except concurrent.futures.TimeoutError as e:
    raise OSError(f"resolving {host} took over {timeout} s") from e


def _fetch(url: str, out_file, *, timeout: float) -> str:
  """Streams `url` into `out_file`; returns the md5 of what was written."""
  host = urllib.parse.urlsplit(url).hostname
  if host:
    _resolve(host, timeout)
  digest = hashlib.md5()
  with urllib.request.urlopen(url, timeout=timeout) as response:
    for block in iter(lambda: response.read(_CHUNK), b""):
      digest.update(block)
      out_file.write(block)
  return digest.hexdigest()


def download_file(spec: DownloadSpec, data_dir: str, *,
                  timeout: float = 10.0) -> str:
  """Downloads one file into `data_dir` unless it is already there.

  Mirrors are tried in order; a mirror that cannot be reached within
  `timeout` seconds, or whose file fails the md5 check, is skipped.

  Args:
    spec: the file's name, md5 and mirrors.
    data_dir: destination folder (created if needed).
    timeout: seconds allowed for name resolution, for connecting and for each
      read.

  Returns:
    The path of the verified file in `data_dir`.

  Raises:
    DownloadError: no mirror gave the file with the right md5; nothing is
      left in `data_dir`.
  """
  target = os.path.join(data_dir, spec.filename)
  if os.path.isfile(target):
    return target
  os.makedirs(data_dir, exist_ok=True)
  errors = []
  for url in spec.urls:
    fd, partial = tempfile.mkstemp(dir=data_dir, prefix=f".{spec.filename}.",
                                   suffix=".partial")
    try:
      start = time.monotonic()
      with os.fdopen(fd, "wb") as f:
        md5 = _fetch(url, f, timeout=timeout)
      if md5 != spec.md5:
        errors.append(f"{url}: md5 {md5} != expected {spec.md5}")
        continue
      os.replace(partial, target)
      logging.info("Downloaded %s (%d bytes) in %.1f s.", url,
                os.path.getsize(target), time.monotonic() - start)
      return target
    except (OSError, urllib.error.URLError) as e:
      errors.append(f"{url}: {e}")
    finally:
      if os.path.exists(partial):
        os.remove(partial)
  raise DownloadError(
      f"could not download {spec.filename} into {data_dir} (no network, "
      f"or the mirrors are down):\n  " +
      "\n  ".join(errors))


def download_dataset(name: str, data_dir: str, *,
                     timeout: float = 10.0) -> str:
  """Downloads the official files of `name` into `data_dir`.

  Args:
    name: a key of `DOWNLOADS` ("cifar10", "cifar100", "mnist").
    data_dir: destination folder.
    timeout: seconds per network step (see `download_file`).

  Returns:
    The path to read: the tarball for CIFAR, `data_dir` for MNIST.
  """
  if name not in DOWNLOADS:
    raise ValueError(
        f"no download is known for {name!r}; known: {sorted(DOWNLOADS)}.")
  paths = [download_file(spec, data_dir, timeout=timeout)
           for spec in DOWNLOADS[name]]
  return paths[0] if len(paths) == 1 else data_dir


def downloaded_path(name: str, data_dir: str) -> str | None:
  """The path `download_dataset` would return, if all its files are there."""
  specs = DOWNLOADS.get(name, ())
  if not specs or not all(os.path.isfile(os.path.join(data_dir, s.filename))
                          for s in specs):
    return None
  return (os.path.join(data_dir, specs[0].filename) if len(specs) == 1
          else data_dir)
