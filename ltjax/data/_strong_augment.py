"""Strong on-device augmentation: the second view of contrastive training.

The views of SupCon (arXiv 2004.11362), PaCo (arXiv 2107.12028) and BCL
(arXiv 2207.09052) on CIFAR-LT, as jittable pure functions of (images, key):
`random_resized_crop`, `color_jitter`, `random_grayscale`, `rand_augment`,
`auto_augment_cifar` and the composite `strong_augment`.

Representation. Every public function takes images [B, H, W, K] holding
values in [0, 255] (uint8 from the host, or floats on that scale) and returns
the same shape and dtype. Inside, pixels are float32 on the 0..255 scale and
each op rounds its result to whole numbers the way PIL does (blends truncate,
filters and resampling round), because the originals run every op on 8-bit
PIL images: thresholds (Solarize), bit masks (Posterize) and 256-bin
histograms (Equalize, AutoContrast) keep their PIL meaning. Only
`strong_augment` normalises (with `ltjax.data.normalize`).

Randomness. Each image gets its own parameters, drawn for the whole batch at
once from `key` (a few batched draws, cheap to compile), so the same key
gives the same views and `jax.random.fold_in(key, step)` re-draws a resumed
step exactly. Choosing among ops is `lax.switch` on a
per-image index; under `vmap` XLA evaluates every branch and selects, which
keeps one trace and static shapes (cheap at CIFAR resolution).

Colour ops (`color_jitter`, `random_grayscale`, `rand_augment`,
`auto_augment_cifar`, `strong_augment`) need K = 3 (RGB);
`random_resized_crop` takes any K.

Left out, and why:
  Cutout           not in the strong views (PaCo cuts out in its first,
                   CIFAR10Policy view, after ToTensor); timm leaves it out
                   of RandAugment too.
  GaussianBlur     PaCo's `augmentation_sim_cifar` blurs with p = 0.5; SupCon
                   and BCL do not, and PIL's blur is a box-blur approximation
                   that a Gaussian would not reproduce.
  bicubic          timm draws bilinear or bicubic and AutoAugment shears with
                   bicubic; bilinear is used throughout.
  SVHN / ImageNet  AutoAugment policies: only CIFAR-10's is used on CIFAR-LT.

Glossary: B batch, H x W image, K channels, S output size.
"""

import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.data import _augment


def _jit(*static: str):
  """`jax.jit` with the named options static; unhashable values as tuples.

  Eager calls compile once per configuration; inside an outer `jax.jit` the
  call is inlined.
  """

  def wrap(fn):
    jitted = jax.jit(fn, static_argnames=static)

    @functools.wraps(fn)
    def call(*args, **kwargs):
      for name in static:
        try:
          hash(kwargs.get(name))
        except TypeError:
          kwargs[name] = tuple(np.asarray(kwargs[name]).tolist())
      return jitted(*args, **kwargs)

    return call

  return wrap


# ---------------------------------------------------------------------------
# Helpers on one image [H, W, K], float32 on the 0..255 scale.


def _check_rgb(images, name: str) -> jax.Array:
  images = _augment._check_images(images)  # pylint: disable=protected-access
  if images.shape[-1] != 3:
    raise ValueError(f"{name} needs RGB images [B, H, W, 3], got shape "
                     f"{images.shape}.")
  return images


def _to_float(images: jax.Array) -> jax.Array:
  return images.astype(jnp.float32)


def _to_dtype(images: jax.Array, dtype) -> jax.Array:
  images = jnp.clip(jnp.floor(images + 0.5), 0.0, 255.0)  # PIL rounds up.
  return images.astype(dtype)


def _luma(image: jax.Array) -> jax.Array:
  """PIL's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point, [H, W]."""
  rgb = image.astype(jnp.int32)
  luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 +
          0x8000) >> 16
  return luma.astype(jnp.float32)


def _blend(degenerate: jax.Array, image: jax.Array, factor) -> jax.Array:
  """PIL's `Image.blend` on 8-bit images: clip, then truncate."""
  mixed = degenerate + factor * (image - degenerate)
  return jnp.floor(jnp.clip(mixed, 0.0, 255.0))


def _lut(image: jax.Array, lut: jax.Array) -> jax.Array:
  """Applies a per-channel table lut [K, 256] to the pixels."""
  index = image.astype(jnp.int32)
  channels = jnp.arange(image.shape[-1])
  return lut[channels, index].astype(jnp.float32)


def _histogram(image: jax.Array) -> jax.Array:
  """Per-channel 256-bin histograms, int32 [K, 256]."""
  height, width, channels = image.shape
  index = image.astype(jnp.int32).reshape(height * width, channels).T
  counts = jnp.zeros((channels, 256), jnp.int32)
  rows = jnp.broadcast_to(jnp.arange(channels)[:, None], index.shape)
  return counts.at[rows, index].add(1)


def _bilinear(image: jax.Array, ys: jax.Array, xs: jax.Array) -> jax.Array:
  """Samples image at index coordinates (ys, xs), edges clamped."""
  height, width, _ = image.shape
  ys = jnp.clip(ys, 0.0, height - 1.0)
  xs = jnp.clip(xs, 0.0, width - 1.0)
  y0 = jnp.floor(ys)
  x0 = jnp.floor(xs)
  dy = (ys - y0)[..., None]
  dx = (xs - x0)[..., None]
  y0 = y0.astype(jnp.int32)
  x0 = x0.astype(jnp.int32)
  y1 = jnp.minimum(y0 + 1, height - 1)
  x1 = jnp.minimum(x0 + 1, width - 1)
  top = image[y0, x0] * (1 - dx) + image[y0, x1] * dx
  bottom = image[y1, x0] * (1 - dx) + image[y1, x1] * dx
  return top * (1 - dy) + bottom * dy


def _affine(image: jax.Array, matrix: jax.Array, *, interpolation: str,
            fill: float) -> jax.Array:
  """PIL's `Image.transform(size, AFFINE, matrix)`, output of the same size.

  Output pixel (x, y) reads the input at (a x' + b y' + c, d x' + e y' + f)
  with x' = x + 1/2, y' = y + 1/2 (pixel centres); points outside the input
  get `fill`. "nearest" takes the pixel containing the point; "bilinear"
  interpolates between pixel centres, clamped at the edges, as PIL does.
  """
  height, width, _ = image.shape
  a, b, c, d, e, f = (matrix[i] for i in range(6))
  y, x = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32) + 0.5,
                      jnp.arange(width, dtype=jnp.float32) + 0.5,
                      indexing="ij")
  xin = a * x + b * y + c
  yin = d * x + e * y + f
  inside = (xin >= 0) & (xin < width) & (yin >= 0) & (yin < height)
  if interpolation == "nearest":
    yi = jnp.clip(jnp.floor(yin), 0, height - 1).astype(jnp.int32)
    xi = jnp.clip(jnp.floor(xin), 0, width - 1).astype(jnp.int32)
    out = image[yi, xi]
  else:
    out = jnp.floor(_bilinear(image, yin - 0.5, xin - 0.5) + 0.5)
  return jnp.where(inside[..., None], out, jnp.asarray(fill, jnp.float32))


# ---------------------------------------------------------------------------
# PIL ops on one image: op(image, arg) -> image, arg a traced scalar.


def _identity(image, arg):
  del arg
  return image


def _invert(image, arg):
  del arg
  return 255.0 - image


def _solarize(image, threshold):
  """ImageOps.solarize: pixels >= threshold are inverted."""
  return jnp.where(image < threshold, image, 255.0 - image)


def _solarize_add(image, add):
  """timm's SolarizeAdd: adds `add` (capped at 255) to pixels below 128."""
  return jnp.where(image < 128, jnp.minimum(image + add, 255.0), image)


def _posterize(image, bits):
  """ImageOps.posterize: keeps the `bits` high bits (8 or more: unchanged)."""
  bits = jnp.clip(bits, 0, 8).astype(jnp.int32)
  mask = (0xFF << (8 - bits)) & 0xFF
  return (image.astype(jnp.int32) & mask).astype(jnp.float32)


def _auto_contrast(image, arg):
  """ImageOps.autocontrast (cutoff 0): stretches each channel to [0, 255]."""
  del arg
  low = jnp.min(image, axis=(0, 1)).astype(jnp.int32)[:, None]
  high = jnp.max(image, axis=(0, 1)).astype(jnp.int32)[:, None]
  levels = jnp.arange(256, dtype=jnp.int32)[None]
  # trunc((ix - lo) * 255 / (hi - lo)) in exact integer arithmetic.
  stretched = jnp.clip(jnp.maximum(levels - low, 0) * 255 //
                       jnp.maximum(high - low, 1), 0, 255)
  lut = jnp.where(high > low, stretched, levels)
  return _lut(image, lut)


def _equalize(image, arg):
  """ImageOps.equalize: per-channel histogram equalisation (256 bins)."""
  del arg
  histogram = _histogram(image)
  levels = jnp.arange(256, dtype=jnp.int32)
  nonzero = histogram > 0
  last = 255 - jnp.argmax(nonzero[:, ::-1], axis=1)  # Highest used level.
  last_count = jnp.take_along_axis(histogram, last[:, None], axis=1)[:, 0]
  step = (jnp.sum(histogram, axis=1) - last_count) // 255
  safe_step = jnp.maximum(step, 1)
  below = jnp.cumsum(histogram, axis=1) - histogram  # Pixels under a level.
  lut = ((safe_step // 2)[:, None] + below) // safe_step[:, None]
  keep = (jnp.sum(nonzero, axis=1) <= 1) | (step == 0)
  lut = jnp.where(keep[:, None], levels[None], jnp.minimum(lut, 255))
  return _lut(image, lut)


def _brightness(image, factor):
  """ImageEnhance.Brightness: blends with black."""
  return _blend(jnp.zeros_like(image), image, factor)


def _color(image, factor):
  """ImageEnhance.Color (torchvision saturation): blends with grayscale."""
  return _blend(_luma(image)[..., None], image, factor)


def _contrast(image, factor):
  """ImageEnhance.Contrast: blends with the rounded mean of the luma."""
  luma = _luma(image).astype(jnp.int32)
  count = luma.size
  mean = (2 * jnp.sum(luma) + count) // (2 * count)  # int(mean + 0.5).
  return _blend(mean.astype(jnp.float32), image, factor)


def _sharpness(image, factor):
  """ImageEnhance.Sharpness: blends with PIL's SMOOTH filter (edges kept)."""
  height, width, _ = image.shape
  kernel = jnp.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]])
  smooth = sum(kernel[i, j] * image[i:height - 2 + i, j:width - 2 + j]
               for i in range(3) for j in range(3))
  smooth = jnp.floor(jnp.clip(smooth / 13.0, 0.0, 255.0) + 0.5)
  degenerate = image.at[1:-1, 1:-1].set(smooth)
  return _blend(degenerate, image, factor)


def _hue(image, shift):
  """torchvision's `adjust_hue` on PIL images: PIL HSV, uint8 hue shift.

  PIL's 8-bit RGB -> HSV -> RGB round trip (Convert.c) with the hue channel
  moved by `shift` (an integer, int8(hue_factor * 255)) modulo 256. PIL
  computes the hue partly in double precision; in float32 about 0.2% of
  pixels get a hue one step (1.4 degrees) away from PIL's.
  """
  rgb = image
  r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
  maxc = jnp.max(rgb, axis=-1)
  minc = jnp.min(rgb, axis=-1)
  spread = maxc - minc
  gray = spread == 0
  safe = jnp.where(gray, 1.0, spread)
  sat = spread / jnp.maximum(maxc, 1.0)
  rc, gc, bc = ((maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe)
  h = jnp.where(r == maxc, bc - gc,
                jnp.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc))
  # PIL: fmod(h / 6 + 1, 1) in double; (h + 6) / 6 rounds once in float32.
  h = jnp.where(h < 0, (h + 6.0) / 6.0, h / 6.0)
  uh = jnp.where(gray, 0, jnp.clip(jnp.trunc(h * 255.0), 0, 255))
  us = jnp.where(gray, 0, jnp.clip(jnp.trunc(sat * 255.0), 0, 255))
  uh = jnp.mod(uh + shift, 256.0)
  # HSV -> RGB.
  sector = jnp.floor(uh * 6.0 / 255.0)
  frac = uh * 6.0 / 255.0 - sector
  fs = us / 255.0
  v = maxc
  round_ = lambda x: jnp.clip(jnp.floor(x + 0.5), 0, 255)  # C's round.
  p = round_(v * (1.0 - fs))
  q = round_(v * (1.0 - fs * frac))
  t = round_(v * (1.0 - fs * (1.0 - frac)))
  sector = jnp.mod(sector, 6).astype(jnp.int32)
  choices = jnp.stack([
      jnp.stack([v, t, p], -1), jnp.stack([q, v, p], -1),
      jnp.stack([p, v, t], -1), jnp.stack([p, q, v], -1),
      jnp.stack([t, p, v], -1), jnp.stack([v, p, q], -1)])
  out = jnp.take_along_axis(choices, sector[None, ..., None], axis=0)[0]
  return jnp.where((us == 0)[..., None], v[..., None], out)


def _rotate(image, degrees, *, interpolation, fill):
  """Image.rotate: counter-clockwise about the centre, same size."""
  height, width, _ = image.shape
  angle = -jnp.deg2rad(degrees)
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  cx, cy = width / 2.0, height / 2.0
  matrix = jnp.stack([cos, sin, cx - cos * cx - sin * cy,
                      -sin, cos, cy + sin * cx - cos * cy])
  return _affine(image, matrix, interpolation=interpolation, fill=fill)


def _one_entry(image, arg, *, slot, interpolation, fill):
  """An affine map (1, 0, 0, 0, 1, 0) with entry `slot` set to `arg`.

  Slot 1: ShearX, 3: ShearY (factors); 2: TranslateX, 5: TranslateY (pixels).
  """
  matrix = jnp.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).at[slot].set(arg)
  return _affine(image, matrix, interpolation=interpolation, fill=fill)


_COLOR_OPS = {
    "Identity": _identity,
    "AutoContrast": _auto_contrast,
    "Equalize": _equalize,
    "Invert": _invert,
    "Solarize": _solarize,
    "SolarizeAdd": _solarize_add,
    "Posterize": _posterize,
    "Color": _color,
    "Contrast": _contrast,
    "Brightness": _brightness,
    "Sharpness": _sharpness,
}
_GEOMETRIC_OPS = {
    "Rotate": _rotate,
    "ShearX": functools.partial(_one_entry, slot=1),
    "ShearY": functools.partial(_one_entry, slot=3),
    "TranslateX": functools.partial(_one_entry, slot=2),
    "TranslateY": functools.partial(_one_entry, slot=5),
}
OP_NAMES = tuple(sorted(_COLOR_OPS) + sorted(_GEOMETRIC_OPS))


def _make_op(name: str, *, interpolation: str, fill: float):
  if interpolation not in ("nearest", "bilinear"):
    raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got "
                     f"{interpolation!r}.")
  if name in _COLOR_OPS:
    return _COLOR_OPS[name]
  if name in _GEOMETRIC_OPS:
    return functools.partial(_GEOMETRIC_OPS[name],
                             interpolation=interpolation, fill=fill)
  raise ValueError(f"Unknown op {name!r}; known ops: {OP_NAMES}.")


@_jit("name", "interpolation", "fill")
def apply_op(images: jax.typing.ArrayLike, name: str, arg: float, *,
             interpolation: str = "bilinear", fill: float = 128.0
             ) -> jax.Array:
  """Applies one PIL op with the PIL argument `arg` to every image.

  `arg` is the op's own argument, not a magnitude level: the threshold of
  Solarize, the bits of Posterize, the enhance factor of Color / Contrast /
  Brightness / Sharpness (1 = unchanged), degrees for Rotate, the shear
  factor, translation in pixels (the input is read `arg` pixels to the
  right / below: the content moves left / up), the amount of SolarizeAdd.
  Identity, AutoContrast, Equalize and Invert ignore it.

  Args:
    images: [B, H, W, 3] in [0, 255] (uint8 or float).
    name: one of `OP_NAMES`.
    arg: the op's argument (a Python number or a traced scalar).
    interpolation: "nearest" or "bilinear" for the geometric ops.
    fill: value of pixels that come from outside the image (a number or 3
      per-channel values).

  Returns:
    [B, H, W, 3] in the dtype of `images`.
  """
  images = _check_rgb(images, "apply_op")
  op = _make_op(name, interpolation=interpolation, fill=fill)
  arg = jnp.asarray(arg, jnp.float32)
  out = jax.vmap(lambda image: op(image, arg))(_to_float(images))
  return _to_dtype(out, images.dtype)


# ---------------------------------------------------------------------------
# Random resized crop.


def _crop_params(key, batch: int, height: int, width: int, scale, ratio,
                 tries: int):
  """torchvision's RandomResizedCrop.get_params, `tries` vectorised.

  Returns int32 [B] arrays (top, left, h, w).
  """
  key_try, key_place = jax.random.split(key)
  draws = jax.random.uniform(key_try, (batch, tries, 2))
  area = height * width
  target = area * (scale[0] + (scale[1] - scale[0]) * draws[..., 0])
  log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
  aspect = jnp.exp(log_ratio[0] +
                   (log_ratio[1] - log_ratio[0]) * draws[..., 1])
  w = jnp.round(jnp.sqrt(target * aspect)).astype(jnp.int32)
  h = jnp.round(jnp.sqrt(target / aspect)).astype(jnp.int32)
  ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
  first = jnp.argmax(ok, axis=1)[:, None]  # First fit, as torchvision's loop.
  h = jnp.take_along_axis(h, first, axis=1)[:, 0]
  w = jnp.take_along_axis(w, first, axis=1)[:, 0]
  # Fallback: the centre crop torchvision takes after its tries.
  in_ratio = width / height
  if in_ratio < min(ratio):
    fall_w, fall_h = width, int(round(width / min(ratio)))
  elif in_ratio > max(ratio):
    fall_w, fall_h = int(round(height * max(ratio))), height
  else:
    fall_w, fall_h = width, height
  found = jnp.any(ok, axis=1)
  h = jnp.where(found, h, fall_h)
  w = jnp.where(found, w, fall_w)
  place = jax.random.uniform(key_place, (batch, 2))
  # Uniform over the (H - h + 1) x (W - w + 1) placements.
  top = jnp.minimum(jnp.floor(place[:, 0] * (height - h + 1)), height - h)
  left = jnp.minimum(jnp.floor(place[:, 1] * (width - w + 1)), width - w)
  top = jnp.where(found, top.astype(jnp.int32), (height - fall_h) // 2)
  left = jnp.where(found, left.astype(jnp.int32), (width - fall_w) // 2)
  return top, left, h, w


@_jit("scale", "ratio", "size", "tries")
def random_resized_crop(images: jax.typing.ArrayLike, key: jax.Array, *,
                        scale: Sequence[float] = (0.08, 1.0),
                        ratio: Sequence[float] = (3 / 4, 4 / 3),
                        size: int | Sequence[int] | None = None,
                        tries: int = 10) -> jax.Array:
  """Crops a random area and aspect ratio, resizes it bilinearly.

  torchvision's `RandomResizedCrop`: each image draws an area fraction
  uniform in `scale` and an aspect ratio w / h log-uniform in `ratio`,
  w = round(sqrt(A r)), h = round(sqrt(A / r)); the first of `tries` draws
  that fits is placed uniformly at random, and if none fits the centre crop
  with the aspect ratio clamped to `ratio` is taken. The crop is resized to
  `size` by bilinear interpolation between pixel centres with the crop's
  edge pixels repeated (PIL's bilinear resize when enlarging, which is every
  case with `size` >= the crop; no antialiasing when shrinking).

  Args:
    images: [B, H, W, K] in [0, 255] (uint8 or float); any K.
    key: PRNG key.
    scale: (min, max) fraction of the image area.
    ratio: (min, max) aspect ratio w / h.
    size: output S or (S_h, S_w); None keeps H x W.
    tries: draws before the centre-crop fallback (torchvision: 10).

  Returns:
    [B, S_h, S_w, K] in the dtype of `images`.

  Example:
    >>> view = random_resized_crop(images, key, scale=(0.2, 1.0))
  """
  images = _augment._check_images(images)  # pylint: disable=protected-access
  if not 0 < scale[0] <= scale[1]:
    raise ValueError(f"scale must be 0 < min <= max, got {scale}.")
  if not 0 < ratio[0] <= ratio[1]:
    raise ValueError(f"ratio must be 0 < min <= max, got {ratio}.")
  batch, height, width, _ = images.shape
  if size is None:
    size = (height, width)
  elif isinstance(size, int):
    size = (size, size)
  out_h, out_w = size

  def one(image, top, left, h, w):
    ys = (top + (jnp.arange(out_h) + 0.5) * h / out_h - 0.5).astype(
        jnp.float32)
    xs = (left + (jnp.arange(out_w) + 0.5) * w / out_w - 0.5).astype(
        jnp.float32)
    ys = jnp.clip(ys, top, top + h - 1)
    xs = jnp.clip(xs, left, left + w - 1)
    grid_y, grid_x = jnp.meshgrid(ys, xs, indexing="ij")
    return _bilinear(image, grid_y, grid_x)

  params = _crop_params(key, batch, height, width, scale, ratio, tries)
  out = jax.vmap(one)(_to_float(images), *params)
  return _to_dtype(out, images.dtype)


# ---------------------------------------------------------------------------
# Colour jitter and grayscale.


@_jit("brightness", "contrast", "saturation", "hue")
def color_jitter(images: jax.typing.ArrayLike, key: jax.Array, *,
                 brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4, hue: float = 0.1,
                 p: float = 0.8) -> jax.Array:
  """torchvision's `RandomApply([ColorJitter(b, c, s, h)], p)` on PIL images.

  Each image, with probability p, draws factors uniform in
  [max(0, 1 - b), 1 + b] (likewise c, s) and a hue shift uniform in
  [-h, h], and applies the four ops in its own random order (a permutation
  per image, run through `lax.switch`); as in torchvision, an op given
  strength 0 is left out (the PIL HSV round trip of hue is lossy):
    brightness  ImageEnhance.Brightness: blend with black,
    contrast    ImageEnhance.Contrast: blend with the mean luma (rounded),
    saturation  ImageEnhance.Color: blend with the luma image,
    hue         PIL HSV, hue channel + int8(h * 255) modulo 256.
  Blends are x' = clip(g + f (x - g), 0, 255), truncated as in PIL.

  Args:
    images: [B, H, W, 3] in [0, 255] (uint8 or float).
    key: PRNG key.
    brightness: b >= 0.
    contrast: c >= 0.
    saturation: s >= 0.
    hue: h in [0, 0.5].
    p: probability of jittering an image.

  Returns:
    [B, H, W, 3] in the dtype of `images`.
  """
  images = _check_rgb(images, "color_jitter")
  for name, value in (("brightness", brightness), ("contrast", contrast),
                      ("saturation", saturation)):
    if value < 0:
      raise ValueError(f"{name} must be >= 0, got {value}.")
  if not 0 <= hue <= 0.5:
    raise ValueError(f"hue must be in [0, 0.5], got {hue}.")
  batch = images.shape[0]
  # As torchvision, an op whose range is the single neutral value is skipped.
  strengths = (brightness, contrast, saturation, hue)
  active = [i for i, value in enumerate(strengths) if value > 0]
  if not active:
    return images
  branches = [(_brightness, _contrast, _color, _hue)[i] for i in active]

  key_draw, key_order = jax.random.split(key)
  draws = jax.random.uniform(key_draw, (batch, 5))
  args = [max(0.0, 1.0 - v) + (1.0 + v - max(0.0, 1.0 - v)) * draws[:, i]
          for i, v in enumerate(strengths[:3])]
  hue_factor = hue * (2.0 * draws[:, 3] - 1.0)
  args.append(jnp.trunc(hue_factor * 255.0))  # np.int8(hue_factor * 255).
  args = jnp.stack([args[i] for i in active], axis=1)
  # A uniform random permutation per image: argsort of i.i.d. uniforms.
  orders = jnp.argsort(
      jax.random.uniform(key_order, (batch, len(active))), axis=1)
  applies = draws[:, 4] < p

  def one(image, args, order, apply):
    def step(i, out):
      return jax.lax.switch(order[i], branches, out, args[order[i]])

    out = jax.lax.fori_loop(0, len(active), step, image)
    return jnp.where(apply, out, image)

  out = jax.vmap(one)(_to_float(images), args, orders, applies)
  return _to_dtype(out, images.dtype)


@_jit()
def random_grayscale(images: jax.typing.ArrayLike, key: jax.Array, *,
                     p: float = 0.2) -> jax.Array:
  """torchvision's `RandomGrayscale(p)`: luma in all three channels.

  L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, PIL's fixed-point form of
  the ITU-R 601-2 luma 0.299 R + 0.587 G + 0.114 B, rounded.

  Args:
    images: [B, H, W, 3] in [0, 255] (uint8 or float).
    key: PRNG key.
    p: probability of graying an image.

  Returns:
    [B, H, W, 3] in the dtype of `images`.
  """
  images = _check_rgb(images, "random_grayscale")
  gray = jax.vmap(_luma)(_to_float(images))[..., None]
  chosen = jax.random.bernoulli(key, p, (images.shape[0],))
  out = jnp.where(chosen[:, None, None, None],
                  jnp.broadcast_to(gray, images.shape), _to_float(images))
  return _to_dtype(out, images.dtype)


# ---------------------------------------------------------------------------
# RandAugment and AutoAugment.

_MAX_LEVEL = 10.0

# timm's `_RAND_TRANSFORMS` (PaCo's and BCL's randaugment.py), in order.
RAND_AUGMENT_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate",
                    "Posterize", "Solarize", "SolarizeAdd", "Color",
                    "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY",
                    "TranslateX", "TranslateY")


def _rand_level_to_arg(name: str, height: int, width: int):
  """timm's level -> argument: (base, span, integer, signed)."""
  table = {
      "Rotate": (0.0, 30.0, False, True),
      "Posterize": (0.0, 4.0, True, False),  # timm's PosterizeTpu.
      "Solarize": (0.0, 256.0, True, False),
      "SolarizeAdd": (0.0, 110.0, True, False),
      "Color": (0.1, 1.8, False, False),
      "Contrast": (0.1, 1.8, False, False),
      "Brightness": (0.1, 1.8, False, False),
      "Sharpness": (0.1, 1.8, False, False),
      "ShearX": (0.0, 0.3, False, True),
      "ShearY": (0.0, 0.3, False, True),
      "TranslateX": (0.0, 0.45 * width, False, True),  # TranslateXRel.
      "TranslateY": (0.0, 0.45 * height, False, True),  # TranslateYRel.
  }
  return table.get(name, (0.0, 0.0, False, False))


@_jit("num_ops", "ops", "interpolation", "fill")
def rand_augment(images: jax.typing.ArrayLike, key: jax.Array, *,
                 num_ops: int = 2, magnitude: float = 10.0,
                 magnitude_std: float = 0.5, prob: float = 0.5,
                 ops: Sequence[str] = RAND_AUGMENT_OPS,
                 interpolation: str = "bilinear",
                 fill: float = 128.0) -> jax.Array:
  """RandAugment as in timm's `rand_augment_transform("rand-n2-m10-mstd0.5")`.

  The second view of PaCo and BCL. Each image applies `num_ops` ops drawn
  uniformly with replacement from `ops`; each is applied with probability
  `prob`, at a level m ~ N(magnitude, magnitude_std^2) clipped to [0, 10],
  mapped to the op's argument as in timm: Rotate +-30 m/10 degrees, Shear
  +-0.3 m/10, Translate +-0.45 m/10 of the side, Posterize floor(4 m/10)
  bits, Solarize threshold floor(256 m/10), SolarizeAdd floor(110 m/10),
  enhance factors 0.1 + 1.8 m/10 (the sign of the geometric ones is drawn
  per op with probability 1/2).

  Args:
    images: [B, H, W, 3] in [0, 255] (uint8 or float).
    key: PRNG key.
    num_ops: ops per image (timm's n).
    magnitude: mean level in [0, 10] (timm's m).
    magnitude_std: standard deviation of the level (timm's mstd).
    prob: probability of applying each drawn op.
    ops: names from `OP_NAMES` to draw from.
    interpolation: geometric ops' resampling, "bilinear" or "nearest" (timm
      draws bilinear or bicubic).
    fill: value (or 3 per-channel values) of pixels that come from outside
      the image (timm: 128; BCL: the rounded ImageNet mean via `img_mean`).

  Returns:
    [B, H, W, 3] in the dtype of `images`.

  References:
    Cubuk et al., RandAugment, arXiv 1909.13719.
  """
  images = _check_rgb(images, "rand_augment")
  if not ops:
    raise ValueError("ops must name at least one op.")
  batch, height, width, _ = images.shape
  branches = [_make_op(name, interpolation=interpolation, fill=fill)
              for name in ops]
  table = jnp.array([_rand_level_to_arg(name, height, width) for name in ops],
                    jnp.float32)

  key_draw, key_level = jax.random.split(key)
  draws = jax.random.uniform(key_draw, (batch, num_ops, 3))
  indices = jnp.minimum(jnp.floor(draws[..., 0] * len(ops)),
                        len(ops) - 1).astype(jnp.int32)
  applies = draws[..., 1] < prob
  signs = jnp.where(draws[..., 2] < 0.5, -1.0, 1.0)
  levels = magnitude + magnitude_std * jax.random.normal(key_level,
                                                         (batch, num_ops))
  levels = jnp.clip(levels, 0.0, _MAX_LEVEL) / _MAX_LEVEL
  base, span, integer, signed = (table[indices, i] for i in range(4))
  args = base + span * levels
  args = jnp.where(integer > 0, jnp.floor(args), args)
  args = jnp.where(signed > 0, signs * args, args)

  def one(image, indices, args, applies):
    def layer(i, image):
      out = jax.lax.switch(indices[i], branches, image, args[i])
      return jnp.where(applies[i], out, image)

    return jax.lax.fori_loop(0, num_ops, layer, image)

  out = jax.vmap(one)(_to_float(images), indices, args, applies)
  return _to_dtype(out, images.dtype)


# AutoAugment's CIFAR-10 policy (CIFAR10Policy in PaCo's and BCL's
# autoaug.py): (p1, op1, level1, p2, op2, level2).
CIFAR10_POLICY = (
    (0.1, "Invert", 7, 0.2, "Contrast", 6),
    (0.7, "Rotate", 2, 0.3, "TranslateX", 9),
    (0.8, "Sharpness", 1, 0.9, "Sharpness", 3),
    (0.5, "ShearY", 8, 0.7, "TranslateY", 9),
    (0.5, "AutoContrast", 8, 0.9, "Equalize", 2),
    (0.2, "ShearY", 7, 0.3, "Posterize", 7),
    (0.4, "Color", 3, 0.6, "Brightness", 7),
    (0.3, "Sharpness", 9, 0.7, "Brightness", 9),
    (0.6, "Equalize", 5, 0.5, "Equalize", 1),
    (0.6, "Contrast", 7, 0.6, "Sharpness", 5),
    (0.7, "Color", 7, 0.5, "TranslateX", 8),
    (0.3, "Equalize", 7, 0.4, "AutoContrast", 8),
    (0.4, "TranslateY", 3, 0.2, "Sharpness", 6),
    (0.9, "Brightness", 6, 0.2, "Color", 8),
    (0.5, "Solarize", 2, 0.0, "Invert", 3),
    (0.2, "Equalize", 0, 0.6, "AutoContrast", 0),
    (0.2, "Equalize", 8, 0.6, "Equalize", 4),
    (0.9, "Color", 9, 0.6, "Equalize", 6),
    (0.8, "AutoContrast", 4, 0.2, "Solarize", 8),
    (0.1, "Brightness", 3, 0.7, "Color", 0),
    (0.4, "Solarize", 5, 0.9, "AutoContrast", 3),
    (0.9, "TranslateY", 9, 0.7, "TranslateY", 9),
    (0.9, "AutoContrast", 2, 0.8, "Solarize", 3),
    (0.8, "Equalize", 8, 0.1, "Invert", 3),
    (0.7, "TranslateY", 9, 0.9, "AutoContrast", 1),
)


def _linspace(start: float, stop: float, level: int) -> float:
  return start + (stop - start) * level / 9.0  # np.linspace(start, stop, 10)


def _auto_level_to_arg(name: str, level: int, height: int, width: int):
  """CIFAR10Policy's ranges: (offset, value, signed); arg = offset +- value."""
  if name in ("ShearX", "ShearY"):
    return 0.0, _linspace(0.0, 0.3, level), True
  if name == "TranslateX":
    return 0.0, _linspace(0.0, 150 / 331, level) * width, True
  if name == "TranslateY":
    return 0.0, _linspace(0.0, 150 / 331, level) * height, True
  if name == "Rotate":
    return 0.0, _linspace(0.0, 30.0, level), False  # Never negated there.
  if name in ("Color", "Contrast", "Sharpness", "Brightness"):
    return 1.0, _linspace(0.0, 0.9, level), True
  if name == "Posterize":
    return float(round(_linspace(8.0, 4.0, level))), 0.0, False
  if name == "Solarize":
    return _linspace(256.0, 0.0, level), 0.0, False
  return 0.0, 0.0, False


@_jit("fill")
def auto_augment_cifar(images: jax.typing.ArrayLike, key: jax.Array, *,
                       fill: float = 128.0) -> jax.Array:
  """AutoAugment's CIFAR-10 policy (`CIFAR10Policy` of PaCo and BCL).

  Each image draws one of the 25 sub-policies of `CIFAR10_POLICY` and applies
  its two ops in turn, each with its probability, at the argument its level
  indexes in CIFAR10Policy's ranges (np.linspace(..., 10)): Shear 0..0.3,
  Translate 0..150/331 of the side, Rotate 0..30 degrees, Color / Contrast /
  Sharpness / Brightness 1 +- 0..0.9, Posterize 8..4 bits, Solarize
  threshold 256..0. Shear, Translate and the enhance ops take a random sign.
  Resampling as there: Translate and Rotate nearest, Shear bilinear (PIL
  bicubic there).

  Args:
    images: [B, H, W, 3] in [0, 255] (uint8 or float).
    key: PRNG key.
    fill: value of pixels that come from outside the image (128 there).

  Returns:
    [B, H, W, 3] in the dtype of `images`.

  References:
    Cubuk et al., AutoAugment, arXiv 1805.09501.
  """
  images = _check_rgb(images, "auto_augment_cifar")
  batch, height, width, _ = images.shape
  names = sorted({row[1] for row in CIFAR10_POLICY} |
                 {row[4] for row in CIFAR10_POLICY})
  branches = []
  for name in names:
    interpolation = "bilinear" if name.startswith("Shear") else "nearest"
    branches.append(_make_op(name, interpolation=interpolation, fill=fill))
  rows = []
  for p1, op1, level1, p2, op2, level2 in CIFAR10_POLICY:
    for prob, name, level in ((p1, op1, level1), (p2, op2, level2)):
      offset, value, signed = _auto_level_to_arg(name, level, height, width)
      rows.append((names.index(name), prob, offset, value, float(signed)))
  table = jnp.array(rows, jnp.float32).reshape(len(CIFAR10_POLICY), 2, 5)

  draws = jax.random.uniform(key, (batch, 5))
  chosen = jnp.minimum(jnp.floor(draws[:, 0] * len(CIFAR10_POLICY)),
                       len(CIFAR10_POLICY) - 1).astype(jnp.int32)
  index, prob, offset, value, signed = (table[chosen, :, j] for j in range(5))
  signs = jnp.where(draws[:, 1:3] < 0.5, -1.0, 1.0)
  args = offset + value * jnp.where(signed > 0, signs, 1.0)
  applies = draws[:, 3:5] < prob
  indices = index.astype(jnp.int32)

  def one(image, indices, args, applies):
    def step(i, image):
      out = jax.lax.switch(indices[i], branches, image, args[i])
      return jnp.where(applies[i], out, image)

    return jax.lax.fori_loop(0, 2, step, image)

  out = jax.vmap(one)(_to_float(images), indices, args, applies)
  return _to_dtype(out, images.dtype)


# ---------------------------------------------------------------------------
# The composite second view.

POLICIES = ("autoaugment", "randaugment", "simclr")
_DEFAULT_SCALE = {"simclr": (0.2, 1.0), "randaugment": (0.08, 1.0),
                  "autoaugment": (0.08, 1.0)}


@_jit("mean", "std", "policy", "scale", "ratio", "jitter", "num_ops", "fill",
      "dtype", "flip")
def strong_augment(images: jax.typing.ArrayLike, key: jax.Array, *, mean,
                   std, policy: str = "simclr", flip: bool = True,
                   scale: Sequence[float] | None = None,
                   ratio: Sequence[float] = (3 / 4, 4 / 3),
                   jitter: Sequence[float] = (0.4, 0.4, 0.4, 0.1),
                   jitter_p: float = 0.8, grayscale_p: float = 0.2,
                   num_ops: int = 2, magnitude: float = 10.0,
                   magnitude_std: float = 0.5, fill: float = 128.0,
                   dtype=jnp.float32) -> jax.Array:
  """The contrastive second view: crop, flip, jitter, gray (+ a policy).

  random_resized_crop(scale, ratio) -> horizontal flip (p = 1/2) ->
  color_jitter(*jitter, p=jitter_p) -> random_grayscale(grayscale_p) ->
  (policy "randaugment": rand_augment(num_ops, magnitude, magnitude_std);
  "autoaugment": auto_augment_cifar; "simclr": nothing) -> normalize.

    policy        scale default  as in
    simclr        (0.2, 1)       SupCon TwoCropTransform, PaCo's
                                 augmentation_sim_cifar (less its blur)
    randaugment   (0.08, 1)      BCL / PaCo augmentation_randnclsstack
    autoaugment   (0.08, 1)      BCL's CIFAR view with CIFAR10Policy

  Args:
    images: uint8 [B, H, W, 3] (or floats in [0, 255]).
    key: PRNG key.
    mean: 3 per-channel means of x / 255 (e.g. `CIFAR_MEAN`).
    std: 3 per-channel standard deviations of x / 255.
    policy: one of `POLICIES`.
    flip: the random horizontal flip (False for digits or text, whose
      mirror image is another class or none).
    scale: crop area range; None takes the policy's default above.
    ratio: crop aspect-ratio range.
    jitter: (brightness, contrast, saturation, hue) of `color_jitter`.
    jitter_p: probability of the colour jitter.
    grayscale_p: probability of graying.
    num_ops: RandAugment's ops per image.
    magnitude: RandAugment's mean level in [0, 10].
    magnitude_std: RandAugment's level noise.
    fill: value of pixels the geometric policy ops bring in from outside.
    dtype: output dtype.

  Returns:
    float [B, H, W, 3] in `dtype`, normalised as by `ltjax.data.augment`.

  Example:
    >>> views = jax.jit(functools.partial(
    ...     strong_augment, mean=CIFAR_MEAN, std=CIFAR_STD,
    ...     policy="randaugment"))(images, jax.random.fold_in(key, step))

  References:
    SupCon arXiv 2004.11362, PaCo arXiv 2107.12028, BCL arXiv 2207.09052,
    SimCLR arXiv 2002.05709.
  """
  if policy not in POLICIES:
    raise ValueError(f"Unknown policy {policy!r}; known policies: "
                     f"{POLICIES}.")
  images = _check_rgb(images, "strong_augment")
  if scale is None:
    scale = _DEFAULT_SCALE[policy]
  k_crop, k_flip, k_jitter, k_gray, k_policy = jax.random.split(key, 5)
  brightness, contrast, saturation, hue = jitter
  images = random_resized_crop(images, k_crop, scale=scale, ratio=ratio)
  if flip:
    images = _augment.random_crop_flip(images, k_flip, padding=0)
  images = color_jitter(images, k_jitter, brightness=brightness,
                        contrast=contrast, saturation=saturation, hue=hue,
                        p=jitter_p)
  images = random_grayscale(images, k_gray, p=grayscale_p)
  if policy == "randaugment":
    images = rand_augment(images, k_policy, num_ops=num_ops,
                          magnitude=magnitude, magnitude_std=magnitude_std,
                          fill=fill)
  elif policy == "autoaugment":
    images = auto_augment_cifar(images, k_policy, fill=fill)
  return _augment.normalize(images, mean=mean, std=std, dtype=dtype)
