"""Tests for the speed-run training tricks in `ltjax.train._tricks`.

Expected values are the formulas written out in NumPy (PyTorch's label
smoothing and `OneCycleLR`, airbench's TTA and whitening), or properties
(flip invariance, whitened covariance, the alternating-flip parity).
"""

import functools
import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax.train import _tricks as tricks


def _np_log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class SmoothedLossTest(parameterized.TestCase):

  def test_zero_smoothing_returns_the_same_function(self):
    ce = optax.softmax_cross_entropy_with_integer_labels
    self.assertIs(tricks.smoothed_loss(ce, 5, 0.0), ce)
    self.assertIs(tricks.smoothed_loss(ce, 5, 0), ce)

  @parameterized.parameters(0.1, 0.2, 0.5)
  def test_cross_entropy_matches_pytorch_label_smoothing(self, eps):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype(np.float32) * 3
    labels = np.array([0, 1, 2, 3, 1, 0], np.int32)
    loss = tricks.smoothed_loss(
        optax.softmax_cross_entropy_with_integer_labels, 4, eps)
    # PyTorch: target q = (1 - eps) onehot + eps / C; loss = -sum q log p.
    logp = _np_log_softmax(logits.astype(np.float64))
    q = (1 - eps) * np.eye(4)[labels] + eps / 4
    expected = -(q * logp).sum(axis=-1)
    np.testing.assert_allclose(loss(logits, labels), expected, rtol=1e-5)
    np.testing.assert_allclose(
        jax.jit(loss)(logits, labels), expected, rtol=1e-5)

  def test_generic_per_example_loss(self):
    # A loss of one label that is not cross-entropy: L(z, y) = (z_y - 1)^2.
    def squared(logits, labels):
      picked = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
      return (picked - 1.0)**2

    logits = np.array([[0.0, 2.0, -1.0], [3.0, 1.0, 0.5]], np.float32)
    labels = np.array([1, 0], np.int32)
    eps = 0.3
    per_class = (logits.astype(np.float64) - 1.0)**2  # L(z, c) for every c.
    expected = ((1 - eps) * per_class[np.arange(2), labels] +
                eps / 3 * per_class.sum(axis=-1))
    got = tricks.smoothed_loss(squared, 3, eps)(logits, labels)
    np.testing.assert_allclose(got, expected, rtol=1e-6)

  def test_errors_name_the_argument(self):
    ce = optax.softmax_cross_entropy_with_integer_labels
    for args, name in [((ce, 3, 1.0), "smoothing"), ((ce, 3, -0.1),
                                                      "smoothing"),
                       ((ce, 0, 0.1), "num_classes"),
                       ((None, 3, 0.1), "per_example")]:
      with self.assertRaisesRegex(ValueError, name):
        tricks.smoothed_loss(*args)
    with self.assertRaisesRegex(ValueError, "logits"):
      tricks.smoothed_loss(ce, 3, 0.1)(np.zeros((2, 4)), np.zeros(2, int))


class TtaLogitsTest(parameterized.TestCase):

  def test_flip_invariant_model_gives_same_logits(self):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(3, 4, 5, 2)).astype(np.float32)
    weights = rng.normal(size=(4 * 2, 3)).astype(np.float32)

    def apply(x):  # Mean over the width axis: invariant to left-right flips.
      return x.mean(axis=2).reshape(x.shape[0], -1) @ weights

    np.testing.assert_allclose(
        tricks.tta_logits(apply, images, "flip"),
        tricks.tta_logits(apply, images, "none"), rtol=1e-5, atol=1e-6)

  def test_modes_match_numpy_formula(self):
    rng = np.random.default_rng(2)
    b, h, w, k, c = 2, 4, 5, 3, 6
    images = rng.normal(size=(b, h, w, k)).astype(np.float32)
    weights = rng.normal(size=(h * w * k, c)).astype(np.float32)

    def apply(x):
      return jnp.reshape(x, (x.shape[0], -1)) @ weights

    def f(x):
      return x.reshape(x.shape[0], -1).astype(np.float64) @ weights

    def mirror(x):
      return 0.5 * (f(x) + f(x[:, :, ::-1, :]))

    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    shifted_a = padded[:, 0:h, 0:w, :]
    shifted_b = padded[:, 2:h + 2, 2:w + 2, :]
    # The one-pixel shifts, written out: shifted_b[y, x] = image[y+1, x+1].
    np.testing.assert_array_equal(shifted_b[:, :h - 1, :w - 1],
                                  images[:, 1:, 1:])
    np.testing.assert_array_equal(shifted_a[:, 1:, 1:], images[:, :-1, :-1])
    expected = {
        "none": f(images),
        "flip": mirror(images),
        "flip_translate": (0.5 * mirror(images) + 0.25 * mirror(shifted_a) +
                           0.25 * mirror(shifted_b)),
    }
    for mode, want in expected.items():
      got = jax.jit(functools.partial(tricks.tta_logits, apply,
                                      mode=mode))(images)
      self.assertEqual(got.dtype, jnp.float32)
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4,
                                 err_msg=mode)

  def test_bfloat16_logits_are_averaged_in_float32(self):
    images = np.ones((1, 2, 2, 1), np.float32)
    out = tricks.tta_logits(lambda x: x.reshape(1, -1).astype(jnp.bfloat16),
                            images, "flip_translate")
    self.assertEqual(out.dtype, jnp.float32)

  def test_errors_name_the_argument(self):
    images = np.zeros((1, 4, 4, 1), np.float32)
    with self.assertRaisesRegex(ValueError, "mode"):
      tricks.tta_logits(lambda x: x, images, "rotate")
    with self.assertRaisesRegex(ValueError, "images"):
      tricks.tta_logits(lambda x: x, np.zeros((4, 4, 1)), "flip")


def _manual_patches(images, size):
  """All valid size x size patches, flattened (kh, kw, K), by explicit loops."""
  n, h, w, _ = images.shape
  rows = []
  for i in range(n):
    for y in range(h - size + 1):
      for x in range(w - size + 1):
        rows.append(images[i, y:y + size, x:x + size, :].reshape(-1))
  return np.stack(rows).astype(np.float64)


class WhiteningKernelTest(parameterized.TestCase):

  def _images(self):
    rng = np.random.default_rng(3)
    images = rng.normal(size=(12, 6, 6, 3))
    images = images @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3],
                                [0.0, 0.0, 0.02]])  # A small-variance mix.
    return images.astype(np.float32)

  def test_conv_outputs_are_whitened(self):
    images, size, eps = self._images(), 2, 5e-4
    dim = size * size * 3
    kernel = tricks.whitening_kernel(images, kernel_size=size,
                                     out_channels=2 * dim, eps=eps)
    self.assertEqual(kernel.shape, (size, size, 3, 2 * dim))
    self.assertEqual(kernel.dtype, np.float32)
    np.testing.assert_array_equal(kernel[..., dim:], -kernel[..., :dim])

    # Apply the + filters as a Flax-layout (NHWC, HWIO) valid conv.
    out = jax.lax.conv_general_dilated(
        images, kernel[..., :dim], window_strides=(1, 1), padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST)
    out = np.asarray(out, np.float64).reshape(-1, dim)
    patches = _manual_patches(images, size)
    eigenvalues = np.linalg.eigvalsh(np.cov(patches.T, bias=True))[::-1]
    expected = np.diag(eigenvalues / (eigenvalues + eps))
    self.assertLess(expected.min(), 0.9)  # eps matters for some direction.
    np.testing.assert_allclose(np.cov(out.T, bias=True), expected, atol=2e-3)

  def test_one_position_matches_manual_patch(self):
    images = self._images()
    kernel = tricks.whitening_kernel(images, kernel_size=3, out_channels=8)
    patch = images[5, 2:5, 1:4, :]  # Image 5, top-left corner (2, 1).
    want = np.einsum("hwk,hwko->o", patch.astype(np.float64), kernel)
    out = jax.lax.conv_general_dilated(
        images[5:6], kernel, window_strides=(1, 1), padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST)
    np.testing.assert_allclose(out[0, 2, 1], want, rtol=1e-4, atol=1e-4)
    # Flattening order (kh, kw, K): the filter as a vector dotted with the
    # row-major flattened patch gives the same outputs.
    flat = kernel.reshape(-1, 8)
    np.testing.assert_allclose(patch.reshape(-1) @ flat, want, rtol=1e-4,
                               atol=1e-4)

  def test_filters_are_top_eigenvectors_in_order(self):
    images = self._images()
    kernel = tricks.whitening_kernel(images, kernel_size=1, out_channels=4,
                                     eps=1e-3)
    cov = np.cov(images.reshape(-1, 3).astype(np.float64).T, bias=True)
    values, vectors = np.linalg.eigh(cov)
    filters = kernel.reshape(3, 4)[:, :2]
    for i, j in enumerate([2, 1]):  # Largest eigenvalue first.
      want = vectors[:, j] / math.sqrt(values[j] + 1e-3)
      sign = np.sign(filters[:, i] @ want)  # Eigenvectors are up to sign.
      np.testing.assert_allclose(sign * filters[:, i], want, rtol=1e-4,
                                 atol=1e-5)

  def test_subset_is_seeded(self):
    images = self._images()
    kw = dict(kernel_size=2, out_channels=4, max_patches=50)
    a = tricks.whitening_kernel(images, seed=1, **kw)
    np.testing.assert_array_equal(a, tricks.whitening_kernel(
        images, seed=1, **kw))
    self.assertFalse(np.allclose(np.abs(a), np.abs(tricks.whitening_kernel(
        images, seed=2, **kw))))

  def test_errors_name_out_channels(self):
    images = self._images()
    for out in (5, 2 * 2 * 2 * 3 + 2, 0):
      with self.assertRaisesRegex(ValueError, "out_channels"):
        tricks.whitening_kernel(images, kernel_size=2, out_channels=out)
    with self.assertRaisesRegex(ValueError, "kernel_size"):
      tricks.whitening_kernel(images, kernel_size=7, out_channels=2)


class AlternatingFlipTest(absltest.TestCase):

  def test_each_example_alternates_and_half_flip(self):
    indices = jnp.arange(1000)
    flips = np.stack([np.asarray(tricks.alternating_flip(indices, e, seed=0))
                      for e in range(4)])
    self.assertEqual(flips.dtype, np.bool_)
    for e in range(3):
      np.testing.assert_array_equal(flips[e + 1], ~flips[e])
    for e in range(4):
      self.assertBetween(flips[e].mean(), 0.42, 0.58)

  def test_jit_with_traced_epoch_and_batch_independence(self):
    indices = jnp.array([7, 3, 999, 0, 42])
    step = jax.jit(functools.partial(tricks.alternating_flip, seed=5))
    for e in range(3):
      eager = tricks.alternating_flip(indices, e, seed=5)
      np.testing.assert_array_equal(step(indices, jnp.int32(e)), eager)
      # An example's bit does not depend on the rest of the batch.
      alone = tricks.alternating_flip(indices[2:3], e, seed=5)
      self.assertEqual(bool(alone[0]), bool(eager[2]))

  def test_seed_changes_bits(self):
    indices = jnp.arange(200)
    a = tricks.alternating_flip(indices, 0, seed=0)
    b = tricks.alternating_flip(indices, 0, seed=1)
    self.assertGreater(int(jnp.sum(a != b)), 50)

  def test_errors_name_the_argument(self):
    with self.assertRaisesRegex(ValueError, "indices"):
      tricks.alternating_flip(jnp.zeros(3), 0, seed=0)
    with self.assertRaisesRegex(ValueError, "epoch"):
      tricks.alternating_flip(jnp.arange(3), 0.5, seed=0)
    with self.assertRaisesRegex(ValueError, "seed"):
      tricks.alternating_flip(jnp.arange(3), 0, seed=None)


def _torch_one_cycle(step, peak, total, warmup, div, final_div):
  """PyTorch OneCycleLR (cos, two phases), transcribed into NumPy."""

  def anneal(start, end, pct):
    return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)

  init, end_up, end_down = peak / div, warmup - 1.0, total - 1.0
  if step <= end_up:
    return anneal(init, peak, step / end_up)
  return anneal(peak, init / final_div, (step - end_up) / (end_down - end_up))


class ScheduleTest(parameterized.TestCase):

  @parameterized.parameters((20, 5, 25.0, 1e4), (11, 2, 10.0, 100.0))
  def test_one_cycle_matches_pytorch(self, total, warmup, div, final_div):
    schedule = tricks.one_cycle_schedule(
        0.4, total_steps=total, warmup_steps=warmup, div_factor=div,
        final_div_factor=final_div)
    steps = np.arange(total)
    want = np.array([_torch_one_cycle(s, 0.4, total, warmup, div, final_div)
                     for s in steps])
    got = np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(steps)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    self.assertAlmostEqual(float(schedule(0)), 0.4 / div, places=6)
    self.assertAlmostEqual(float(schedule(warmup - 1)), 0.4, places=6)
    final = 0.4 / div / final_div
    self.assertAlmostEqual(float(schedule(total - 1)), final, places=7)
    self.assertAlmostEqual(float(schedule(total + 5)), final, places=7)

  def test_linear_decay_endpoints_and_midpoints(self):
    schedule = tricks.linear_decay_schedule(
        1.0, total_steps=30, warmup_steps=10, final_lr=0.1)
    for step, want in [(0, 0.0), (5, 0.5), (10, 1.0), (20, 0.55), (30, 0.1),
                       (40, 0.1)]:
      self.assertAlmostEqual(float(jax.jit(schedule)(step)), want, places=6)

  def test_linear_decay_without_warmup(self):
    schedule = tricks.linear_decay_schedule(2.0, total_steps=4,
                                            warmup_steps=0)
    got = [float(schedule(s)) for s in range(6)]
    np.testing.assert_allclose(got, [2.0, 1.5, 1.0, 0.5, 0.0, 0.0],
                               atol=1e-6)

  def test_schedule_errors_name_the_argument(self):
    with self.assertRaisesRegex(ValueError, "total_steps"):
      tricks.one_cycle_schedule(0.1, total_steps=5, warmup_steps=5)
    with self.assertRaisesRegex(ValueError, "warmup_steps"):
      tricks.one_cycle_schedule(0.1, total_steps=5, warmup_steps=1)
    with self.assertRaisesRegex(ValueError, "peak_lr"):
      tricks.linear_decay_schedule(0.0, total_steps=5, warmup_steps=1)
    with self.assertRaisesRegex(ValueError, "warmup_steps"):
      tricks.linear_decay_schedule(0.1, total_steps=5, warmup_steps=-1)

  @parameterized.parameters(("none", 0.1), ("linear", 0.4),
                            ("sqrt", 0.2))
  def test_scaled_learning_rate(self, rule, want):
    got = tricks.scaled_learning_rate(0.1, batch_size=512,
                                      base_batch_size=128, rule=rule)
    self.assertAlmostEqual(got, want, places=12)

  def test_scaled_learning_rate_errors_name_the_argument(self):
    for kwargs, name in [(dict(rule="cubic"), "rule"),
                         (dict(batch_size=0), "^batch_size"),
                         (dict(base_batch_size=-1), "^base_batch_size")]:
      args = dict(batch_size=64, base_batch_size=128, rule="linear")
      args.update(kwargs)
      with self.assertRaisesRegex(ValueError, name):
        tricks.scaled_learning_rate(0.1, **args)


if __name__ == "__main__":
  absltest.main()
