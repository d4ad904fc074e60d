"""The LADE regulariser: a batch-level estimate of the balanced log-likelihood.

Glossary: N batch rows, C classes. Unlike the per-example losses of this
package, `lade_loss` returns a scalar: its second term is a log-mean-exp over
the whole batch, which does not split into per-example terms.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v


def _row_mask(mask, num_rows):
  """bool [N] from the optional `mask` argument (all True when None)."""
  if mask is None:
    return jnp.ones((num_rows,), bool)
  values = v.concrete(mask)
  mask = jnp.asarray(mask)
  if mask.shape != (num_rows,):
    raise ValueError(
        f"mask must have shape [N] = {(num_rows,)} (one flag per batch row), "
        f"got {mask.shape}.")
  if mask.dtype != bool:
    if values is not None and not np.all((values == 0) | (values == 1)):
      raise ValueError(
          f"mask must be boolean (True for the rows to use), got dtype "
          f"{mask.dtype} with values other than 0 and 1.")
    mask = mask.astype(bool)
  return mask


def _prepare_unchecked_values(logits, labels):
  """As `_prepare`, but the label values are checked by the caller."""
  logits = v.check_logits(logits)
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(
        f"labels must be integer class indices, got dtype {labels.dtype}.")
  if labels.shape != logits.shape[:-1]:
    raise ValueError(
        f"labels has shape {labels.shape} but logits have shape "
        f"{logits.shape}: labels must have shape {logits.shape[:-1]}.")
  labels, in_range = v.safe_labels(labels, logits.shape[-1])
  return logits.astype(v.float_dtype(logits)), labels, in_range


def lade_loss(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
              class_counts: jax.typing.ArrayLike, remine_lambda: float = 0.1,
              mask: jax.typing.ArrayLike | None = None) -> jax.Array:
  r"""Computes the LADE regulariser over a batch (a scalar).

  With the batch's N rows, N_c of them of class c, and pi = n / sum(n):

  .. math::
    f_c = \frac{1}{N_c} \sum_{n: y_n = c} z_{n,c} \quad (0 \text{ if }
      N_c = 0), \qquad
    s_c = \log \frac{1}{N} \sum_{n=1}^{N}
      \exp\left(z_{n,c} - \log \pi_c + \log \tfrac{1}{C}\right),

    \mathcal{L} = -\sum_c \pi_c \left(f_c - s_c - \lambda s_c^2\right)

  f_c - s_c is the Donsker-Varadhan (MINE) lower bound on the balanced
  log-likelihood ratio of class c; lambda s_c^2 is the ReMINE regulariser. The
  second term runs over *all* rows of the batch, whatever their label.

  The official training objective is `PriorCELoss` + 0.1 * `LADELoss` (weight
  0.05 and lambda = 0.5 for iNaturalist18), both on the same logits. PriorCE,
  CE(z + log(pi + 1e-9)), is `balanced_softmax_loss` (log n and log pi differ
  by a constant that cancels in the softmax; only the 1e-9 differs), so the
  full LADE objective is

    jnp.mean(balanced_softmax_loss(z, y, class_counts=n))
        + 0.1 * lade_loss(z, y, class_counts=n)

  Differences from the official `LADELoss`: it divides the class sum by
  N_c + 1e-8 (ltjax: exact mean, 0 for an absent class, as the original gives
  0 / 1e-8 = 0) and takes log(pi_c + 1e-9) and log(1/C + 1e-9) (ltjax: exact
  logs; class counts must be positive). The original also reads the counts
  from a file or a CIFAR profile; here they are an argument.

  Args:
    logits: float [N, C].
    labels: int [N] in [0, C).
    class_counts: [C] training examples per class, positive.
    remine_lambda: lambda >= 0, the ReMINE regularisation weight.
    mask: optional bool [N]; rows with False (padding) are left out of every
      term, and N counts only the rows kept. A batch with no row kept gives 0.

  Returns:
    float scalar. NaN if a kept row's label lies outside [0, C) under
    `jax.jit` (a ValueError when the labels are concrete).

  References:
    Hong et al., Disentangling Label Distribution for Long-tailed Visual
    Recognition, CVPR 2021 (arXiv 2012.00321); official code
    hyperconnect/LADE, `loss/LADELoss.py`.
  """
  v.check_scalar(remine_lambda, "remine_lambda", minimum=0.0)
  logits = jnp.asarray(logits)
  if logits.ndim != 2:
    raise ValueError(
        f"logits must have shape [N, C] (lade_loss is a batch-level estimate "
        f"over one flat batch), got shape {logits.shape}; reshape to "
        f"(-1, C) first.")
  num_rows, num_classes = logits.shape
  keep = _row_mask(mask, num_rows)
  # Labels of dropped (padding) rows may be anything: check the kept ones.
  label_values, keep_values = v.concrete(labels), v.concrete(keep)
  if label_values is not None and keep_values is not None:
    if np.shape(label_values) == keep_values.shape:
      label_values = label_values[keep_values]
  logits, labels, in_range = _prepare_unchecked_values(logits, labels)
  v.check_label_values(label_values, num_classes)
  counts = v.check_class_vector(class_counts, num_classes, "class_counts",
                                positive=True)
  dtype = logits.dtype
  log_counts = jnp.log(counts.astype(dtype))
  log_prior = log_counts - jax.nn.logsumexp(log_counts)  # log pi_c
  prior = jnp.exp(log_prior)

  num_kept = jnp.sum(keep)
  # An empty batch computes on a dummy row (finite values and gradients) and
  # returns 0 below.
  empty = num_kept == 0
  use = keep | (empty & (jnp.arange(num_rows) == 0))

  # First term: per-class mean of the true-class logit.
  one_hot = jax.nn.one_hot(labels, num_classes, dtype=dtype)
  one_hot = one_hot * (use & in_range)[:, None].astype(dtype)
  per_class = jnp.sum(one_hot, axis=0)  # N_c
  first = jnp.sum(one_hot * logits, axis=0) / jnp.maximum(per_class, 1.0)

  # Second term: log-mean-exp over all kept rows of the shifted logits.
  shifted = logits - log_prior - jnp.log(jnp.asarray(num_classes, dtype))
  shifted = jnp.where(use[:, None], shifted, -jnp.inf)
  second = (jax.nn.logsumexp(shifted, axis=0)
            - jnp.log(jnp.sum(use).astype(dtype)))

  lam = jnp.asarray(remine_lambda, dtype)
  loss = -jnp.sum(prior * (first - second - lam * second ** 2))
  loss = jnp.where(empty, jnp.zeros((), dtype), loss)
  bad_label = jnp.any(keep & ~in_range)
  return jnp.where(bad_label, jnp.asarray(jnp.nan, dtype), loss)
