"""Per-class weights and priors computed from training class counts."""

import jax
import jax.numpy as jnp

from ltjax import _validation as v


def class_priors(class_counts: jax.typing.ArrayLike) -> jax.Array:
  """Returns the empirical class priors pi_c = n_c / N.

  Args:
    class_counts: [C] training examples per class, all positive.

  Returns:
    float [C], summing to 1.
  """
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  return counts / jnp.sum(counts)


def inverse_frequency_weights(class_counts: jax.typing.ArrayLike, *,
                              power: float = 1.0) -> jax.Array:
  r"""Returns inverse-frequency class weights, normalised to sum to C.

  .. math::
    w_c = C \frac{n_c^{-p}}{\sum_k n_k^{-p}}

  `power=1` is inverse frequency, `power=0.5` square-root inverse frequency,
  `power=0` all ones.

  Args:
    class_counts: [C] training examples per class, positive.
    power: p >= 0.

  Returns:
    float [C], summing to C.

  Example:
    >>> inverse_frequency_weights(jnp.array([100, 10]))  # [0.18.., 1.81..]
  """
  v.check_scalar(power, "power", minimum=0.0)
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  # Work in log space so large counts and powers cannot overflow.
  log_w = -power * jnp.log(counts)
  return counts.shape[0] * jax.nn.softmax(log_w)


def class_balanced_weights(class_counts: jax.typing.ArrayLike, *,
                           beta: float = 0.9999) -> jax.Array:
  r"""Returns class-balanced (effective-number) weights, normalised to sum C.

  The effective number of examples of class c is (1 - beta^n_c) / (1 - beta):

  .. math::
    w_c \propto \frac{1 - \beta}{1 - \beta^{n_c}}, \qquad \sum_c w_c = C.

  `beta=0` gives all ones; beta -> 1 approaches inverse frequency.

  Args:
    class_counts: [C] training examples per class, positive.
    beta: 0 <= beta < 1.

  Returns:
    float [C], summing to C.

  References:
    Cui et al., Class-Balanced Loss Based on Effective Number of Samples,
    CVPR 2019 (arXiv 1901.05555).
  """
  v.check_scalar(beta, "beta", minimum=0.0, below=1.0)
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  dtype = v.float_dtype(counts)
  counts = counts.astype(dtype)
  # 1 - beta^n = -expm1(n log beta), accurate for beta near 1; 1 - beta is
  # formed before any cast so a Python float keeps its precision. The
  # constant factor (1 - beta) cancels in the normalisation.
  log_beta = jnp.log1p(-jnp.asarray(1.0 - beta, dtype))
  effective = -jnp.expm1(counts * log_beta)
  inv = 1.0 / effective
  return counts.shape[0] * inv / jnp.sum(inv)


def drw_class_weights(step: jax.typing.ArrayLike, *,
                      class_counts: jax.typing.ArrayLike,
                      start_step: int | jax.typing.ArrayLike,
                      beta: float = 0.9999) -> jax.Array:
  r"""Returns deferred re-weighting (DRW) class weights for a training step.

  .. math::
    w(t) = \mathbf{1} \text{ if } t < t_0, \text{ else }
    \mathrm{class\_balanced\_weights}(n, \beta)

  The switch is a `jnp.where` on `step`, so a jitted train step that takes the
  step as an array argument compiles once for the whole schedule.

  Args:
    step: int scalar, the current optimizer step (may be traced).
    class_counts: [C] training examples per class, positive.
    start_step: the first step that uses the re-balanced weights (the LDAM
      recipe: the step of epoch 160 of 200).
    beta: effective-number beta, 0 <= beta < 1.

  Returns:
    float [C]: ones before `start_step`, effective-number weights from it on.

  References:
    Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware
    Margin Loss, NeurIPS 2019 (arXiv 1906.07413).
  """
  v.check_scalar(step, "step")
  v.check_scalar(start_step, "start_step", minimum=0)
  weights = class_balanced_weights(class_counts, beta=beta)
  return jnp.where(jnp.asarray(step) >= start_step, weights,
                   jnp.ones_like(weights))
