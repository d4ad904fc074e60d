"""Image decoding and the host-side crops of streamed (ImageNet-style) sets.

Pillow is imported on first use, so `import ltjax.data` works without it;
only decoding needs it (`pip install Pillow`).

Crops follow torchvision's `RandomResizedCrop` (scale 0.08-1, aspect ratio
3/4-4/3, ten tries, then a centre crop clamped to the ratio range) and the
usual evaluation transform (resize the shorter side to 256/224 * size, then
centre-crop size x size). Both are done as one bilinear resize of a box of the
original image, which is the same geometry as resize-then-crop with one
resampling instead of two.
"""

import concurrent.futures
import functools
import io
import math
import os
from typing import Sequence

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Below this mean encoded size decoding is bound by Python overhead, and
# threads only contend for the GIL (measured: 32x32 JPEGs decode ~15% slower
# on 2 threads than on 1, 256x256 ones ~1.8x faster).
_MIN_BYTES_FOR_THREADS = 4096


def _pil():
  try:
    from PIL import Image  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        "Decoding images needs Pillow: pip install Pillow.") from e
  return Image


@functools.cache
def executor(num_workers: int) -> concurrent.futures.ThreadPoolExecutor:
  """A shared thread pool with `num_workers` threads (created once)."""
  return concurrent.futures.ThreadPoolExecutor(
      max_workers=num_workers, thread_name_prefix="ltjax-decode")


def default_num_workers() -> int:
  return min(16, (os.cpu_count() or 1) + 4)


def _to_array(image, name: str) -> np.ndarray:
  if image.mode in ("1", "L"):
    return np.asarray(image.convert("L"), np.uint8)[:, :, None]
  if image.mode != "RGB":
    image = image.convert("RGB")
  array = np.asarray(image, np.uint8)
  if array.ndim != 3 or array.shape[-1] != 3:
    raise ValueError(f"could not decode {name} to an RGB image.")
  return array


def decode_image(data: bytes, *, name: str) -> np.ndarray:
  """Decodes an encoded image to uint8 [H, W, 1] (grayscale) or [H, W, 3].

  Args:
    data: the bytes of a JPEG or PNG file.
    name: the file's path, for error messages.

  Returns:
    uint8 [H, W, 1] for grayscale images, uint8 [H, W, 3] for all others.
  """
  image_lib = _pil()
  try:
    with image_lib.open(io.BytesIO(data)) as image:
      return _to_array(image, name)
  except (OSError, SyntaxError, ValueError) as e:
    raise ValueError(f"could not decode image {name}: {e}") from e


def _decode_chunk(blobs: Sequence[bytes],
                  names: Sequence[str]) -> list[np.ndarray]:
  return [decode_image(b, name=n) for b, n in zip(blobs, names)]


def decode_many(blobs: Sequence[bytes], names: Sequence[str], *,
                num_workers: int = 0) -> list[np.ndarray]:
  """Decodes many images, in a thread pool when they are large enough.

  Args:
    blobs: encoded images.
    names: their paths, for error messages.
    num_workers: threads; 0 picks `default_num_workers()`, 1 decodes serially.

  Returns:
    One uint8 [H, W, 1 or 3] array per blob, in order.
  """
  num_workers = num_workers or default_num_workers()
  mean_size = sum(len(b) for b in blobs) / max(len(blobs), 1)
  if num_workers <= 1 or mean_size < _MIN_BYTES_FOR_THREADS:
    return _decode_chunk(blobs, names)
  size = max(1, math.ceil(len(blobs) / (4 * num_workers)))
  starts = range(0, len(blobs), size)
  chunks = executor(num_workers).map(
      lambda s: _decode_chunk(blobs[s:s + size], names[s:s + size]), starts)
  return [array for chunk in chunks for array in chunk]


def stack_images(arrays: Sequence[np.ndarray],
                 names: Sequence[str]) -> np.ndarray:
  """Stacks decoded images of one size into uint8 [N, H, W, C].

  Grayscale images are kept with one channel when all images are grayscale,
  and repeated to three channels otherwise.
  """
  if not arrays:
    raise ValueError("no images to stack.")
  first = arrays[0].shape[:2]
  for array, name in zip(arrays, names):
    if array.shape[:2] != first:
      raise ValueError(
          f"images must all have one size to be held in memory, but "
          f"{names[0]} is {first[0]}x{first[1]} and {name} is "
          f"{array.shape[0]}x{array.shape[1]}; resize them, or list them in a "
          f"`path label` file and load them as a streamed split.")
  channels = max(array.shape[-1] for array in arrays)
  out = np.empty((len(arrays),) + first + (channels,), np.uint8)
  for i, array in enumerate(arrays):
    out[i] = array  # A [H, W, 1] image broadcasts to 3 channels.
  return out


def random_resized_crop_box(
    height: int, width: int, rng: np.random.Generator, *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
) -> tuple[int, int, int, int]:
  """Returns torchvision's RandomResizedCrop box (top, left, h, w).

  Ten tries draw an area fraction in `scale` and a log-uniform aspect ratio
  w/h in `ratio`; the first box that fits is placed uniformly at random. If
  none fits, the centre crop of the largest box with a ratio in range.
  """
  area = height * width
  log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
  for _ in range(10):
    target_area = area * rng.uniform(scale[0], scale[1])
    aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
    w = int(round(math.sqrt(target_area * aspect)))
    h = int(round(math.sqrt(target_area / aspect)))
    if 0 < w <= width and 0 < h <= height:
      top = int(rng.integers(0, height - h + 1))
      left = int(rng.integers(0, width - w + 1))
      return top, left, h, w
  in_ratio = width / height
  if in_ratio < ratio[0]:
    w, h = width, int(round(width / ratio[0]))
  elif in_ratio > ratio[1]:
    h, w = height, int(round(height * ratio[1]))
  else:
    w, h = width, height
  return (height - h) // 2, (width - w) // 2, h, w


def center_crop_box(height: int, width: int,
                    size: int) -> tuple[float, float, float, float]:
  """Returns the box (top, left, h, w) of the evaluation crop.

  Resizing the shorter side to int(size * 256 / 224) (256 for size 224) and
  centre-cropping size x size keeps this box of the original image.
  """
  resize = int(size * 256 / 224)
  side = size * min(height, width) / resize
  return (height - side) / 2, (width - side) / 2, side, side


def _load_box(path: str, size: int, choose) -> np.ndarray:
  """Reads one image file, resizes the box `choose` picks to [size, size, 3].

  `choose(height, width)` returns ((top, left, h, w), flip).
  """
  image_lib = _pil()
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError as e:
    raise FileNotFoundError(f"image {path} does not exist.") from e
  try:
    with image_lib.open(io.BytesIO(data)) as image:
      image = image.convert("RGB")
      width, height = image.size
      (top, left, h, w), flip = choose(height, width)
      image = image.resize((size, size), image_lib.Resampling.BILINEAR,
                           box=(left, top, left + w, top + h))
      array = np.asarray(image, np.uint8)
  except (OSError, SyntaxError, ValueError) as e:
    raise ValueError(f"could not decode image {path}: {e}") from e
  return array[:, ::-1] if flip else array


def load_transformed(path: str, *, size: int,
                     seed: int | None) -> np.ndarray:
  """Reads one image file and crops it to uint8 [size, size, 3].

  Args:
    path: the image file.
    size: output side.
    seed: None for the evaluation crop; otherwise the seed of the random
      resized crop and horizontal flip (p = 0.5).

  Returns:
    uint8 [size, size, 3].
  """

  def choose(height, width):
    if seed is None:
      return center_crop_box(height, width, size), False
    rng = np.random.default_rng(seed)
    box = random_resized_crop_box(height, width, rng)
    return box, rng.uniform() < 0.5

  return _load_box(path, size, choose)


def load_resized(path: str, *, size: int) -> np.ndarray:
  """Reads one image file and resizes all of it to uint8 [size, size, 3].

  The DIR reference's `Resize((S, S))` (aspect ratio not kept); the training
  crop and flip of the regression task run on device.
  """
  return _load_box(path, size, lambda height, width: ((0, 0, height, width),
                                                      False))
