"""Reading tarballs so that a short or corrupt one is an error, not data.

`tarfile` takes a header it cannot parse, or the end of the file, after the
first member as the normal end of the archive: a `.tar` cut at a member
boundary, or a `.tar.gz` whose compressed bytes are damaged, reads as a
shorter archive without a word. `iter_tar_files` reads through a wrapper
that keeps the last block read, and after the last member checks that the
archive ends with the end-of-archive marker (zero blocks) and that the
compressed stream, read to its end, passes its checksum (gzip's CRC-32,
bzip2's and xz's own checks). Anything else raises `CorruptArchiveError`
naming the file and the last good member.
"""

import bz2
import gzip
import lzma
import tarfile
from typing import BinaryIO, Callable, Iterator
import zlib

_BLOCK = tarfile.BLOCKSIZE
_MAGICS = ((b"\x1f\x8b", gzip.GzipFile), (b"BZh", bz2.BZ2File),
           (b"\xfd7zXZ\x00", lzma.LZMAFile))
_STREAM_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error,
                  lzma.LZMAError)


class CorruptArchiveError(ValueError):
  """A tarball is truncated or corrupt."""


class _LastRead:
  """A read-only file that remembers the bytes of its last `read`."""

  def __init__(self, fileobj: BinaryIO):
    self._f = fileobj
    self.last = b""

  def read(self, size: int = -1) -> bytes:
    self.last = self._f.read(size)
    return self.last

  def seek(self, offset: int, whence: int = 0) -> int:
    return self._f.seek(offset, whence)

  def tell(self) -> int:
    return self._f.tell()

  def close(self) -> None:
    self._f.close()


def _open_stream(path: str) -> BinaryIO:
  with open(path, "rb") as f:
    head = f.read(6)
  for magic, opener in _MAGICS:
    if head.startswith(magic):
      return opener(path, "rb")
  return open(path, "rb")


def _corrupt(path: str, after: str | None, detail: str) -> CorruptArchiveError:
  where = f"after member {after!r}" if after else "at its start"
  return CorruptArchiveError(
      f"archive {path} is truncated or corrupt ({where}): {detail}. Download "
      f"or copy it again (check its checksum).")


def iter_tar_files(path: str, wanted: Callable[[tarfile.TarInfo], bool]
                  ) -> Iterator[tuple[tarfile.TarInfo, bytes]]:
  """Yields (member, its bytes) for the regular files `wanted` accepts.

  Once the members run out, the archive's end is checked; a caller that
  stops early (e.g. to peek at the first file) skips that check.

  Args:
    path: a `.tar`, `.tar.gz` / `.tgz`, `.tar.bz2` or `.tar.xz` file.
    wanted: called with each regular file's `TarInfo`; True reads it.

  Yields:
    (`TarInfo`, the file's bytes), in archive order.

  Raises:
    CorruptArchiveError: naming `path` and the last good member, when the
      archive ends without its end-of-archive marker (it was cut short),
      holds an unreadable header or member, or fails its compression
      checksum.
  """
  stream = _LastRead(_open_stream(path))
  last_name = None
  try:
    try:
      tar = tarfile.open(fileobj=stream, mode="r:")
    except _STREAM_ERRORS as e:
      raise _corrupt(path, None, f"{type(e).__name__}: {e}") from e
    with tar:
      while True:
        try:
          member = tar.next()
          if member is None:
            break
          data = None
          if member.isfile() and wanted(member):
            data = tar.extractfile(member).read()
            if len(data) != member.size:
              raise EOFError(f"{member.name} is cut short")
        except _STREAM_ERRORS as e:
          raise _corrupt(path, last_name, f"{type(e).__name__}: {e}") from e
        last_name = member.name
        if data is not None:
          yield member, data
      _check_end(path, stream, tar.offset, last_name)
  finally:
    stream.close()


def _check_end(path: str, stream: _LastRead, offset: int,
               last_name: str | None) -> None:
  """Checks the block at `offset` ends the archive, then the stream's end."""
  block = stream.last
  if stream.tell() != offset + len(block) or len(block) < _BLOCK:
    raise _corrupt(
        path, last_name,
        f"it ends at byte {offset + len(block)} without the end-of-archive "
        f"marker, so members are missing")
  if block.count(0) != _BLOCK:
    raise _corrupt(path, last_name,
                   f"the header at byte {offset} is not a valid tar header")
  try:
    while stream.read(1 << 20):  # Reaches the compressed stream's checksum.
      pass
  except _STREAM_ERRORS as e:
    raise _corrupt(path, last_name, f"{type(e).__name__}: {e}") from e


def is_tarball(path: str) -> bool:
  """Whether `path` starts like a (possibly compressed) tarball."""
  try:
    stream = _open_stream(path)
    try:
      header = stream.read(_BLOCK)
    finally:
      stream.close()
  except _STREAM_ERRORS:
    with open(path, "rb") as f:  # A compressed file that fails to open.
      return any(f.read(6).startswith(m) for m, _ in _MAGICS)
  if len(header) < _BLOCK:
    return False
  try:
    tarfile.TarInfo.frombuf(header, tarfile.ENCODING, "surrogateescape")
  except tarfile.HeaderError:
    return False
  return True
