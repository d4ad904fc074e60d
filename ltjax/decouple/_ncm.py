"""Nearest class mean (NCM) classification on frozen features.

Glossary: N examples, D feature dimension, C classes.
"""

import jax
import jax.numpy as jnp

from ltjax import _validation as v

NCM_METRICS = ("euclidean", "cosine")


def _features(features, name="features") -> jax.Array:
  features = jnp.asarray(features)
  if features.ndim != 2 or not jnp.issubdtype(features.dtype, jnp.floating):
    raise ValueError(
        f"{name} must be a float [N, D] array, got {features.dtype} "
        f"{features.shape}.")
  return features.astype(v.float_dtype(features))


def _l2_normalize(x: jax.Array) -> jax.Array:
  norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
  return x / jnp.maximum(norm, 1e-12)


def class_means(features: jax.typing.ArrayLike, labels: jax.typing.ArrayLike,
                *, num_classes: int) -> jax.Array:
  """Returns the mean feature vector of each class.

  Args:
    features: float [N, D].
    labels: int [N] in [0, C).
    num_classes: C.

  Returns:
    float [C, D]; a class without examples gets NaN (it can never be
    predicted by `ncm_logits`).
  """
  features = _features(features)
  labels = jnp.asarray(labels)
  if labels.shape != features.shape[:1] or not jnp.issubdtype(
      labels.dtype, jnp.integer):
    raise ValueError(
        f"labels must be int [N] with N = {features.shape[0]}, got "
        f"{labels.dtype} {labels.shape}.")
  sums = jax.ops.segment_sum(features, labels, num_segments=num_classes)
  counts = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels,
                               num_segments=num_classes)
  return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None],
                   jnp.nan)


def ncm_preprocess(features: jax.typing.ArrayLike, *,
                   center: jax.typing.ArrayLike | None) -> jax.Array:
  """The original's feature preprocessing: subtract `center`, L2-normalise.

  `center` is the mean training feature; pass None to only normalise.
  """
  features = _features(features)
  if center is not None:
    features = features - jnp.asarray(center, features.dtype)
  return _l2_normalize(features)


def fit_ncm(train_features: jax.typing.ArrayLike,
            train_labels: jax.typing.ArrayLike, *, num_classes: int,
            preprocess: bool = True) -> tuple[jax.Array, jax.Array | None]:
  """Class means as the decoupling paper computes them.

  With `preprocess`, the global training mean is subtracted and every feature
  L2-normalised before the class means are taken.

  Returns:
    (means [C, D], center [D] or None) to pass to `ncm_logits`.
  """
  features = _features(train_features, "train_features")
  center = jnp.mean(features, axis=0) if preprocess else None
  if preprocess:
    features = ncm_preprocess(features, center=center)
  return class_means(features, train_labels, num_classes=num_classes), center


def ncm_logits(features: jax.typing.ArrayLike, means: jax.typing.ArrayLike, *,
               metric: str = "euclidean",
               center: jax.typing.ArrayLike | None = None,
               normalize: bool | None = None) -> jax.Array:
  r"""Scores each class by closeness to its mean.

  .. math::
    z_c = -\|\hat h - \mu_c\|^2 \ (\text{euclidean}), \qquad
    z_c = \frac{\hat h \cdot \mu_c}{\|\hat h\| \|\mu_c\|} \ (\text{cosine})

  where hat h is the feature after `ncm_preprocess(h, center=center)` when
  `normalize` (default: whenever a `center` is given), else h itself. Use the
  `(means, center)` of `fit_ncm`, so train and test features are
  preprocessed alike.

  Args:
    features: float [N, D].
    means: float [C, D]; NaN rows (classes without training examples) score
      -inf.
    metric: "euclidean" or "cosine".
    center: the global training mean [D] (or None).
    normalize: L2-normalise (after centering); default `center is not None`.

  Returns:
    float [N, C].

  References:
    Kang et al. (arXiv 1910.09217), section 4.
  """
  if metric not in NCM_METRICS:
    raise ValueError(f"metric must be one of {NCM_METRICS}, got {metric!r}.")
  features = _features(features)
  means = jnp.asarray(means, features.dtype)
  if means.ndim != 2 or means.shape[1] != features.shape[1]:
    raise ValueError(
        f"means must be [C, D] with D = {features.shape[1]}, got "
        f"{means.shape}.")
  if normalize is None:
    normalize = center is not None
  if normalize:
    features = ncm_preprocess(features, center=center)
  missing = jnp.any(jnp.isnan(means), axis=1)
  safe_means = jnp.where(missing[:, None], 0.0, means)
  if metric == "euclidean":
    scores = -(jnp.sum(features**2, axis=1, keepdims=True)
               - 2.0 * features @ safe_means.T
               + jnp.sum(safe_means**2, axis=1)[None, :])
  else:
    scores = _l2_normalize(features) @ _l2_normalize(safe_means).T
  return jnp.where(missing[None, :], -jnp.inf, scores)
