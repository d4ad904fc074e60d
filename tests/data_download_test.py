"""Tests for the direct download, against an HTTP server on localhost."""

import functools
import hashlib
import http.server
import os
import socket
import threading
import time
from unittest import mock

from absl.testing import absltest
import numpy as np

import data_sources_test as fixtures
from ltjax import data


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

  def log_message(self, *args):
    del args


def serve(test, folder):
  """Serves `folder` on localhost until the test ends; returns the base URL."""
  handler = functools.partial(_QuietHandler, directory=folder)
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, args=(0.02,),
                            daemon=True)
  thread.start()

  def stop():
    server.shutdown()
    server.server_close()

  test.addCleanup(stop)
  return f"http://127.0.0.1:{server.server_address[1]}/", stop


def closed_port_url():
  """A localhost URL nothing listens on: connections are refused at once."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  return f"http://127.0.0.1:{port}/file"


def md5_of(path):
  with open(path, "rb") as f:
    return hashlib.md5(f.read()).hexdigest()


class DownloadFileTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.served = fixtures.make_tempdir(self)
    self.data_dir = os.path.join(fixtures.make_tempdir(self), "cache")
    self.payload = os.urandom(3000)
    with open(os.path.join(self.served, "blob.bin"), "wb") as f:
      f.write(self.payload)
    self.url, self.stop = serve(self, self.served)
    self.md5 = hashlib.md5(self.payload).hexdigest()

  def test_downloads_and_verifies(self):
    spec = data.DownloadSpec("blob.bin", self.md5, (self.url + "blob.bin",))
    path = data.download_file(spec, self.data_dir)
    self.assertEqual(path, os.path.join(self.data_dir, "blob.bin"))
    with open(path, "rb") as f:
      self.assertEqual(f.read(), self.payload)
    self.assertEqual(os.listdir(self.data_dir), ["blob.bin"])
    # Present files are not fetched again.
    self.stop()
    self.assertEqual(data.download_file(spec, self.data_dir), path)

  def test_checksum_mismatch_leaves_nothing(self):
    spec = data.DownloadSpec("blob.bin", "0" * 32, (self.url + "blob.bin",))
    with self.assertRaisesRegex(data.DownloadError, "md5"):
      data.download_file(spec, self.data_dir)
    self.assertEqual(os.listdir(self.data_dir), [])

  def test_falls_back_to_the_next_mirror(self):
    spec = data.DownloadSpec(
        "blob.bin", self.md5, (closed_port_url(), self.url + "missing.bin",
                               self.url + "blob.bin"))
    path = data.download_file(spec, self.data_dir)
    self.assertEqual(md5_of(path), self.md5)

  def test_unreachable_fails_fast(self):
    spec = data.DownloadSpec("blob.bin", self.md5, (closed_port_url(),))
    start = time.monotonic()
    with self.assertRaisesRegex(data.DownloadError, "could not download"):
      data.download_file(spec, self.data_dir, timeout=2.0)
    self.assertLess(time.monotonic() - start, 3.0)
    self.assertEqual(os.listdir(self.data_dir), [])


class DefaultDownloadTest(absltest.TestCase):
  """cifar10_lt with no path downloads the official tarball into data_dir."""

  def setUp(self):
    super().setUp()
    self.served = fixtures.make_tempdir(self)
    self.data_dir = fixtures.make_tempdir(self)
    folder = os.path.join(self.served, "cifar-10-batches-py")
    self.labels = np.arange(200) % 10
    self.images = fixtures.random_images(200, seed=9)
    fixtures.write_cifar10(folder, self.images, self.labels,
                           fixtures.random_images(20, seed=10),
                           np.arange(20) % 10)
    self.tarball = os.path.join(self.served, "cifar-10-python.tar.gz")
    fixtures.tar_folder(folder, self.tarball, "cifar-10-batches-py")
    self.url, self.stop = serve(self, self.served)
    self.config = data.default_data_config("cifar10_lt")
    self.config.data_dir = self.data_dir
    self.config.imbalance_ratio = 10.0
    self.config.val_per_class = 2

  def patch_url(self, url, md5):
    spec = data.DownloadSpec("cifar-10-python.tar.gz", md5, (url,))
    return mock.patch.dict(data.DOWNLOADS, {"cifar10": (spec,)})

  def test_downloads_then_reuses(self):
    with self.patch_url(self.url + "cifar-10-python.tar.gz",
                        md5_of(self.tarball)):
      ds = data.load_dataset(self.config)
      self.stop()  # The second load must not need the network.
      again = data.load_dataset(self.config)
    expected = [int(20 * 10**(-i / 9)) for i in range(10)]
    np.testing.assert_array_equal(ds.train_class_counts, expected)
    self.assertEqual(ds.metadata["source"]["source"], "pickle")
    self.assertEqual(ds.metadata["source"]["path"],
                     os.path.join(self.data_dir, "cifar-10-python.tar.gz"))
    self.assertEqual(ds.metadata, again.metadata)

  def test_offline_fails_fast_with_instructions(self):
    start = time.monotonic()
    with self.patch_url(closed_port_url(), md5_of(self.tarball)):
      with self.assertRaisesRegex(
          data.DownloadError,
          "(?s)could not download.*config\\.data\\.path.*"
          "cifar-10-python.tar.gz.*data_dir"):
        data.load_dataset(self.config)
    self.assertLess(time.monotonic() - start, 3.0)
    self.assertEqual(os.listdir(self.data_dir), [])


if __name__ == "__main__":
  absltest.main()
