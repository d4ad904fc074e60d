"""The safetensors file format, read and written with NumPy alone.

A safetensors file (https://github.com/huggingface/safetensors) is

  8 bytes      N, the header's length, unsigned little-endian
  N bytes      a UTF-8 JSON object: for every tensor name,
               {"dtype": "F32", "shape": [d0, d1, ...],
                "data_offsets": [begin, end]}, and optionally
               "__metadata__": {str: str}; padded with spaces
  the rest     the byte buffer: tensor data, row-major, little-endian, at
               [begin, end) relative to the buffer's start

The `safetensors` package is not needed to read or write it. `BF16` tensors
are read as float32 (exactly: bfloat16 is the top half of a float32), as
NumPy has no bfloat16 of its own.
"""

import json
import math
import os
from typing import Any, Mapping

import numpy as np

# safetensors dtype -> NumPy little-endian dtype.
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?", "BF16": "<u2",
}
# (NumPy kind, item size) -> safetensors dtype, whatever the byte order.
_NAMES = {(np.dtype(v).kind, np.dtype(v).itemsize): k
          for k, v in _DTYPES.items() if k != "BF16"}
# The reference implementation's bound on the header (100 MB).
_MAX_HEADER = 100_000_000
_METADATA = "__metadata__"


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
  """Widens bfloat16 bit patterns (uint16) to float32, exactly."""
  return (bits.astype(np.uint32) << 16).view(np.float32)


def _header(data: bytes, path: str) -> tuple[dict[str, Any], int]:
  """Parses the header; returns it and the offset of the byte buffer."""
  if len(data) < 8:
    raise ValueError(f"{path} is not a safetensors file: {len(data)} bytes.")
  size = int.from_bytes(data[:8], "little")
  if size > min(_MAX_HEADER, len(data) - 8):
    raise ValueError(
        f"{path} is not a safetensors file: its header length {size} exceeds "
        f"the file ({len(data)} bytes).")
  try:
    header = json.loads(data[8:8 + size].decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ValueError(f"{path}: the safetensors header is not JSON: {e}"
                     ) from None
  if not isinstance(header, dict):
    raise ValueError(f"{path}: the safetensors header is not a JSON object.")
  return header, 8 + size


def _tensor(name: str, entry: Any, buffer: memoryview,
            path: str) -> np.ndarray:
  """The tensor described by one header entry, as a new NumPy array."""
  try:
    dtype, shape, (begin, end) = (entry["dtype"], entry["shape"],
                                  entry["data_offsets"])
  except (TypeError, KeyError, ValueError):
    raise ValueError(
        f"{path}: tensor {name!r} has a malformed header entry {entry!r}."
    ) from None
  if dtype not in _DTYPES:
    raise ValueError(
        f"{path}: tensor {name!r} has dtype {dtype!r}; readable dtypes: "
        f"{', '.join(_DTYPES)}.")
  np_dtype = np.dtype(_DTYPES[dtype])
  numbers = (shape if isinstance(shape, list) else [None]) + [begin, end]
  if not all(isinstance(d, int) and d >= 0 for d in numbers):
    raise ValueError(
        f"{path}: tensor {name!r} has a bad shape {shape!r} or data_offsets "
        f"{[begin, end]!r}.")
  expected = math.prod(shape) * np_dtype.itemsize
  if not 0 <= begin <= end <= len(buffer) or end - begin != expected:
    raise ValueError(
        f"{path}: tensor {name!r} ({dtype} {tuple(shape)}, {expected} bytes) "
        f"has data_offsets [{begin}, {end}] in a buffer of {len(buffer)} "
        "bytes.")
  array = np.frombuffer(buffer[begin:end], np_dtype).reshape(shape)
  if dtype == "BF16":
    return _bf16_to_f32(array)
  return array.astype(np_dtype.newbyteorder("="))


def read_safetensors(path: str) -> dict[str, np.ndarray]:
  """Reads every tensor of a safetensors file.

  Args:
    path: a `.safetensors` file.

  Returns:
    {name: array} in the file's dtypes (native byte order), except BF16 ->
    float32. The `__metadata__` entry is not a tensor and is left out (see
    `read_safetensors_metadata`).

  Raises:
    ValueError: the file is not a well-formed safetensors file (the message
      names the file and, where one is at fault, the tensor).
  """
  path = os.fspath(path)
  with open(path, "rb") as f:
    data = f.read()
  header, start = _header(data, path)
  buffer = memoryview(data)[start:]
  return {name: _tensor(name, entry, buffer, path)
          for name, entry in header.items() if name != _METADATA}


def read_safetensors_metadata(path: str) -> dict[str, str]:
  """The `__metadata__` of a safetensors file ({} if it has none)."""
  path = os.fspath(path)
  with open(path, "rb") as f:
    head = f.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else -1
    data = head + f.read(size if 0 <= size <= _MAX_HEADER else 0)
  header, _ = _header(data, path)
  return dict(header.get(_METADATA, {}))


def write_safetensors(path: str, tensors: Mapping[str, Any], *,
                      metadata: Mapping[str, str] | None = None) -> None:
  """Writes arrays as a safetensors file, tensors in sorted name order.

  Args:
    path: the file to write (replaced if it exists).
    tensors: {name: array}; float16/32/64, (u)int8/16/32/64, bool, or
      bfloat16 (`jnp.bfloat16`, written as BF16).
    metadata: optional {str: str}, stored as `__metadata__`.
  """
  header = {}
  chunks = []
  offset = 0
  for name in sorted(tensors):
    array = np.asarray(tensors[name])
    if name == _METADATA:
      raise ValueError(f"{_METADATA!r} is reserved; pass it as metadata.")
    if array.dtype.name == "bfloat16":
      dtype, raw = "BF16", array.view(np.uint16).astype("<u2")
    elif (array.dtype.kind, array.dtype.itemsize) in _NAMES:
      dtype = _NAMES[array.dtype.kind, array.dtype.itemsize]
      raw = array.astype(_DTYPES[dtype])
    else:
      raise ValueError(
          f"Tensor {name!r} has dtype {array.dtype}, which safetensors "
          "cannot hold here.")
    chunk = np.ascontiguousarray(raw).tobytes()
    header[name] = {"dtype": dtype, "shape": list(array.shape),
                    "data_offsets": [offset, offset + len(chunk)]}
    chunks.append(chunk)
    offset += len(chunk)
  if metadata:
    header[_METADATA] = {str(k): str(v) for k, v in metadata.items()}
  text = json.dumps(header, separators=(",", ":")).encode("utf-8")
  text += b" " * (-len(text) % 8)
  with open(os.fspath(path), "wb") as f:
    f.write(len(text).to_bytes(8, "little"))
    f.write(text)
    for chunk in chunks:
      f.write(chunk)
