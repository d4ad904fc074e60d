"""Post-hoc logit adjustment of a model trained with plain cross-entropy."""

import jax
import jax.numpy as jnp

from ltjax import _validation as v


def adjust_logits(logits: jax.typing.ArrayLike, *,
                  class_priors: jax.typing.ArrayLike,
                  tau: float = 1.0) -> jax.Array:
  r"""Subtracts tau times the log prior from the logits.

  .. math::
    \tilde z = z - \tau \log \pi

  Predicting argmax of the adjusted logits of a cross-entropy model estimates
  the balanced-error Bayes classifier when tau = 1; choose tau on a held-out
  balanced validation split. Priors need not be normalised (a constant shift
  does not change the argmax or the softmax).

  Args:
    logits: float [B, C] (or [..., C]).
    class_priors: float [C], positive, e.g. training class frequencies.
    tau: adjustment strength, >= 0 (0 is the identity).

  Returns:
    [B, C] adjusted logits, in float32 or wider.

  References:
    Menon et al., Long-tail learning via logit adjustment, ICLR 2021
    (arXiv 2007.07314).
  """
  v.check_scalar(tau, "tau", minimum=0.0)
  logits = v.check_logits(logits)
  priors = v.check_class_vector(class_priors, logits.shape[-1], "class_priors",
                                positive=True)
  dtype = v.float_dtype(logits)
  return (logits.astype(dtype)
          - jnp.asarray(tau, dtype) * jnp.log(priors.astype(dtype)))
