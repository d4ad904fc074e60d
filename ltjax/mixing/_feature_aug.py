"""Feature-space tail augmentation: head-class variation transferred to tails.

Head classes have many examples, so their intra-class variation (an example
minus its class mean) is well sampled; tail classes have few. FTL (Yin et
al.) and RSG (Wang et al.) both generate new tail features in the
classifier's feature space by adding head-class variation to tail features.
`transfer_head_variation` is the training-free, deterministic-given-a-key
version of that idea, for re-training a classifier on cached features:

  new tail feature = base + strength * (f_h - mu_h)

with base a real feature of the tail class (or its mean) and f_h a random
example of a head class h, mu_h its class mean.

Glossary: N examples, D feature dimension, C classes, n_c examples of class
c, t_c the target count of class c.
"""

import jax
import numpy as np

VARIATION_BASES = ("sample", "mean")


def _generator(key) -> np.random.Generator:
  bits = np.asarray(jax.random.key_data(key), np.uint32).ravel()
  return np.random.Generator(np.random.PCG64(bits.tolist()))


def transfer_head_variation(features, labels, key, *, target_counts,
                            head_classes, strength: float = 1.0,
                            base: str = "sample"
                            ) -> tuple[np.ndarray, np.ndarray]:
  r"""Adds t_c - n_c features to each tail class c from head-class variation.

  With mu_c the mean feature of class c over `features`, every new feature
  of a tail class t (a class not in `head_classes` with t_t > n_t) is

  .. math::
    \tilde f = b + s \, (f_h - \mu_{y_h}),

  b a feature of class t drawn uniformly with replacement (`base="sample"`)
  or mu_t (`base="mean"`), f_h drawn uniformly from the pooled examples of
  all head classes (so a head class contributes in proportion to its size),
  s = `strength`. The head deviations have mean zero within each head
  class, so the new features have mean mu_t in expectation. Head classes are
  never augmented (their entries of `target_counts` are ignored), nor are
  classes whose target equals their count.

  The originals come first, unchanged, then the new features class by class.

  What this is not: RSG (arXiv 2106.10455) generates the samples inside the
  network during training, with class centres from its centre-estimation
  module and the head variation passed through a learned transfer module,
  and trains with extra contrastive and maximised-vector losses; FTL (arXiv
  1803.09014) transfers the variation within the principal subspace of the
  head classes' covariance and trains a feature filter adversarially. Here
  nothing is learned: the class means are the empirical means, the
  variation is added as it is (scaled by s), and the function runs once on
  fixed features (e.g. cached backbone features before re-training the
  classifier, `stage2.feature_aug`).

  Example:
    counts = np.bincount(labels)
    x, y = ltjax.mixing.transfer_head_variation(
        feats, labels, jax.random.key(0),
        target_counts=ltjax.sampling.target_counts(counts),
        head_classes=np.flatnonzero(counts > 100))

  Args:
    features: float [N, D].
    labels: int [N] in [0, C).
    key: JAX PRNG key (its bits seed a NumPy generator: host-side draws).
    target_counts: int [C], t_c >= n_c for every tail class.
    head_classes: int [H] ids of the classes whose variation is
      transferred (at least one with an example).
    strength: s >= 0; 0 gives copies of the bases.
    base: "sample" (a real tail feature) or "mean" (the tail class mean).

  Returns:
    (features [N', D], labels [N']) with every tail class at its target;
    the first N rows are the inputs.

  References:
    Yin et al., Feature Transfer Learning for Face Recognition with
    Under-Represented Data, CVPR 2019 (arXiv 1803.09014); Wang et al., RSG:
    A Simple but Effective Module for Learning Imbalanced Datasets, CVPR 2021
    (arXiv 2106.10455).
  """
  x = np.asarray(features)
  y = np.asarray(labels)
  t = np.asarray(target_counts)
  if x.ndim != 2:
    raise ValueError(f"features must be [N, D], got shape {x.shape}.")
  if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f"labels must be int [N] with N = {x.shape[0]}, got "
                     f"shape {y.shape} and dtype {y.dtype}.")
  if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
    raise ValueError(f"target_counts must be an integer vector [C], got "
                     f"{t!r}.")
  if y.size and (y.min() < 0 or y.max() >= t.size):
    raise ValueError(f"labels must be in [0, {t.size}) (C = len("
                     f"target_counts)), got [{y.min()}, {y.max()}].")
  if not strength >= 0:
    raise ValueError(f"strength must be >= 0, got {strength}.")
  if base not in VARIATION_BASES:
    raise ValueError(f"base {base!r} is not one of {list(VARIATION_BASES)}.")
  heads = np.unique(np.asarray(head_classes, np.int64).ravel())
  if heads.size and (heads.min() < 0 or heads.max() >= t.size):
    raise ValueError(f"head_classes must be class ids in [0, {t.size}), got "
                     f"{heads}.")
  counts = np.bincount(y, minlength=t.size).astype(np.int64)
  is_head = np.zeros(t.size, bool)
  is_head[heads] = True
  tails = np.flatnonzero(~is_head & (t > counts))
  if tails.size == 0:
    return x, y
  if np.any(counts[tails] == 0):
    c = int(tails[counts[tails] == 0][0])
    raise ValueError(f"tail class {c} has no example to build on but target "
                     f"{t[c]}.")
  pool = np.flatnonzero(is_head[y])
  if pool.size == 0:
    raise ValueError(f"head_classes {heads} have no example, so there is "
                     f"no variation to transfer.")
  x64 = x.astype(np.float64)
  sums = np.zeros((t.size, x.shape[1]))
  np.add.at(sums, y, x64)
  means = sums / np.maximum(counts, 1)[:, None]
  deviations = x64[pool] - means[y[pool]]
  rng = _generator(key)
  new_x, new_y = [x], [y]
  for c in tails:
    n_new = int(t[c] - counts[c])
    if base == "sample":
      bases = x64[rng.choice(np.flatnonzero(y == c), size=n_new)]
    else:
      bases = np.broadcast_to(means[c], (n_new, x.shape[1]))
    picked = deviations[rng.integers(0, len(pool), size=n_new)]
    new_x.append((bases + strength * picked).astype(x.dtype))
    new_y.append(np.full(n_new, c, dtype=y.dtype))
  return np.concatenate(new_x), np.concatenate(new_y)
