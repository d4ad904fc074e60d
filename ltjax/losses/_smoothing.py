"""Label-aware smoothing (MiSLAS): more smoothing for the frequent classes.

Glossary: B batch (any leading shape), C classes.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v
from ltjax.losses._classification import _nan_where_out_of_range
from ltjax.losses._classification import _prepare
from ltjax.losses._classification import _true_class

SHAPES = ("concave", "linear", "convex", "exp")


def _check_smoothing(x, name):
  v.check_scalar(x, name, minimum=0.0)
  value = v.concrete(x)
  if value is not None and value > 1.0:
    raise ValueError(
        f"{name} must lie in [0, 1] (the weight moved off the true label), "
        f"got {value}.")


def label_aware_smoothing_epsilons(class_counts: jax.typing.ArrayLike, *,
                                   smooth_head: float, smooth_tail: float,
                                   shape: str = "concave",
                                   power: float | None = None) -> jax.Array:
  r"""Returns the per-class smoothing factors of label-aware smoothing.

  With r_c = (n_c - n_min) / (n_max - n_min) in [0, 1] (0 for the rarest
  class, 1 for the most frequent), h = `smooth_head` and t = `smooth_tail`:

  .. math::
    \epsilon_c = \begin{cases}
      t + (h - t) \sin(\pi r_c / 2) & \text{concave} \\
      t + (h - t)\, r_c & \text{linear} \\
      h + (h - t) \sin(3\pi/2 + \pi r_c / 2) & \text{convex} \\
      t + (h - t)\, r_c^{p} & \text{exp}
    \end{cases}

  Every shape gives t at r = 0 and h at r = 1, so with h > t the head classes
  get the larger epsilon. The formulas are those of the official
  `LabelAwareSmoothing` (the convex form is written from the head value).

  All classes equal (n_max = n_min, where the original divides 0 by 0 and
  gets NaN): ltjax sets r_c = 1, so every class gets `smooth_head`.

  Args:
    class_counts: [C] training examples per class, non-negative.
    smooth_head: h in [0, 1], epsilon of the most frequent class.
    smooth_tail: t in [0, 1], epsilon of the rarest class.
    shape: one of "concave" (the official default), "linear", "convex",
      "exp".
    power: p >= 0, required for (and only for) shape "exp".

  Returns:
    float [C].

  Example:
    >>> label_aware_smoothing_epsilons(jnp.array([100, 55, 10]),
    ...                                smooth_head=0.3, smooth_tail=0.0)
    # [0.3, 0.212..., 0.0]

  References:
    Zhong et al., Improving Calibration for Long-Tailed Recognition, CVPR 2021
    (arXiv 2104.00466); official code Jia-Research-Lab/MiSLAS, `methods.py`.
  """
  _check_smoothing(smooth_head, "smooth_head")
  _check_smoothing(smooth_tail, "smooth_tail")
  if shape not in SHAPES:
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}.")
  if shape == "exp":
    if power is None:
      raise ValueError('power is required for shape="exp" (epsilon = tail + '
                       '(head - tail) * r**power); pass e.g. power=2.0.')
    v.check_scalar(power, "power", minimum=0.0)
  elif power is not None:
    raise ValueError(f'power is only used by shape="exp", got power={power} '
                     f'with shape={shape!r}; drop power or use shape="exp".')
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                nonnegative=True)
  dtype = v.float_dtype(counts, smooth_head, smooth_tail)
  counts = counts.astype(dtype)
  n_min, n_max = jnp.min(counts), jnp.max(counts)
  spread = n_max - n_min
  r = jnp.where(spread > 0,
                (counts - n_min) / jnp.where(spread > 0, spread, 1.0), 1.0)
  head = jnp.asarray(smooth_head, dtype)
  tail = jnp.asarray(smooth_tail, dtype)
  if shape == "concave":
    return tail + (head - tail) * jnp.sin(r * (np.pi / 2))
  if shape == "linear":
    return tail + (head - tail) * r
  if shape == "convex":
    return head + (head - tail) * jnp.sin(1.5 * np.pi + r * (np.pi / 2))
  return tail + (head - tail) * r ** jnp.asarray(power, dtype)


def label_aware_smoothing_loss(logits: jax.typing.ArrayLike,
                               labels: jax.typing.ArrayLike, *,
                               class_counts: jax.typing.ArrayLike,
                               smooth_head: float, smooth_tail: float,
                               shape: str = "concave",
                               power: float | None = None) -> jax.Array:
  r"""Computes the label-aware smoothing (MiSLAS) loss per example.

  .. math::
    \ell_i = (1 - \epsilon_{y_i}) \left(-\log p_{i y_i}\right)
      + \epsilon_{y_i} \frac{1}{C} \sum_{c=1}^{C} \left(-\log p_{ic}\right),
    \qquad p_i = \mathrm{softmax}(z_i)

  i.e. cross-entropy against the target (1 - eps_y) e_y + eps_y / C, with
  eps from `label_aware_smoothing_epsilons` (the uniform part includes the
  true class, as in the official code). `smooth_head = smooth_tail = 0` is
  plain cross-entropy. MiSLAS uses it in its second (classifier re-training)
  stage; its CIFAR configs use (head, tail) = (0.3, 0.0) for CIFAR-10-LT
  rho = 100 and (0.4, 0.1) for CIFAR-100-LT rho = 100, shape "concave". The
  original averages over the batch; here the caller reduces (`jnp.mean`).

  Args:
    logits: float [B, C].
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, non-negative.
    smooth_head: epsilon of the most frequent class, in [0, 1].
    smooth_tail: epsilon of the rarest class, in [0, 1].
    shape: "concave" (default), "linear", "convex" or "exp".
    power: exponent for shape "exp" (required there, rejected otherwise).

  Returns:
    float [B] per-example loss.

  References:
    Zhong et al., Improving Calibration for Long-Tailed Recognition, CVPR 2021
    (arXiv 2104.00466).
  """
  logits, labels, in_range = _prepare(logits, labels)
  num_classes = logits.shape[-1]
  v.check_class_vector(class_counts, num_classes, "class_counts",
                       nonnegative=True)
  eps = label_aware_smoothing_epsilons(
      class_counts, smooth_head=smooth_head, smooth_tail=smooth_tail,
      shape=shape, power=power).astype(logits.dtype)[labels]
  log_p = jax.nn.log_softmax(logits, axis=-1)
  nll = -_true_class(log_p, labels)
  uniform = -jnp.mean(log_p, axis=-1)
  loss = (1.0 - eps) * nll + eps * uniform
  return _nan_where_out_of_range(loss, in_range)
