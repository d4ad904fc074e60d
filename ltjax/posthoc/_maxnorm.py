"""MaxNorm: per-class weight norms projected onto a ball (weight balancing).

Glossary: D feature dimension, C classes. A Flax Dense kernel is `[D, C]`,
so class c's weight vector W_c is column c (row c of the PyTorch weight).
"""

import jax
import jax.numpy as jnp

from ltjax import _validation as v


def _check_kernel(kernel) -> jax.Array:
  kernel = jnp.asarray(kernel)
  if kernel.ndim != 2 or not jnp.issubdtype(kernel.dtype, jnp.floating):
    raise ValueError(
        f"kernel must be a float [D, C] matrix (a Flax Dense kernel), got "
        f"{kernel.dtype} {kernel.shape}.")
  return kernel


def _column_norms(kernel: jax.Array) -> jax.Array:
  """||W_c|| of each column, with a finite gradient at a zero column."""
  sq = jnp.sum(jnp.square(kernel), axis=0)
  positive = sq > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def max_norm(kernel: jax.typing.ArrayLike, *,
             threshold: jax.typing.ArrayLike) -> jax.Array:
  r"""Projects each class's weight vector onto the ball of radius threshold.

  .. math::
    \tilde W_c = \begin{cases} W_c \, t / \|W_c\| & \|W_c\| > t \\
                               W_c & \text{otherwise} \end{cases}

  The Euclidean projection onto {W : ||W_c|| <= t for every c}: columns
  strictly outside the ball are rescaled to norm t, the others are returned
  unchanged (bit for bit). Applied after every optimiser update it is
  projected gradient descent (the original's `MaxNorm_via_PGD.PGD` with
  `LpNorm=2`, `tau=1`). The bias is never projected: the original gives the
  bias an infinite threshold. Jittable; `threshold` may be a traced scalar
  (e.g. `relative_max_norm_threshold` computed once, then kept in state).

  Args:
    kernel: float [D, C] (Flax Dense layout: column c is class c).
    threshold: scalar t >= 0, the radius.

  Returns:
    float [D, C], the kernel's dtype.

  Example:
    t = relative_max_norm_threshold(kernel, position=0.1)  # once, frozen
    kernel = max_norm(kernel, threshold=t)  # after every update

  References:
    Alshammari et al., Long-Tailed Recognition via Weight Balancing, CVPR
    2022 (arXiv 2203.14197).
  """
  kernel = _check_kernel(kernel)
  v.check_scalar(threshold, "threshold", minimum=0.0)
  dtype = v.float_dtype(kernel)
  norms = _column_norms(kernel.astype(dtype))
  threshold = jnp.asarray(threshold, dtype)
  outside = norms > threshold
  scale = jnp.where(outside, threshold / jnp.where(outside, norms, 1.0), 1.0)
  return jnp.where(outside[None, :], kernel.astype(dtype) * scale[None, :],
                   kernel.astype(dtype)).astype(kernel.dtype)


def relative_max_norm_threshold(kernel: jax.typing.ArrayLike, *,
                                position: float = 0.1) -> jax.Array:
  r"""The original's relative MaxNorm radius from the current norms.

  .. math::
    t = \min_c \|W_c\| + p \, (\max_c \|W_c\| - \min_c \|W_c\|)

  Weight balancing computes it once, when projection starts
  (`MaxNorm_via_PGD.setPerLayerThresh`), and keeps it frozen for the rest of
  training: compute it once and pass the value to every `max_norm` call.
  position = 0 bounds every class by the smallest norm, position = 1 leaves
  the kernel unchanged. Jittable.

  Args:
    kernel: float [D, C].
    position: p in [0, 1] (the original's `thresh`, 0.1).

  Returns:
    float scalar.

  References:
    Alshammari et al., Long-Tailed Recognition via Weight Balancing, CVPR
    2022 (arXiv 2203.14197).
  """
  v.check_scalar(position, "position", minimum=0.0)
  value = v.concrete(position)
  if value is not None and value > 1:
    raise ValueError(f"position must be in [0, 1], got {value}.")
  kernel = _check_kernel(kernel)
  norms = _column_norms(kernel.astype(v.float_dtype(kernel)))
  low, high = jnp.min(norms), jnp.max(norms)
  return low + jnp.asarray(position, norms.dtype) * (high - low)
