"""Data-level re-sampling: random under/over-sampling, SMOTE and ADASYN.

Pure, seeded functions on in-memory arrays (NumPy, or JAX arrays that are
copied to the host): `f(features, labels, key, *, target_counts, ...) ->
(features, labels)`. They follow imbalanced-learn's `RandomUnderSampler`,
`RandomOverSampler`, `SMOTE` and `ADASYN`; the differences are listed in each
docstring. The random draws come from a NumPy generator seeded with the bits
of the JAX key (`jax.random.key_data(key)`), so the same key gives the same
output on every machine.

Glossary: N examples, D features, C classes, n_c examples of class c, t_c the
target count of class c.
"""

import jax
import numpy as np

from ltjax.sampling import _groups

TARGET_MODES = ("over", "under")


def target_counts(class_counts, *, level="max",
                  mode: str = "over") -> np.ndarray:
  r"""Returns the per-class target counts of a re-sampler.

  .. math::
    t_c = \max(n_c, L) \text{ (over)}, \quad t_c = \min(n_c, L)
    \text{ (under)}

  with L = max_c n_c for `level="max"`, L = min over the classes with
  examples for `level="min"`, or the given integer. Classes without examples
  keep t_c = 0 (nothing can be synthesised from nothing). The defaults
  (`level="max", mode="over"`) balance every class to the largest, as
  imbalanced-learn's over-samplers' "auto"; `level="min", mode="under"`
  balances to the smallest, as `RandomUnderSampler`'s "auto".

  Example:
    target_counts([50, 10, 3])                            # [50, 50, 50]
    target_counts([50, 10, 3], level="min", mode="under")  # [3, 3, 3]
    target_counts([50, 10, 3], level=20)                   # [50, 20, 20]

  Args:
    class_counts: int [C] examples per class.
    level: "max", "min" or an integer >= 1.
    mode: "over" (never removes examples) or "under" (never adds any).

  Returns:
    int64 [C].
  """
  counts = np.asarray(class_counts)
  if counts.ndim != 1 or counts.size == 0 or np.any(counts < 0):
    raise ValueError(f"class_counts must be a non-empty vector [C] of counts "
                     f">= 0, got {counts!r}.")
  counts = counts.astype(np.int64)
  present = counts > 0
  if not np.any(present):
    raise ValueError("class_counts must contain at least one example.")
  if mode not in TARGET_MODES:
    raise ValueError(f"mode {mode!r} is not one of {list(TARGET_MODES)}.")
  if isinstance(level, str):
    if level == "max":
      level = int(counts.max())
    elif level == "min":
      level = int(counts[present].min())
    else:
      raise ValueError(f"level must be 'max', 'min' or an integer >= 1, got "
                       f"{level!r}.")
  elif int(level) != level or level < 1:
    raise ValueError(f"level must be 'max', 'min' or an integer >= 1, got "
                     f"{level!r}.")
  pick = np.maximum if mode == "over" else np.minimum
  return np.where(present, pick(counts, int(level)), 0).astype(np.int64)


def _generator(key) -> np.random.Generator:
  """A NumPy generator seeded with the bits of a JAX PRNG key."""
  bits = np.asarray(jax.random.key_data(key), np.uint32).ravel()
  return np.random.Generator(np.random.PCG64(bits.tolist()))


def _check(features, labels, targets, *, grow: bool | None):
  """Validated (features [N, D], labels [N], targets [C], counts [C])."""
  x = np.asarray(features)
  y = np.asarray(labels)
  t = np.asarray(targets)
  if x.ndim != 2:
    raise ValueError(f"features must be [N, D], got shape {x.shape}.")
  if y.shape != (x.shape[0],):
    raise ValueError(f"labels must be [N] with N = {x.shape[0]} (the rows "
                     f"of features), got shape {y.shape}.")
  if not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f"labels must be integers, got dtype {y.dtype}.")
  if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
    raise ValueError(f"target_counts must be an integer vector [C], got "
                     f"{t!r}.")
  if np.any(t < 0):
    raise ValueError(f"target_counts must be >= 0, got {t}.")
  if y.size and (y.min() < 0 or y.max() >= t.size):
    raise ValueError(f"labels must be in [0, {t.size}) (C = len("
                     f"target_counts)), got [{y.min()}, {y.max()}].")
  counts = np.bincount(y, minlength=t.size).astype(np.int64)
  if grow is True and np.any(t < counts):
    c = int(np.flatnonzero(t < counts)[0])
    raise ValueError(f"an over-sampler cannot remove examples: class {c} "
                     f"has {counts[c]} examples and target {t[c]}.")
  if grow is False and np.any(t > counts):
    c = int(np.flatnonzero(t > counts)[0])
    raise ValueError(f"an under-sampler cannot add examples: class {c} has "
                     f"{counts[c]} examples and target {t[c]}.")
  if grow is True and np.any((counts == 0) & (t > 0)):
    c = int(np.flatnonzero((counts == 0) & (t > 0))[0])
    raise ValueError(f"class {c} has no examples to over-sample from but "
                     f"target {t[c]}.")
  return x, y, t.astype(np.int64), counts


def random_under_sample(features, labels, key, *,
                        target_counts) -> tuple[np.ndarray, np.ndarray]:
  """Keeps a random subset (without replacement) of t_c examples per class.

  As imbalanced-learn's `RandomUnderSampler(replacement=False)`, except that
  the kept examples stay in their original order (imblearn returns them
  grouped by class).

  Args:
    features: [N, D].
    labels: int [N] in [0, C).
    key: JAX PRNG key.
    target_counts: int [C], t_c <= n_c (`target_counts(..., mode="under")`).

  Returns:
    (features [sum t, D], labels [sum t]), a subset of the rows.
  """
  x, y, t, counts = _check(features, labels, target_counts, grow=False)
  rng = _generator(key)
  members, bounds = _groups.group_positions(y, t.size)
  keep = np.zeros(len(y), bool)
  for c in np.flatnonzero(counts):
    keep[rng.choice(members[bounds[c]:bounds[c + 1]], size=int(t[c]),
                    replace=False)] = True
  return x[keep], y[keep]


def random_over_sample(features, labels, key, *,
                       target_counts) -> tuple[np.ndarray, np.ndarray]:
  """Keeps every example and appends t_c - n_c random copies per class.

  The copies are drawn uniformly with replacement within each class and
  appended class by class after the originals, as imbalanced-learn's
  `RandomOverSampler` (without its `shrinkage` smoothing).

  Args:
    features: [N, D].
    labels: int [N] in [0, C).
    key: JAX PRNG key.
    target_counts: int [C], t_c >= n_c.

  Returns:
    (features [sum t, D], labels [sum t]); the first N rows are the inputs.
  """
  x, y, t, counts = _check(features, labels, target_counts, grow=True)
  rng = _generator(key)
  members, bounds = _groups.group_positions(y, t.size)
  extra = [rng.choice(members[bounds[c]:bounds[c + 1]],
                      size=int(t[c] - counts[c]), replace=True)
           for c in np.flatnonzero(t > counts)]
  index = np.concatenate([np.arange(len(y))] + extra).astype(np.int64)
  return x[index], y[index]


def _nearest(queries: np.ndarray, points: np.ndarray, k: int, *,
             self_index: np.ndarray | None = None,
             chunk: int = 256) -> np.ndarray:
  """Indices [Q, k] of the k nearest `points` (Euclidean) of each query.

  Nearest first; points exactly as far as the k-th may be either side of the
  cut. `self_index[q]`, when given, is the row of `points` that query q
  is, excluded from its neighbours.
  """
  points = points.astype(np.float64)
  sq = np.sum(points * points, axis=1)
  out = np.empty((len(queries), k), np.int64)
  for start in range(0, len(queries), chunk):
    q = queries[start:start + chunk].astype(np.float64)
    dist = q @ points.T  # |q|^2 - 2 q.p + |p|^2, in place
    dist *= -2.0
    dist += np.sum(q * q, axis=1)[:, None]
    dist += sq[None, :]
    rows = np.arange(len(q))[:, None]
    if self_index is not None:
      dist[rows[:, 0], self_index[start:start + chunk]] = np.inf
    if k < dist.shape[1]:
      near = np.argpartition(dist, k - 1, axis=1)[:, :k]
    else:
      near = np.broadcast_to(np.arange(dist.shape[1]), dist.shape)
    order = np.argsort(dist[rows, near], axis=1, kind="stable")
    out[start:start + len(q)] = np.take_along_axis(near, order, axis=1)
  return out


def _class_neighbours(x_class: np.ndarray, k: int) -> np.ndarray:
  """[n, k] nearest same-class neighbours of each row, itself excluded."""
  return _nearest(x_class, x_class, k, self_index=np.arange(len(x_class)))


def _neighbours_used(count: int, k_neighbors: int, c: int) -> int:
  """min(k, n_c - 1): the clamping rule of `smote` and `adasyn`."""
  if count < 2:
    raise ValueError(f"class {c} has {count} example(s): SMOTE-style "
                     f"interpolation needs at least 2 examples of a class "
                     f"that is over-sampled (lower its target, or use "
                     f"random_over_sample).")
  return min(k_neighbors, count - 1)


def _interpolated(features, labels, key, k_neighbors, target_counts, bases):
  """Originals, then per class x_i + u (nn - x_i) at the rows `bases` picks.

  The driver of `smote` and `adasyn`: for every class c with n_new = t_c -
  n_c > 0, `bases(x, y, c, members, n_new, rng)` returns the base rows
  (indices into `members`, the ascending rows of class c), then each gets
  one of its k_c = min(k, n_c - 1) nearest same-class neighbours uniformly
  and u ~ U[0, 1).
  """
  if int(k_neighbors) != k_neighbors or k_neighbors < 1:
    raise ValueError(f"k_neighbors must be an integer >= 1, got "
                     f"{k_neighbors!r}.")
  x, y, t, counts = _check(features, labels, target_counts, grow=True)
  rng = _generator(key)
  members, bounds = _groups.group_positions(y, t.size)
  new_x, new_y = [x], [y]
  for c in np.flatnonzero(t > counts):
    k = _neighbours_used(int(counts[c]), int(k_neighbors), int(c))
    in_class = members[bounds[c]:bounds[c + 1]]
    rows = bases(x, y, int(c), in_class, int(t[c] - counts[c]), rng)
    x_class = x[in_class]
    nns = _class_neighbours(x_class, k)
    cols = rng.integers(0, k, size=len(rows))
    steps = rng.uniform(size=len(rows))[:, None]
    base = x_class[rows].astype(np.float64)
    new = base + steps * (x_class[nns[rows, cols]] - base)
    new_x.append(new.astype(x.dtype))
    new_y.append(np.full(len(rows), c, dtype=y.dtype))
  return np.concatenate(new_x), np.concatenate(new_y)


def smote(features, labels, key, *, k_neighbors: int = 5,
          target_counts) -> tuple[np.ndarray, np.ndarray]:
  r"""SMOTE: new points on segments between same-class nearest neighbours.

  For every class c with t_c > n_c, draws t_c - n_c base examples x
  uniformly with replacement from the class, one of x's k nearest other
  examples of class c (Euclidean) uniformly, nn, and u ~ U[0, 1):

  .. math::
    x_{new} = x + u \, (nn - x)

  The originals come first, unchanged, then the synthetic points class by
  class (imbalanced-learn's order).

  Differences from imbalanced-learn's `SMOTE`: a class with n_c <= k
  examples uses its n_c - 1 other examples as neighbours (imblearn raises);
  a class to over-sample with a single example raises. Between neighbours
  exactly as far as the k-th either may be taken (as in scikit-learn). The
  neighbours exclude the point itself by index, where
  imblearn drops the first neighbour found (the same unless there are
  exact duplicates). Interpolation is computed in float64 and cast back to
  the features' dtype.

  Example:
    x, y = ltjax.sampling.smote(
        x, y, jax.random.key(0), k_neighbors=5,
        target_counts=ltjax.sampling.target_counts(np.bincount(y)))

  Args:
    features: float [N, D].
    labels: int [N] in [0, C).
    key: JAX PRNG key.
    k_neighbors: k >= 1, neighbours per example.
    target_counts: int [C], t_c >= n_c.

  Returns:
    (features [sum t, D], labels [sum t]); the first N rows are the inputs.

  References:
    Chawla et al., SMOTE: Synthetic Minority Over-sampling Technique, JAIR
    2002 (arXiv 1106.1813).
  """
  def bases(x, y, c, members, n_new, rng):
    del x, y, c
    return rng.integers(0, members.size, size=n_new)

  return _interpolated(features, labels, key, k_neighbors, target_counts,
                       bases)


def adasyn(features, labels, key, *, k_neighbors: int = 5,
           target_counts) -> tuple[np.ndarray, np.ndarray]:
  r"""ADASYN: SMOTE with more synthetic points near other classes.

  For every class c with n_new = t_c - n_c > 0 and every example i of c,
  r_i is the fraction of other-class examples among i's k nearest
  neighbours in the whole set (Euclidean, i itself excluded),

  .. math::
    \hat r_i = r_i / \sum_j r_j, \quad g_i = \mathrm{rint}(\hat r_i \,
    n_{new}),

  and example i gets g_i synthetic points x_i + u (nn - x_i), nn one of its
  k nearest examples of class c drawn uniformly, u ~ U[0, 1). As in
  imbalanced-learn, the rounding makes the class end with n_c + sum_i g_i
  examples, which may differ from t_c by a few.

  Differences from imbalanced-learn's `ADASYN`: the same-class neighbours
  are clamped to n_c - 1 when n_c <= k (imblearn raises); the whole-set
  search needs N > k. The point itself is excluded by index (as `smote`).
  A class whose neighbourhoods hold no other class (all r_i = 0) raises
  ValueError (imblearn: RuntimeError), as does a class for which every g_i
  rounds to 0.

  Args:
    features: float [N, D].
    labels: int [N] in [0, C).
    key: JAX PRNG key.
    k_neighbors: k >= 1, neighbours per example.
    target_counts: int [C], t_c >= n_c.

  Returns:
    (features [M, D], labels [M]); the first N rows are the inputs, then
    the synthetic points class by class.

  References:
    He et al., ADASYN: Adaptive Synthetic Sampling Approach for Imbalanced
    Learning, IJCNN 2008 (doi 10.1109/IJCNN.2008.4633969).
  """
  if np.size(labels) <= k_neighbors:
    raise ValueError(f"adasyn needs more than k_neighbors = {k_neighbors} "
                     f"examples in all, got {np.size(labels)}.")

  def bases(x, y, c, members, n_new, rng):
    del rng
    everyone = _nearest(x[members], x, int(k_neighbors), self_index=members)
    ratio = np.sum(y[everyone] != c, axis=1) / k_neighbors
    if not np.sum(ratio):
      raise ValueError(f"class {c}: none of the {k_neighbors} nearest "
                       f"neighbours of its examples belongs to another "
                       f"class, so ADASYN's ratio is undefined; use smote.")
    per_example = np.rint(ratio / np.sum(ratio) * n_new).astype(np.int64)
    if not per_example.sum():
      raise ValueError(f"class {c}: ADASYN's rounding generates no example "
                       f"for {n_new} requested; raise its target.")
    return np.repeat(np.arange(len(members)), per_example)

  return _interpolated(features, labels, key, k_neighbors, target_counts,
                       bases)
