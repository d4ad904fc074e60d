"""Post-hoc logit adjustment of a model trained with plain cross-entropy."""

import jax
import jax.numpy as jnp

from ltjax import _validation as v


def adjust_logits(logits: jax.typing.ArrayLike, *,
                  class_priors: jax.typing.ArrayLike,
                  tau: float = 1.0,
                  target_priors: jax.typing.ArrayLike | None = None
                  ) -> jax.Array:
  r"""Subtracts tau times the log training prior (adds the log test prior).

  .. math::
    \tilde z = z - \tau \log \pi^{train} \;[+ \tau \log \pi^{test}]

  Predicting argmax of the adjusted logits of a cross-entropy model estimates
  the balanced-error Bayes classifier when tau = 1 and `target_priors` is
  None (a uniform test prior); choose tau on a held-out balanced validation
  split. With `target_priors` pi^test the logits are moved to that known test
  label distribution: since p_test(y | x) is proportional to
  p_train(y | x) pi^test_y / pi^train_y, softmax of the adjusted logits at
  tau = 1 is the test posterior and their argmax the Bayes rule for the
  test distribution (the logit-adjustment paper's post-hoc form; pi^test =
  pi^train gives back the logits unchanged). Priors need not be normalised
  (a constant shift does not change the argmax or the softmax).

  Args:
    logits: float [B, C] (or [..., C]).
    class_priors: float [C], positive, e.g. training class frequencies.
    tau: adjustment strength, >= 0 (0 is the identity).
    target_priors: optional float [C], positive, the test label
      distribution; None means uniform.

  Returns:
    [B, C] adjusted logits, in float32 or wider.

  References:
    Menon et al., Long-tail learning via logit adjustment, ICLR 2021
    (arXiv 2007.07314).
  """
  v.check_scalar(tau, "tau", minimum=0.0)
  logits = v.check_logits(logits)
  num_classes = logits.shape[-1]
  priors = v.check_class_vector(class_priors, num_classes, "class_priors",
                                positive=True)
  dtype = v.float_dtype(logits)
  log_ratio = jnp.log(priors.astype(dtype))
  if target_priors is not None:
    target = v.check_class_vector(target_priors, num_classes,
                                  "target_priors", positive=True)
    log_ratio = log_ratio - jnp.log(target.astype(dtype))
  return logits.astype(dtype) - jnp.asarray(tau, dtype) * log_ratio
