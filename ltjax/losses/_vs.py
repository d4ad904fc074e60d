"""The vector-scaling (VS) loss: multiplicative and additive logit adjustment.

Glossary: B batch (any leading shape), C classes.
"""

import jax
import jax.numpy as jnp

from ltjax import _validation as v
from ltjax.losses._classification import _apply_class_weights
from ltjax.losses._classification import _cross_entropy
from ltjax.losses._classification import _nan_where_out_of_range
from ltjax.losses._classification import _prepare


def vs_loss(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
            class_counts: jax.typing.ArrayLike, gamma: float = 0.2,
            tau: float = 1.0,
            class_weights: jax.typing.ArrayLike | None = None) -> jax.Array:
  r"""Computes the vector-scaling (VS) loss per example.

  .. math::
    \ell_i = w_{y_i} \left(-\log \mathrm{softmax}\left(
      z_i / \Delta + \iota\right)_{y_i}\right), \qquad
    \Delta_c = \left(\frac{\max_k n_k}{n_c}\right)^\gamma, \qquad
    \iota_c = \tau \log \pi_c, \qquad \pi_c = \frac{n_c}{\sum_k n_k}

  The logits are *divided* by Delta (as the official `VSLoss` does), so the
  most frequent class keeps its logit (Delta = 1) and rarer classes have theirs
  shrunk; the paper writes the same thing as a multiplication by
  (n_c / n_max)^gamma. `gamma=0` is the logit-adjusted loss
  (`logit_adjusted_loss` with `class_priors=class_counts / sum`); `tau=0` is
  the CDT loss (Ye et al., arXiv 2001.01385).

  Class weights: each example's loss is multiplied by w_y and the caller
  reduces, as in `weighted_cross_entropy`. The official code passes the
  weights to PyTorch's `cross_entropy(weight=w)`, which divides by sum_i w_y;
  reproduce that with `weighted_mean(vs_loss(...), labels, class_weights=w)`
  (unweighted loss, weights in the reduction), or with
  `jnp.sum(vs_loss(..., class_weights=w)) / jnp.sum(w[labels])`. With DRW
  (the official script's `--train_rule DRW`), pass
  `drw_class_weights(step, ...)`.

  Differences from the official code: none in value. Defaults: the official
  `VSLoss` class and `train.py` default to gamma = 0.3, tau = 1.0; ltjax uses
  gamma = 0.2 (with tau = 1.0), the README's CIFAR-10-LT command uses
  gamma = 0.2, tau = 1.2.

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.
    gamma: exponent of the multiplicative adjustment, >= 0.
    tau: scale of the additive adjustment, >= 0.
    class_weights: optional float [C], non-negative.

  Returns:
    float [B] per-example loss.

  Example:
    >>> vs_loss(jnp.zeros((2, 3)), jnp.array([0, 2]),
    ...         class_counts=jnp.array([100, 10, 1]))  # [0.1.., 4.7..]

  References:
    Kini et al., Label-Imbalanced and Group-Sensitive Classification under
    Overparameterization, NeurIPS 2021 (arXiv 2103.01550).
  """
  v.check_scalar(gamma, "gamma", minimum=0.0)
  v.check_scalar(tau, "tau", minimum=0.0)
  logits, labels, in_range = _prepare(logits, labels)
  num_classes = logits.shape[-1]
  counts = v.check_class_vector(class_counts, num_classes, "class_counts",
                                positive=True)
  log_counts = jnp.log(counts.astype(logits.dtype))
  gamma = jnp.asarray(gamma, logits.dtype)
  tau = jnp.asarray(tau, logits.dtype)
  # log Delta_c = gamma (log n_max - log n_c); log pi_c = log n_c - log N.
  delta = jnp.exp(gamma * (jnp.max(log_counts) - log_counts))
  iota = tau * (log_counts - jax.nn.logsumexp(log_counts))
  loss = _cross_entropy(logits / delta + iota, labels)
  loss = _apply_class_weights(loss, labels, class_weights, num_classes)
  return _nan_where_out_of_range(loss, in_range)
