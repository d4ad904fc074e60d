"""SMOGN over-sampling of tabular regression data (Branco et al. 2017).

Branco, Torgo and Ribeiro, "SMOGN: a pre-processing approach for imbalanced
regression", PMLR 74:36-50 (LIDTA 2017); reference implementation: the
Python `smogn` package (nickkunz/smogn, `smoter.py`, `over_sampling.py`).

Host-side NumPy, applied once to the training split at start-up
(`resample_dataset`); the random draws come from a NumPy generator seeded
with the bits of a JAX key, so a key gives the same data on every machine.

1. Relevance phi(y) in [0, 1]: here from the LDS-smoothed label histogram
   over the task's bins, phi = 1 - d(bin(y)) / max_k d_k with d the counts
   convolved with the peak-normalised window (`smooth_histogram`); smogn's
   default is a box-plot-based interpolating spline ("auto"). An example
   is rare iff phi >= `relevance_threshold` (smogn's `rel_thres`, 0.5): its
   bin's smoothed count is at most half the largest.
2. Groups ("bumps"): the targets sorted, cut where the rare flag changes
   (one group, all rare or none: the data is returned as it is, where
   smogn raises an error).
3. Per bump i of n_i examples, with b = round(N / number of bumps):
   "balance": s_i = b / n_i; "extreme": s_i = round(o_i / n_i, 1) with
   o_i = round(b^2 / n_i * c, 2), c = bumps * b / sum_i(b^2 / n_i).
   s_i < 1: keep int(s_i n_i) random examples (no replacement) if
   `under_sample`; s_i > 1: keep all and add (s_i - 1) n_i synthetic ones:
   int(s_i - 1) from every example plus one from int(n_i (s_i - 1 -
   int(s_i - 1))) random examples.
4. A synthetic example from seed x_i: a neighbour drawn from the seed's k
   nearest (Euclidean on the features, within the bump); if it is closer
   than half the median distance from the seed to its bump ("safe"),
   SMOTER: x = x_i + u (x_nn - x_i), y = y_i + u (y_nn - y_i), u ~ U(0, 1)
   (smogn's distance-weighted target, which on the segment is exactly this
   u); otherwise Gaussian noise: x_j = x_ij + N(0, std_j) t, y likewise,
   t = min(`perturbation`, the seed's half median distance), std over the
   bump.

Differences from the `smogn` package (documented choices):
* relevance from the smoothed histogram over the task's bins (above);
* over-sampled bumps keep their original examples (the paper's algorithm;
  smogn returns only the synthetic ones), and under-sampling keeps a subset
  of the bump (smogn's `data.drop(omit_index)` removes the chosen rows from
  the whole data set instead);
* distances on the features only (smogn includes the target column); every
  feature is numeric (one-hot columns are interpolated like the others), no
  HEOM distance, no clipping of non-negative features;
* the interpolated target is y_i + u (y_nn - y_i) also where smogn's
  equal-distance branch computes y_i + y_nn / 2 (an operator-precedence
  slip);
* synthetic targets are clipped to the training targets' range, so they
  stay inside the bins (a Gaussian-perturbed edge target could leave them).
"""

import dataclasses
from typing import Any

import jax
import ml_collections
import numpy as np
from ltjax import data as ltdata
from ltjax.data import _bins
from ltjax.regression import _bin_config
from ltjax.regression import _components
from ltjax.regression import _config
from ltjax.regression import _lds


RESAMPLERS = ("none", "smogn")
SAMPLING = ("balance", "extreme")
# Rows of the distance matrix computed at a time (memory: this x bump size).
_CHUNK = 1024


def _generator(key) -> np.random.Generator:
  """A NumPy generator seeded with the bits of a JAX PRNG key."""
  bits = np.asarray(jax.random.key_data(key), np.uint32).ravel()
  return np.random.Generator(np.random.PCG64(bits.tolist()))


def relevance(targets, *, edges, kernel: str = "gaussian", ks: int = 5,
              sigma: float = 2.0) -> np.ndarray:
  """Returns phi(y) = 1 - d(bin(y)) / max d, the relevance of each target.

  d is the label histogram over `edges` convolved with the LDS window
  (`smooth_histogram`), so phi is 0 at the densest bin and near 1 where the
  smoothed count is near 0.

  Args:
    targets: float [N].
    edges: float [K + 1] bin edges.
    kernel, ks, sigma: the smoothing window (`kernel_window`).

  Returns:
    float64 [N] in [0, 1].
  """
  counts = _bins.bin_counts(targets, edges).astype(np.float64)
  density = _lds.smooth_histogram(counts, kernel=kernel, ks=ks, sigma=sigma)
  phi = 1.0 - density / density.max()
  index = np.asarray(_bins.bin_index(np.asarray(targets).reshape(-1), edges))
  return np.clip(phi[index], 0.0, 1.0)


def _bumps(targets: np.ndarray, rare: np.ndarray) -> list[np.ndarray]:
  """The indices of each run of equal rare flags along the sorted targets."""
  order = np.argsort(targets, kind="stable")
  flags = rare[order]
  cuts = np.flatnonzero(flags[1:] != flags[:-1]) + 1
  return np.split(order, cuts)


def _sampling_rates(sizes: np.ndarray, method: str) -> np.ndarray:
  """s_i of each bump (smogn's `s_perc`)."""
  n, bumps = sizes.sum(), len(sizes)
  b = round(n / bumps)
  if method == "balance":
    return b / sizes
  scale = bumps * b / np.sum(b ** 2 / sizes)
  objective = np.round(b ** 2 / sizes * scale, 2)
  return np.round(objective / sizes, 1)


def _neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray,
                                               np.ndarray]:
  """(k nearest [n, k], their distances [n, k], half median distance [n])."""
  n = x.shape[0]
  nearest = np.zeros((n, k), np.int64)
  near_dist = np.zeros((n, k))
  safe = np.zeros(n)
  for start in range(0, n, _CHUNK):
    rows = np.arange(start, min(n, start + _CHUNK))
    diff = x[rows, None, :] - x[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    # smogn: `box_plot_stats(dist_matrix[i])["stats"][2] / 2`, the median of
    # the row (self included) halved.
    safe[rows] = np.median(dist, axis=1) / 2
    if k:
      others = dist.copy()
      others[np.arange(len(rows)), rows] = np.inf
      part = np.argpartition(others, k - 1, axis=1)[:, :k]
      nearest[rows] = part
      near_dist[rows] = np.take_along_axis(dist, part, axis=1)
  return nearest, near_dist, safe


def _synthesise(x: np.ndarray, y: np.ndarray, rate: float, *, k: int,
                perturbation: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, ...]:
  """The synthetic examples of a bump.

  Returns:
    (features [S, D], targets [S], interpolated? bool [S], seed [S],
    neighbour [S]), the last two as indices into the bump.
  """
  n = x.shape[0]
  whole = int(rate - 1)
  extra = int(n * (rate - 1 - whole))
  seeds = np.concatenate([np.repeat(np.arange(n), whole),
                          rng.choice(n, size=extra, replace=False)])
  k = min(k, n - 1)
  nearest, near_dist, safe_dist = _neighbours(x, k)
  if k:
    pick = rng.integers(k, size=seeds.size)
    partner = nearest[seeds, pick]
    interpolate = near_dist[seeds, pick] < safe_dist[seeds]
  else:  # a bump of one example: noise of scale 0 (copies)
    partner = seeds
    interpolate = np.zeros(seeds.size, bool)
  u = rng.random(seeds.size)[:, None]
  t = np.minimum(perturbation, safe_dist[seeds])[:, None]
  noise_x = rng.standard_normal((seeds.size, x.shape[1])) * x.std(axis=0)
  noise_y = rng.standard_normal(seeds.size) * y.std()
  new_x = np.where(interpolate[:, None],
                   x[seeds] + u * (x[partner] - x[seeds]),
                   x[seeds] + noise_x * t)
  new_y = np.where(interpolate, y[seeds] + u[:, 0] * (y[partner] - y[seeds]),
                   y[seeds] + noise_y * t[:, 0])
  return new_x, new_y, interpolate, seeds, partner


def smogn(features, targets, key, *, edges,
          relevance_threshold: float = 0.5, k: int = 5,
          perturbation: float = 0.02, sampling: str = "balance",
          under_sample: bool = True, kernel: str = "gaussian", ks: int = 5,
          sigma: float = 2.0, return_info: bool = False):
  """Re-samples a regression training set with SMOGN.

  Normal groups of the sorted targets are under-sampled, rare ones
  over-sampled with SMOTER interpolation or Gaussian noise (the module
  docstring gives the rules and the differences from the `smogn` package).

  Args:
    features: float [N, D].
    targets: float [N].
    key: JAX PRNG key.
    edges: float [K + 1] bin edges of the relevance histogram.
    relevance_threshold: rare iff phi >= this, in (0, 1] (smogn's 0.5).
    k: neighbours of a seed (smogn's 5).
    perturbation: the noise scale t's cap, in (0, 1] (smogn's `pert` 0.02).
    sampling: "balance" or "extreme" (smogn's `samp_method`).
    under_sample: under-sample the bumps with s_i < 1.
    kernel, ks, sigma: the relevance histogram's smoothing window.
    return_info: also return a dict of counts (see Returns).

  Returns:
    (features float32 [M, D], targets float32 [M]): the kept originals in
    their original order, then the synthetic examples; with `return_info`,
    a third dict: "kept" int [N'] the kept originals' indices,
    "interpolated" bool [M - N'] which synthetic examples are SMOTER
    interpolations (else noise), "seeds" / "partners" int [M - N'] their
    seed and neighbour indices (into the inputs), "rare" bool [N].

  Example:
    >>> x, y = smogn(x, y, jax.random.key(0), edges=bin_edges(1, 30, width=1))

  References:
    Branco, Torgo and Ribeiro, SMOGN: a Pre-processing Approach for
    Imbalanced Regression, PMLR 74 (2017).
  """
  x = np.asarray(features, np.float64)
  y = np.asarray(targets, np.float64).reshape(-1)
  if x.ndim != 2 or x.shape[0] != y.shape[0]:
    raise ValueError(f"features must be [N, D] and targets [N], got "
                     f"{x.shape} and {y.shape}.")
  if not 0 < relevance_threshold <= 1:
    raise ValueError(f"relevance_threshold must be in (0, 1], got "
                     f"{relevance_threshold}.")
  if int(k) != k or k < 1:
    raise ValueError(f"k must be an integer >= 1, got {k!r}.")
  if not 0 < perturbation <= 1:
    raise ValueError(f"perturbation must be in (0, 1], got {perturbation}.")
  if sampling not in SAMPLING:
    raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}.")
  rng = _generator(key)
  phi = relevance(y, edges=edges, kernel=kernel, ks=ks, sigma=sigma)
  rare = phi >= relevance_threshold
  bumps = _bumps(y, rare)
  rates = _sampling_rates(np.array([len(b) for b in bumps]), sampling)
  kept, synth_x, synth_y, interp, seeds, partners = [], [], [], [], [], []
  for members, rate in zip(bumps, rates):
    if rate < 1 and under_sample:
      kept.append(rng.choice(members, size=int(rate * len(members)),
                             replace=False))
      continue
    kept.append(members)
    if rate > 1:
      new_x, new_y, how, seed, partner = _synthesise(
          x[members], y[members], rate, k=int(k), perturbation=perturbation,
          rng=rng)
      synth_x.append(new_x)
      synth_y.append(new_y)
      interp.append(how)
      seeds.append(members[seed])
      partners.append(members[partner])
  kept = np.sort(np.concatenate(kept))
  new_x = np.concatenate([x[kept]] + synth_x, axis=0)
  new_y = np.concatenate([y[kept]] + synth_y)
  new_y[len(kept):] = np.clip(new_y[len(kept):], y.min(), y.max())
  out = (new_x.astype(np.float32), new_y.astype(np.float32))
  if not return_info:
    return out
  def joined(parts, dtype):
    return np.concatenate(parts) if parts else np.zeros(0, dtype)

  info = {"kept": kept, "rare": rare,
          "interpolated": joined(interp, bool),
          "seeds": joined(seeds, np.int64),
          "partners": joined(partners, np.int64)}
  return (*out, info)


@dataclasses.dataclass(frozen=True, eq=False)
class ResampledDataset(ltdata.RegressionDataset):
  """A regression dataset whose training split was re-sampled.

  Attributes:
    original_train: the training split before re-sampling: the bins and
      the shot groups (many / medium / few) come from it, so that a
      re-sampled run is evaluated on the same groups as any other.
  """
  original_train: Any = None


def resample_key(seed: int) -> jax.Array:
  """The key of a run's re-sampling (independent of its training keys)."""
  return jax.random.fold_in(jax.random.key(seed), 0x534D4F47)  # "SMOG"


def resample_dataset(config, dataset):
  """Returns `dataset` with its training split re-sampled by `config.resample`.

  `config.resample.name` "none" returns `dataset` itself; "smogn" applies
  `smogn` (tabular data only) with the key `resample_key(config.seed)`, the
  relevance over the run's bins (`config.bins`, from the original training
  targets). A dataset re-sampled already is returned as it is.

  Args:
    config: a regression config.
    dataset: a `RegressionDataset` with an in-memory training split.

  Returns:
    The dataset, or a `ResampledDataset` whose metadata has "resample":
    {"name", "train_before", "train_after", "synthetic"}.
  """
  r = config.resample
  if r.name == "none" or isinstance(dataset, ResampledDataset):
    return dataset
  if r.name not in RESAMPLERS:
    raise ValueError(f"config.resample.name: {r.name!r} is not one of "
                     f"{list(RESAMPLERS)}.")
  train = dataset.train
  if not isinstance(train, ltdata.RegressionSplit) or dataset.is_image:
    raise ValueError(
        f"config.resample.name: {r.name!r} interpolates feature vectors; "
        f"dataset {dataset.name!r} has images. Use resample.name='none'.")
  targets = np.asarray(train.targets)
  edges, _ = _bin_config.edges_of(config, targets)
  x, y, info = smogn(
      train.inputs, targets, resample_key(config.seed), edges=edges,
      relevance_threshold=r.relevance_threshold, k=r.k,
      perturbation=r.perturbation, sampling=r.sampling,
      under_sample=r.under_sample, kernel=r.kernel, ks=r.ks, sigma=r.sigma,
      return_info=True)
  lines = None
  if train.source_lines is not None:  # synthetic rows have no line: 0
    lines = np.concatenate([train.source_lines[info["kept"]],
                            np.zeros(len(y) - len(info["kept"]), np.int64)])
  summary = {"name": r.name, "train_before": int(len(targets)),
             "train_after": int(len(y)),
             "synthetic": int(len(y) - len(info["kept"])),
             "interpolated": int(info["interpolated"].sum())}
  return ResampledDataset(
      name=dataset.name,
      train=ltdata.RegressionSplit(inputs=x, targets=y, source_lines=lines),
      val=dataset.val, test=dataset.test,
      metadata={**dataset.metadata, "resample": summary},
      original_train=train)


class Resampling(_components.RegressionComponent):
  """Data-level re-sampling of the training split (`config.resample`).

  Once, at start-up (`prepare_data`), before the per-bin weights (computed
  on the re-sampled targets); the bins and shot groups stay those of the
  original training targets (`resample_dataset`).
  """
  name = "resample"
  fields = ("resample.name",)

  @staticmethod
  def add_defaults(config) -> None:
    # Data-level re-sampling of the training split, once at start-up, before
    # the LDS weights (computed on the re-sampled targets); the bins and shot
    # groups stay those of the original training targets (`resample_dataset`).
    config.resample = ml_collections.ConfigDict(dict(
        name="none",  # none | smogn (tabular data)
        relevance_threshold=0.5,  # rare iff phi(y) >= this (smogn rel_thres)
        k=5,  # neighbours of a seed
        perturbation=0.02,  # Gaussian-noise scale cap (smogn pert)
        sampling="balance",  # balance | extreme (smogn samp_method)
        under_sample=True,  # under-sample the normal groups
        # The relevance phi = 1 - d / max d of the smoothed label histogram d.
        kernel="gaussian", ks=5, sigma=2.0,
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    r = config.resample
    _config.known(r.name, RESAMPLERS, "resample.name")
    _config.require(0 < r.relevance_threshold <= 1,
                    "resample.relevance_threshold",
                    f"must be in (0, 1], got {r.relevance_threshold}.")
    _config.require(int(r.k) == r.k and r.k >= 1, "resample.k",
                    f"must be an integer >= 1, got {r.k!r}.")
    _config.require(0 < r.perturbation <= 1, "resample.perturbation",
                    f"must be in (0, 1], got {r.perturbation}.")
    _config.known(r.sampling, SAMPLING, "resample.sampling")
    _config.kernel_fields(r, "resample")
    _config.require(
        r.name == "none" or config.data.name not in _config.IMAGE_DATASETS,
        "resample.name",
        f"{r.name!r} interpolates feature vectors; data.name="
        f"{config.data.name!r} is images. Use resample.name='none'.")

  @staticmethod
  def prepare_data(config, dataset):
    return resample_dataset(config, dataset)

  def __init__(self, task):
    super().__init__(task)
    if getattr(task.dataset, "original_train", None) is None:
      raise ValueError(
          f"config.resample.name={self.config.resample.name!r}: the "
          f"dataset's training split is not re-sampled; build the run with "
          f"ltjax.train.build_run, which calls "
          f"RegressionTask.prepare_data(config, dataset) first.")
