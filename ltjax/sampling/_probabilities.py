"""Class-sampling probabilities of the decoupling paper and re-sampling rules.

Glossary: C classes, n_c training examples of class c, N = sum_c n_c.
A sampling policy gives, for each epoch, the probability p_c that a drawn
example belongs to class c; examples within a class are drawn uniformly.
`None` stands for plain instance-balanced sampling (a shuffle without
replacement), which draws class c with probability n_c / N.
"""

import numpy as np

SAMPLERS = ("instance", "class_balanced", "square_root", "progressive",
            "effective_number", "deferred")


def _counts(class_counts) -> np.ndarray:
  counts = np.asarray(class_counts)
  if counts.ndim != 1 or counts.size == 0:
    raise ValueError(
        f"class_counts must be a non-empty vector [C], got shape "
        f"{counts.shape}.")
  if np.any(counts < 0) or not np.all(np.isfinite(counts)):
    raise ValueError(f"class_counts must be finite and >= 0, got {counts}.")
  if counts.sum() <= 0:
    raise ValueError("class_counts must contain at least one example.")
  return counts.astype(np.float64)


def class_probabilities(class_counts, *, q: float) -> np.ndarray:
  r"""Returns p_c proportional to n_c^q over the classes with examples.

  .. math::
    p_c = \frac{n_c^q}{\sum_k n_k^q}

  q = 1 is instance-balanced, q = 1/2 square-root, q = 0 class-balanced.
  Classes with no training examples get probability 0 for every q.

  Args:
    class_counts: [C] training examples per class.
    q: exponent, >= 0.

  Returns:
    float64 [C] summing to 1.

  References:
    Kang et al., Decoupling Representation and Classifier for Long-Tailed
    Recognition, ICLR 2020 (arXiv 1910.09217).
  """
  if not q >= 0:
    raise ValueError(f"q must be >= 0, got {q}.")
  counts = _counts(class_counts)
  present = counts > 0
  weights = np.where(present, np.power(np.where(present, counts, 1.0), q),
                     0.0)
  return weights / weights.sum()


def progressive_probabilities(class_counts, *, epoch: int,
                              num_epochs: int) -> np.ndarray:
  r"""Progressively-balanced sampling: instance-balanced moving to balanced.

  .. math::
    p_c(t) = \left(1 - \frac{t}{T}\right) p_c^{IB} + \frac{t}{T} p_c^{CB}

  with t the (0-based) epoch and T = `num_epochs`; t >= T gives p^{CB}.

  References:
    Kang et al. (arXiv 1910.09217), Eq. 2.
  """
  if num_epochs < 1:
    raise ValueError(f"num_epochs must be >= 1, got {num_epochs}.")
  if epoch < 0:
    raise ValueError(f"epoch must be >= 0, got {epoch}.")
  t = min(epoch / num_epochs, 1.0)
  return ((1.0 - t) * class_probabilities(class_counts, q=1.0)
          + t * class_probabilities(class_counts, q=0.0))


def effective_number_probabilities(class_counts, *,
                                   beta: float = 0.9999) -> np.ndarray:
  r"""Re-sampling by the effective number of examples (Cui et al. 2019).

  Each example of class c is drawn with weight w_c = (1 - beta) /
  (1 - beta^{n_c}), so class c is drawn with probability proportional to
  n_c w_c: beta = 0 is instance-balanced, beta -> 1 class-balanced.

  References:
    Cui et al., Class-Balanced Loss Based on Effective Number of Samples,
    CVPR 2019 (arXiv 1901.05555); the DRS rule of Cao et al. (1906.07413).
  """
  if not 0.0 <= beta < 1.0:
    raise ValueError(f"beta must be in [0, 1), got {beta}.")
  counts = _counts(class_counts)
  present = counts > 0
  # n (1 - beta) / (1 - beta^n), with 1 - beta^n = -expm1(n log beta).
  safe = np.where(present, counts, 1.0)
  effective = -np.expm1(safe * np.log1p(-(1.0 - beta))) if beta > 0 else 1.0
  mass = np.where(present, safe / effective, 0.0)
  return mass / mass.sum()


def sampling_probabilities(sampler: str, class_counts, *, epoch: int,
                           num_epochs: int = 1, start_epoch: int = 0,
                           balanced: str = "class_balanced",
                           beta: float = 0.9999) -> np.ndarray | None:
  """Class probabilities of a named policy for one epoch.

  Args:
    sampler: one of `SAMPLERS`:
      "instance": None (shuffle the training set, each example once);
      "class_balanced" (q = 0), "square_root" (q = 1/2);
      "progressive": `progressive_probabilities` over `num_epochs`;
      "effective_number": `effective_number_probabilities(beta)`;
      "deferred" (DRS): instance-balanced before `start_epoch`, then the
      `balanced` policy ("class_balanced" or "effective_number").
    class_counts: [C] training examples per class.
    epoch: 0-based epoch.
    num_epochs: length of the schedule (progressive).
    start_epoch: first re-sampled epoch (deferred).
    balanced: the policy deferred sampling switches to.
    beta: effective-number beta.

  Returns:
    float64 [C] summing to 1, or None for instance-balanced shuffling.
  """
  if sampler == "instance":
    return None
  if sampler == "class_balanced":
    return class_probabilities(class_counts, q=0.0)
  if sampler == "square_root":
    return class_probabilities(class_counts, q=0.5)
  if sampler == "progressive":
    return progressive_probabilities(class_counts, epoch=epoch,
                                     num_epochs=num_epochs)
  if sampler == "effective_number":
    return effective_number_probabilities(class_counts, beta=beta)
  if sampler == "deferred":
    if balanced not in ("class_balanced", "effective_number"):
      raise ValueError(
          f"balanced must be 'class_balanced' or 'effective_number' for "
          f"deferred sampling, got {balanced!r}.")
    if epoch < start_epoch:
      return None
    return sampling_probabilities(balanced, class_counts, epoch=epoch,
                                  beta=beta)
  raise ValueError(f"unknown sampler {sampler!r}; known: {list(SAMPLERS)}.")
