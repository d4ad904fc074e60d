"""Tests for the strong augmentation (ltjax.data._strong_augment).

Expected values come from PIL (Pillow's ImageOps / ImageEnhance / Image
methods, which the PyTorch originals run) or from NumPy formulas written out
here, never from the code under test.

Tolerances, and why:
- exact: Solarize, Posterize, Invert, Equalize, the luma (PIL's own
  fixed-point formula), and integer translations;
- 1 level: blends (Brightness, Contrast, Color, Sharpness, the brightness
  jitter), since PIL computes `in1 + alpha * (in2 - in1)` in C floats and
  truncates, so a product that is a whole number may fall on either side
  under another evaluation order; AutoContrast, since PIL evaluates
  `ix * scale + offset` in double and truncates (254.99999999999997 -> 254
  where the exact stretch is 255; the code uses exact integers); bilinear
  resampling (Shear, the resized crop), rounded at .5 the same way;
- Rotate (nearest): under 2% of pixels, those whose source point lies on a
  pixel edge, where PIL's rounded matrix may pick the neighbour;
- hue: under 1% of values off by more than 1 level (at most 6), since PIL
  converts RGB -> HSV partly in double precision and a hue one step of 256
  away moves R, G, B by a few levels.
"""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import chex
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageOps

from ltjax import data
from ltjax.data import _strong_augment as strong


def smooth_images(seed, batch=6, size=16):
  """uint8 [B, size, size, 3]: smooth patterns with a per-image range."""
  rng = np.random.default_rng(seed)
  yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
  out = []
  for _ in range(batch):
    low, high = sorted(rng.integers(0, 256, 2))
    high = max(high, low + 30)
    phase = rng.uniform(0, 6, 3)
    wave = np.stack([np.sin(xx / 3 + yy / 5 + p) for p in phase], -1)
    noise = rng.uniform(-0.3, 0.3, wave.shape)
    unit = (wave + noise + 1.3) / 2.6
    out.append(np.clip(low + unit * (high - low), 0, 255))
  return np.round(np.stack(out)).astype(np.uint8)


def random_images(seed, batch=6, size=16):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)


def pil_map(images, fn):
  return np.stack([np.asarray(fn(Image.fromarray(image)))
                   for image in images])


def luma(images):
  """ITU-R 601-2 luma, rounded, as a NumPy formula."""
  rgb = images.astype(np.float64)
  return np.round(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] +
                  0.114 * rgb[..., 2])


class PilOpsTest(parameterized.TestCase):

  @parameterized.parameters(
      ("Solarize", 100, lambda im: ImageOps.solarize(im, 100), 0),
      ("Solarize", 256, lambda im: ImageOps.solarize(im, 256), 0),
      ("Posterize", 3, lambda im: ImageOps.posterize(im, 3), 0),
      ("Posterize", 1, lambda im: ImageOps.posterize(im, 1), 0),
      ("Invert", 0, ImageOps.invert, 0),
      ("AutoContrast", 0, ImageOps.autocontrast, 1),
      ("Equalize", 0, ImageOps.equalize, 0),
      ("Brightness", 0.3, lambda im: ImageEnhance.Brightness(im).enhance(0.3),
       1),
      ("Brightness", 1.7, lambda im: ImageEnhance.Brightness(im).enhance(1.7),
       1),
      ("Contrast", 0.4, lambda im: ImageEnhance.Contrast(im).enhance(0.4), 1),
      ("Contrast", 1.8, lambda im: ImageEnhance.Contrast(im).enhance(1.8), 1),
      ("Color", 0.2, lambda im: ImageEnhance.Color(im).enhance(0.2), 1),
      ("Color", 1.9, lambda im: ImageEnhance.Color(im).enhance(1.9), 1),
      ("Sharpness", 0.1, lambda im: ImageEnhance.Sharpness(im).enhance(0.1),
       1),
      ("Sharpness", 1.9, lambda im: ImageEnhance.Sharpness(im).enhance(1.9),
       1),
  )
  def test_matches_pil(self, name, arg, pil_fn, atol):
    for images in (smooth_images(0), random_images(1)):
      got = np.asarray(data.apply_op(images, name, arg)).astype(int)
      expected = pil_map(images, pil_fn).astype(int)
      np.testing.assert_allclose(got, expected, atol=atol, rtol=0,
                                 err_msg=name)

  def test_posterize_zero_bits_is_black(self):
    # timm's PosterizeTpu reaches 0 bits; old PIL gave black (Pillow 13
    # refuses 0), so this is the NumPy formula x & 0.
    np.testing.assert_array_equal(
        data.apply_op(random_images(2), "Posterize", 0), 0)

  def test_solarize_add_formula(self):
    images = random_images(2)
    got = data.apply_op(images, "SolarizeAdd", 60)
    x = images.astype(int)
    np.testing.assert_array_equal(
        got, np.where(x < 128, np.minimum(x + 60, 255), x))

  def test_hue_matches_torchvision_pil_path(self):
    # torchvision's adjust_hue on a PIL image, written out with PIL + NumPy.
    images = np.concatenate([smooth_images(3), random_images(4)])
    for hue_factor in (-0.1, 0.07, 0.5):
      shift = np.int8(hue_factor * 255)
      expected = []
      for image in images:
        h, s, v = Image.fromarray(image).convert("HSV").split()
        h = ((np.asarray(h).astype(int) + int(shift)) % 256).astype(np.uint8)
        merged = Image.merge("HSV", (Image.fromarray(h, "L"), s, v))
        expected.append(np.asarray(merged.convert("RGB")))
      got = jax.vmap(strong._hue, in_axes=(0, None))(
          jnp.asarray(images, jnp.float32), float(shift))
      diff = np.abs(np.asarray(got) - np.stack(expected))
      # PIL computes the hue partly in double precision: a few hues land one
      # step (of 256) away, which moves R, G or B by up to 6 levels.
      self.assertLess(np.mean(diff > 1), 0.01)
      self.assertLessEqual(diff.max(), 6)

  def test_translate_nearest_matches_pil(self):
    images = random_images(5)
    for pixels in (3.0, -5.0, 2.4):
      for name, matrix in (("TranslateX", (1, 0, pixels, 0, 1, 0)),
                           ("TranslateY", (1, 0, 0, 0, 1, pixels))):
        got = data.apply_op(images, name, pixels, interpolation="nearest",
                            fill=128)
        expected = pil_map(images, lambda im, m=matrix: im.transform(
            im.size, Image.AFFINE, m, fillcolor=(128, 128, 128)))
        np.testing.assert_array_equal(got, expected, err_msg=name)

  def test_rotate_nearest_matches_pil(self):
    images = random_images(6)
    for degrees in (17.0, -30.0):
      got = np.asarray(data.apply_op(images, "Rotate", degrees,
                                     interpolation="nearest", fill=128))
      expected = pil_map(images, lambda im, d=degrees: im.rotate(
          d, fillcolor=(128, 128, 128)))
      self.assertLess(np.mean(np.any(got != expected, -1)), 0.02)

  def test_shear_bilinear_matches_pil(self):
    images = smooth_images(7)
    for factor in (0.25, -0.3):
      for name, matrix in (("ShearX", (1, factor, 0, 0, 1, 0)),
                           ("ShearY", (1, 0, 0, factor, 1, 0))):
        got = np.asarray(data.apply_op(images, name, factor)).astype(int)
        expected = pil_map(images, lambda im, m=matrix: im.transform(
            im.size, Image.AFFINE, m, Image.BILINEAR,
            fillcolor=(128, 128, 128))).astype(int)
        np.testing.assert_allclose(got, expected, atol=1, rtol=0,
                                   err_msg=name)

  def test_unknown_op(self):
    with self.assertRaisesRegex(ValueError, "known ops"):
      data.apply_op(random_images(0), "Cutout", 1)
    with self.assertRaisesRegex(ValueError, "interpolation"):
      data.apply_op(random_images(0), "Rotate", 1, interpolation="bicubic")


class GrayscaleTest(absltest.TestCase):

  def test_luma_formula_and_pil(self):
    images = random_images(8)
    got = np.asarray(data.random_grayscale(images, jax.random.key(0), p=1.0))
    self.assertEqual(got.dtype, np.uint8)
    np.testing.assert_array_equal(got[..., 0], got[..., 1])
    np.testing.assert_array_equal(got[..., 0], got[..., 2])
    np.testing.assert_allclose(got[..., 0], luma(images), atol=1, rtol=0)
    np.testing.assert_array_equal(
        got[..., 0], pil_map(images, lambda im: im.convert("L")))

  def test_rate_and_p0(self):
    images = random_images(9, batch=400, size=2)
    out = np.asarray(data.random_grayscale(images, jax.random.key(1)))
    gray = np.all(out == out[..., :1], axis=(1, 2, 3))
    kept = np.all(out == images, axis=(1, 2, 3))
    self.assertTrue(np.all(gray | kept))
    self.assertBetween(np.mean(gray & ~kept), 0.12, 0.28)
    np.testing.assert_array_equal(
        data.random_grayscale(images, jax.random.key(1), p=0.0), images)


class RandomResizedCropTest(absltest.TestCase):

  def test_full_square_crop_is_identity(self):
    images = random_images(10)
    out = data.random_resized_crop(images, jax.random.key(0),
                                   scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_array_equal(out, images)

  def test_fallback_is_pil_centre_crop_resize(self):
    # A 2:1 aspect ratio never fits at full area: torchvision's fallback
    # centre crop (w = W, h = round(W / 2)), resized by PIL bilinear.
    images = smooth_images(11, size=16)
    out = np.asarray(data.random_resized_crop(
        images, jax.random.key(1), scale=(1.0, 1.0), ratio=(2.0, 2.0)))
    expected = pil_map(images, lambda im: im.crop((0, 4, 16, 12)).resize(
        (16, 16), Image.BILINEAR))
    np.testing.assert_allclose(out.astype(int), expected.astype(int), atol=1,
                               rtol=0)

  def test_crop_params_follow_torchvision(self):
    params = jax.jit(lambda k: strong._crop_params(
        k, 2000, 32, 32, (0.2, 1.0), (3 / 4, 4 / 3), 10))(jax.random.key(2))
    top, left, h, w = (np.asarray(p) for p in params)
    self.assertTrue(np.all((h >= 1) & (w >= 1) & (top >= 0) & (left >= 0)))
    self.assertTrue(np.all((top + h <= 32) & (left + w <= 32)))
    area = h * w / 1024
    self.assertGreaterEqual(area.min(), 0.17)  # 0.2 less rounding.
    self.assertLess(np.mean(area), 0.75)  # Not all fallbacks (area 1).
    aspect = w / h
    self.assertTrue(np.all((aspect > 0.6) & (aspect < 1.6)))
    self.assertGreater(len(set(zip(top, left, h, w))), 500)

  def test_output_size_and_float_input(self):
    images = random_images(12, batch=3, size=16).astype(np.float32)
    out = data.random_resized_crop(images, jax.random.key(3), size=(8, 12))
    self.assertEqual(out.shape, (3, 8, 12, 3))
    self.assertEqual(out.dtype, jnp.float32)
    np.testing.assert_array_equal(out, np.round(out))
    self.assertBetween(float(out.min()), 0.0, 255.0)
    self.assertBetween(float(out.max()), 0.0, 255.0)


class ColorJitterTest(absltest.TestCase):

  def test_p0_and_zero_strength_are_identity(self):
    images = random_images(13, batch=400, size=2)
    key = jax.random.key(0)
    np.testing.assert_array_equal(data.color_jitter(images, key, p=0.0),
                                  images)
    np.testing.assert_array_equal(
        data.color_jitter(images, key, brightness=0, contrast=0,
                          saturation=0, hue=0, p=1.0), images)

  def test_brightness_only_is_a_pil_brightness(self):
    # With only brightness, each image is ImageEnhance.Brightness(f) for one
    # f in [0.6, 1.4]: out = floor(f x) bounds f to [out / x, (out + 1) / x).
    images = smooth_images(14)
    out = np.asarray(data.color_jitter(images, jax.random.key(1),
                                       brightness=0.4, contrast=0,
                                       saturation=0, hue=0, p=1.0))
    for image, result in zip(images, out):
      x = image.astype(float)
      y = result.astype(float)
      used = (x > 0) & (y < 255)
      low = np.max(y[used] / x[used])
      high = np.min((y[used] + 1) / x[used])
      self.assertLess(low, high)
      self.assertBetween(low, 0.59, 1.41)
      expected = np.asarray(ImageEnhance.Brightness(
          Image.fromarray(image)).enhance((low + high) / 2))
      np.testing.assert_allclose(result.astype(int), expected.astype(int),
                                 atol=1, rtol=0)

  def test_apply_rate(self):
    images = random_images(15, batch=400, size=2)
    out = np.asarray(data.color_jitter(images, jax.random.key(2)))
    changed = np.any(out != images, axis=(1, 2, 3))
    self.assertBetween(changed.mean(), 0.7, 0.9)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "hue"):
      data.color_jitter(random_images(0), jax.random.key(0), hue=0.7)
    with self.assertRaisesRegex(ValueError, "RGB"):
      data.color_jitter(np.zeros((2, 4, 4, 1), np.uint8), jax.random.key(0))


class PoliciesTest(absltest.TestCase):

  def test_rand_augment_level_mapping(self):
    images = random_images(16, batch=48, size=4)
    key = jax.random.key(0)
    ops = ("Invert", "Posterize", "Solarize")
    for magnitude, bits, threshold in ((10.0, 4, 256), (5.0, 2, 128)):
      out = np.asarray(data.rand_augment(
          images, key, num_ops=1, magnitude=magnitude, magnitude_std=0.0,
          prob=1.0, ops=ops))
      # timm: PosterizeTpu keeps int(m / 10 * 4) bits, Solarize's threshold
      # is int(m / 10 * 256).
      candidates = np.stack([
          255 - images, images & np.uint8((0xFF << (8 - bits)) & 0xFF),
          np.where(images < threshold, images, 255 - images)])
      matches = np.all(out[None] == candidates, axis=(2, 3, 4))
      self.assertTrue(np.all(matches.any(axis=0)))
      self.assertTrue(np.all(matches.any(axis=1)))  # Each op was drawn.
    # prob 0, and two inversions, leave the images alone.
    np.testing.assert_array_equal(
        data.rand_augment(images, key, prob=0.0, num_ops=1, ops=ops), images)
    np.testing.assert_array_equal(
        data.rand_augment(images, key, ops=("Invert",), prob=1.0), images)

  def test_auto_augment_table_is_the_original(self):
    self.assertLen(strong.CIFAR10_POLICY, 25)
    ranges = {
        "ShearX": np.linspace(0, 0.3, 10),
        "TranslateX": np.linspace(0, 150 / 331, 10) * 32,
        "Rotate": np.linspace(0, 30, 10),
        "Color": np.linspace(0.0, 0.9, 10),
        "Posterize": np.round(np.linspace(8, 4, 10), 0).astype(int),
        "Solarize": np.linspace(256, 0, 10),
    }
    for level in range(10):
      for name, values in ranges.items():
        offset, value, _ = strong._auto_level_to_arg(name, level, 32, 32)
        if name in ("Posterize", "Solarize"):
          self.assertAlmostEqual(offset, values[level], places=4)
        elif name == "Color":
          self.assertEqual(offset, 1.0)
          self.assertAlmostEqual(value, values[level], places=6)
        else:
          self.assertAlmostEqual(value, values[level], places=4)
    self.assertEqual(strong.CIFAR10_POLICY[0],
                     (0.1, "Invert", 7, 0.2, "Contrast", 6))
    self.assertEqual(strong.CIFAR10_POLICY[-1],
                     (0.7, "TranslateY", 9, 0.9, "AutoContrast", 1))

  def test_auto_augment_properties(self):
    images = random_images(17, batch=32)
    fn = jax.jit(data.auto_augment_cifar)
    a = np.asarray(fn(images, jax.random.key(0)))
    self.assertEqual(a.shape, images.shape)
    self.assertEqual(a.dtype, np.uint8)
    np.testing.assert_array_equal(a, fn(images, jax.random.key(0)))
    self.assertFalse(np.array_equal(a, fn(images, jax.random.key(1))))
    changed = np.any(a != images, axis=(1, 2, 3))
    self.assertBetween(changed.mean(), 0.2, 0.95)


class StrongAugmentTest(parameterized.TestCase):

  @parameterized.parameters("simclr", "randaugment", "autoaugment")
  def test_properties_and_single_trace(self, policy):
    images = random_images(18, batch=8)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def view(x, key):
      return data.strong_augment(x, key, mean=data.CIFAR_MEAN,
                                 std=data.CIFAR_STD, policy=policy)

    a = np.asarray(view(images, jax.random.key(0)))
    b = np.asarray(view(images, jax.random.key(0)))
    c = np.asarray(view(images, jax.random.fold_in(jax.random.key(0), 1)))
    self.assertEqual(a.shape, images.shape)
    self.assertEqual(a.dtype, np.float32)
    np.testing.assert_array_equal(a, b)
    self.assertFalse(np.array_equal(a, c))
    # The output is `normalize` of uint8 pixels.
    pixels = (a * np.array(data.CIFAR_STD) + np.array(data.CIFAR_MEAN)) * 255
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)
    self.assertGreaterEqual(pixels.min(), -1e-3)
    self.assertLessEqual(pixels.max(), 255 + 1e-3)

  def test_identity_settings_give_normalize_sharded_or_not(self):
    # Full-image crops, no jitter, no gray: normalize, flipped or not, also
    # on a batch sharded over 8 devices.
    mesh = jax.make_mesh((8,), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))
    sharding = jax.sharding.NamedSharding(mesh,
                                          jax.sharding.PartitionSpec("data"))
    images = random_images(19, batch=16)
    view = functools.partial(
        data.strong_augment, key=jax.random.key(0), mean=data.CIFAR_MEAN,
        std=data.CIFAR_STD, scale=[1.0, 1.0], ratio=(1.0, 1.0), jitter_p=0.0,
        grayscale_p=0.0)
    out = np.asarray(view(images))
    normal = data.normalize(images, mean=data.CIFAR_MEAN, std=data.CIFAR_STD)
    same = np.all(np.isclose(out, normal), axis=(1, 2, 3))
    mirrored = np.all(np.isclose(out, normal[:, :, ::-1]), axis=(1, 2, 3))
    self.assertTrue(np.all(same | mirrored))
    self.assertTrue(np.any(same) and np.any(mirrored))
    np.testing.assert_allclose(view(jax.device_put(images, sharding)), out,
                               rtol=1e-6)
    # flip=False: never mirrored.
    np.testing.assert_allclose(view(images, flip=False), normal, rtol=1e-6)

  def test_unknown_policy(self):
    with self.assertRaisesRegex(ValueError, "known policies"):
      data.strong_augment(random_images(0), jax.random.key(0),
                          mean=data.CIFAR_MEAN, std=data.CIFAR_STD,
                          policy="trivialaugment")


if __name__ == "__main__":
  absltest.main()
