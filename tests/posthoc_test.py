"""Tests for ltjax.posthoc.adjust_logits."""

from absl.testing import absltest
import jax
import numpy as np

from ltjax import posthoc

PRIORS = np.array([0.6, 0.25, 0.1, 0.05])


class AdjustLogitsTest(absltest.TestCase):

  def test_formula(self):
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    for tau in (0.0, 0.5, 1.0, 2.0):
      np.testing.assert_allclose(
          posthoc.adjust_logits(z, class_priors=PRIORS, tau=tau),
          z - tau * np.log(PRIORS), rtol=1e-6, atol=1e-6)

  def test_tau_zero_is_identity_and_jit(self):
    z = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        jax.jit(lambda z: posthoc.adjust_logits(z, class_priors=PRIORS,
                                                tau=0.0))(z), z)

  def test_prediction_ignores_prior_normalisation(self):
    z = np.random.default_rng(2).standard_normal((50, 4)).astype(np.float32)
    a = posthoc.adjust_logits(z, class_priors=PRIORS)
    b = posthoc.adjust_logits(z, class_priors=PRIORS * 123.0)
    np.testing.assert_array_equal(np.argmax(a, 1), np.argmax(b, 1))

  def test_adjustment_favours_rare_classes(self):
    z = np.zeros((1, 4), np.float32)
    self.assertEqual(
        int(np.argmax(posthoc.adjust_logits(z, class_priors=PRIORS))), 3)

  def test_bad_inputs(self):
    z = np.zeros((2, 4), np.float32)
    with self.assertRaisesRegex(ValueError, "tau"):
      posthoc.adjust_logits(z, class_priors=PRIORS, tau=-1.0)
    with self.assertRaisesRegex(ValueError, "class_priors"):
      posthoc.adjust_logits(z, class_priors=np.array([0.5, 0.5, 0.0, 0.0]))
    with self.assertRaisesRegex(ValueError, "class_priors has 3 entries"):
      posthoc.adjust_logits(z, class_priors=PRIORS[:3])
    with self.assertRaisesRegex(ValueError, "logits.*floating"):
      posthoc.adjust_logits(z.astype(np.int32), class_priors=PRIORS)


if __name__ == "__main__":
  absltest.main()
