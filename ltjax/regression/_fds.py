"""Feature distribution smoothing (FDS) as an explicit, jittable state.

Glossary: B batch, D feature dimension, K label bins, b = bin(y).

Per bin, FDS keeps running statistics of the features z (mean mu_b and
variance s2_b per dimension), smooths them over neighbouring bins with a
sum-normalised kernel (reflect padding) into (mu~_b, s2~_b), and recalibrates
training features:

  z~ = (z - mu_b) * sqrt(clip(s2~_b / s2_b, 0.1, 10)) + mu~_b.

The paper updates the running statistics once per epoch, from that epoch's
features, by an exponential moving average with momentum 0.9 whose first
update overwrites. Here that is `accumulate_fds` (each step adds its batch to
an epoch accumulator kept in the state) then, at the epoch's end,
`commit_fds` (the EMA step, which also resets the accumulator) and
`smooth_fds`. `update_fds` folds one batch straight into the running
statistics. All of them are pure functions on `FDSState` built from segment
sums, so they run inside a jitted step on a batch sharded over a device mesh
(the sums come out global) and the state is checkpointed with the rest of
`TrainState.extra`.

Differences from the reference code (Yang et al. 2021), which ltjax fixes:
  1. Its smoothed statistics are refreshed at the start of the *next* epoch's
     update, so in the first epoch with smoothing they are still the initial
     (mean 0, variance 1) buffers on both sides and recalibration is the
     identity. Here `smooth_fds` runs right after each commit, so the first
     smoothing epoch already uses the statistics of the epoch before.
  2. Its "last epoch" running statistics are the live buffers (an alias), so
     after each update the two sides of the recalibration come from different
     epochs: mu_b, s2_b from the newest epoch, mu~_b, s2~_b smoothed from the
     epoch before. Here both sides are the same committed snapshot; the
     statistics of the current epoch go to a separate accumulator.
  3. It writes the calibrated features into the feature tensor in place, so
     the features it then gathers statistics from are already calibrated.
     Here statistics are always gathered on the encoder's raw features.

Variance: the unbiased estimator (divide by n - 1), as the reference
(`torch.var`'s default), because s2_b estimates the spread of a bin's feature
distribution and the few-shot bins FDS is meant for have small n, where the
biased estimate would shrink s2_b by (n - 1) / n and inflate the calibration
ratio. A bin seen only once in an epoch has no unbiased estimate; it gets 0
(the biased value, the reference's fallback), and `calibrate_features`
leaves dimensions whose running variance is 0 unchanged, as the reference.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax.regression import _components
from ltjax.regression import _config
from ltjax.regression import _kernels


@flax.struct.dataclass
class FDSState:
  """FDS statistics for K bins of D-dimensional features; all leaves distinct.

  Attributes:
    mean: float32 [K, D], running (committed) mean per bin.
    var: float32 [K, D], running variance per bin (initially 1).
    smoothed_mean: float32 [K, D], `mean` smoothed over bins.
    smoothed_var: float32 [K, D], `var` smoothed over bins.
    num_updates: int32 [K], updates in which the bin had data; 0 means the
      bin has no statistics yet (its first update overwrites, and
      calibration leaves its features alone).
    epoch_count: float32 [K], features accumulated this epoch per bin.
    epoch_mean: float32 [K, D], their mean.
    epoch_m2: float32 [K, D], their summed squared deviations from it.
  """
  mean: jax.Array
  var: jax.Array
  smoothed_mean: jax.Array
  smoothed_var: jax.Array
  num_updates: jax.Array
  epoch_count: jax.Array
  epoch_mean: jax.Array
  epoch_m2: jax.Array

  @property
  def num_bins(self) -> int:
    return self.mean.shape[0]

  @property
  def feature_dim(self) -> int:
    return self.mean.shape[1]


def init_fds(num_bins: int, feature_dim: int) -> FDSState:
  """Returns the initial state: mean 0, variance 1, nothing accumulated.

  Every leaf is its own array, so the state can be donated to a jitted step.

  Args:
    num_bins: K >= 1.
    feature_dim: D >= 1.

  Returns:
    An `FDSState`.
  """
  for name, value in (("num_bins", num_bins), ("feature_dim", feature_dim)):
    if isinstance(value, bool) or int(value) != value or value < 1:
      raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
  shape = (int(num_bins), int(feature_dim))
  f32 = jnp.float32
  return FDSState(
      mean=jnp.zeros(shape, f32), var=jnp.ones(shape, f32),
      smoothed_mean=jnp.zeros(shape, f32), smoothed_var=jnp.ones(shape, f32),
      num_updates=jnp.zeros((shape[0],), jnp.int32),
      epoch_count=jnp.zeros((shape[0],), f32),
      epoch_mean=jnp.zeros(shape, f32), epoch_m2=jnp.zeros(shape, f32))


def _check_batch(features, bin_ids, feature_dim: int,
                 mask) -> tuple[jax.Array, jax.Array, jax.Array]:
  features = jnp.asarray(features)
  bin_ids = jnp.asarray(bin_ids)
  if features.ndim != 2 or features.shape[1] != feature_dim:
    raise ValueError(
        f"features must have shape [B, {feature_dim}], got {features.shape}.")
  if bin_ids.shape != features.shape[:1] or not jnp.issubdtype(
      bin_ids.dtype, jnp.integer):
    raise ValueError(
        f"bin_ids must be integer [B] = [{features.shape[0]}], got dtype "
        f"{bin_ids.dtype} and shape {bin_ids.shape}.")
  if mask is None:
    weight = jnp.ones(bin_ids.shape, jnp.float32)
  else:
    mask = jnp.asarray(mask)
    if mask.shape != bin_ids.shape:
      raise ValueError(
          f"mask must have shape {bin_ids.shape}, got {mask.shape}.")
    weight = mask.astype(jnp.float32)
  return features.astype(jnp.float32), bin_ids, weight


def bin_statistics(features: jax.typing.ArrayLike,
                   bin_ids: jax.typing.ArrayLike, *, num_bins: int,
                   mask: jax.typing.ArrayLike | None = None
                   ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Per-bin count, mean and summed squared deviations of a batch; jittable.

  Two passes of segment sums (the mean, then squared deviations from it), so
  the variance does not suffer the cancellation of sum-of-squares formulas.

  Args:
    features: float [B, D].
    bin_ids: int [B] in [0, K).
    num_bins: K.
    mask: optional bool [B]; False rows are left out.

  Returns:
    (count float32 [K], mean float32 [K, D] (0 for empty bins),
    m2 float32 [K, D]); the unbiased variance is m2 / (count - 1).
  """
  features = jnp.asarray(features)
  features, bin_ids, weight = _check_batch(features, bin_ids,
                                           features.shape[-1], mask)
  count = jax.ops.segment_sum(weight, bin_ids, num_segments=num_bins)
  total = jax.ops.segment_sum(features * weight[:, None], bin_ids,
                              num_segments=num_bins)
  mean = total / jnp.maximum(count, 1.0)[:, None]
  deviation = (features - mean[bin_ids]) * weight[:, None]
  m2 = jax.ops.segment_sum(deviation * deviation, bin_ids,
                           num_segments=num_bins)
  return count, mean, m2


def _unbiased_var(count: jax.Array, m2: jax.Array) -> jax.Array:
  """m2 / (n - 1); 0 where n <= 1 (the reference's fallback for n = 1)."""
  return jnp.where(count[:, None] > 1,
                   m2 / jnp.maximum(count - 1.0, 1.0)[:, None], 0.0)


def _ema(state: FDSState, count: jax.Array, mean: jax.Array, var: jax.Array,
         momentum: float) -> FDSState:
  has = count > 0
  factor = jnp.where(state.num_updates > 0, momentum, 0.0)[:, None]
  new_mean = (1.0 - factor) * mean + factor * state.mean
  new_var = (1.0 - factor) * var + factor * state.var
  return state.replace(
      mean=jnp.where(has[:, None], new_mean, state.mean),
      var=jnp.where(has[:, None], new_var, state.var),
      num_updates=state.num_updates + has.astype(jnp.int32))


def _check_momentum(momentum) -> None:
  if not isinstance(momentum, jax.Array) and not 0 <= momentum < 1:
    raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")


def update_fds(state: FDSState, features: jax.typing.ArrayLike,
               bin_ids: jax.typing.ArrayLike, *, momentum: float = 0.9,
               mask: jax.typing.ArrayLike | None = None) -> FDSState:
  """Folds one batch's per-bin statistics into the running ones; jittable.

  For each bin b with n_b > 0 rows in the batch, with the batch mean m_b and
  unbiased variance v_b:

    mu_b  <- (1 - f) m_b + f mu_b,   s2_b <- (1 - f) v_b + f s2_b,

  f = momentum, or 0 for the bin's first update (which overwrites). Bins
  absent from the batch keep their statistics. The smoothed statistics are
  not touched: call `smooth_fds` before calibrating with the new ones.

  Args:
    state: the FDS state.
    features: float [B, D] encoder features (not calibrated ones).
    bin_ids: int [B] in [0, K), e.g. `bin_index(targets, edges)`.
    momentum: EMA momentum in [0, 1).
    mask: optional bool [B]; False rows are left out.

  Returns:
    The new state.

  Example:
    >>> fds = update_fds(fds, feats, bin_index(y, edges), momentum=0.9)
  """
  _check_momentum(momentum)
  count, mean, m2 = bin_statistics(features, bin_ids,
                                   num_bins=state.num_bins, mask=mask)
  return _ema(state, count, mean, _unbiased_var(count, m2), momentum)


def accumulate_fds(state: FDSState, features: jax.typing.ArrayLike,
                   bin_ids: jax.typing.ArrayLike, *,
                   mask: jax.typing.ArrayLike | None = None) -> FDSState:
  """Adds a batch to the epoch accumulator; jittable.

  Batches are merged exactly (Chan et al.'s pairwise update of count, mean
  and squared deviations), so the committed statistics equal those of all
  the epoch's features at once, whatever the batching.

  Args:
    state: the FDS state.
    features: float [B, D] encoder features (not calibrated ones).
    bin_ids: int [B] in [0, K).
    mask: optional bool [B]; False rows (e.g. examples repeated to fill the
      last batch of an epoch) are left out.

  Returns:
    The state with the batch added to `epoch_*`.
  """
  count_b, mean_b, m2_b = bin_statistics(features, bin_ids,
                                         num_bins=state.num_bins, mask=mask)
  count_a, mean_a = state.epoch_count, state.epoch_mean
  count = count_a + count_b
  share = (count_b / jnp.maximum(count, 1.0))[:, None]
  delta = mean_b - mean_a
  mean = mean_a + delta * share
  m2 = state.epoch_m2 + m2_b + delta * delta * count_a[:, None] * share
  return state.replace(epoch_count=count, epoch_mean=mean, epoch_m2=m2)


def commit_fds(state: FDSState, *, momentum: float = 0.9) -> FDSState:
  """Folds the epoch accumulator into the running statistics and resets it.

  The same EMA as `update_fds`, applied once to the whole epoch's per-bin
  statistics (the paper's once-per-epoch update). Call `smooth_fds` after it.

  Args:
    state: the FDS state, with the epoch's features accumulated.
    momentum: EMA momentum in [0, 1).

  Returns:
    The new state, with an empty accumulator.
  """
  _check_momentum(momentum)
  new = _ema(state, state.epoch_count, state.epoch_mean,
             _unbiased_var(state.epoch_count, state.epoch_m2), momentum)
  return new.replace(epoch_count=jnp.zeros_like(state.epoch_count),
                     epoch_mean=jnp.zeros_like(state.epoch_mean),
                     epoch_m2=jnp.zeros_like(state.epoch_m2))


def smoothing_matrix(num_bins: int, window: np.ndarray) -> np.ndarray:
  """The [K, K] matrix S with (S v)_k = sum_j w_j v_reflect(k + j - h).

  Reflect padding is PyTorch's `F.pad(mode="reflect")` and NumPy's
  "reflect": the edge bin is not repeated (c b | a b c d | c b). Built on the
  host, so smoothing is one matrix product on device.
  """
  window = np.asarray(window, np.float64)
  half = (window.shape[0] - 1) // 2
  if half and num_bins <= half:
    raise ValueError(
        f"reflect padding by {half} bins needs more than {half} bins, got "
        f"{num_bins}; use a smaller ks.")
  matrix = np.zeros((num_bins, num_bins))
  for k in range(num_bins):
    for j, weight in enumerate(window):
      source = k + j - half
      if source < 0:
        source = -source
      elif source >= num_bins:
        source = 2 * (num_bins - 1) - source
      matrix[k, source] += weight
  return matrix


def smooth_over_bins(values: jax.typing.ArrayLike,
                     window: np.ndarray) -> jax.Array:
  """Convolves float [K, D] with a symmetric window along K, reflect padding."""
  values = jnp.asarray(values)
  matrix = smoothing_matrix(values.shape[0], window)
  return jnp.dot(jnp.asarray(matrix, values.dtype), values,
                 precision=jax.lax.Precision.HIGHEST)


def smooth_fds(state: FDSState, *, kernel: str = "gaussian", ks: int = 5,
               sigma: float = 2.0, scipy_parity: bool = False) -> FDSState:
  """Recomputes the smoothed statistics from the running ones; jittable.

  mu~ = k * mu and s2~ = k * s2 along the bins, with the sum-normalised
  window k (`kernel_window(..., normalize="sum")`) and reflect padding at
  both ends. Bins without statistics take part with their initial values
  (mean 0, variance 1), as in the reference code.

  Args:
    state: the FDS state.
    kernel: "gaussian", "triangular" or "laplace".
    ks: window size in bins (odd, < 2 K).
    sigma: kernel width in bins.
    scipy_parity: the reference's scipy-built gaussian window (divided by
      its sum).

  Returns:
    The state with `smoothed_mean` and `smoothed_var` refreshed.

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  window = _kernels.kernel_window(kernel, ks=ks, sigma=sigma, normalize="sum",
                                  scipy_parity=scipy_parity)
  return state.replace(smoothed_mean=smooth_over_bins(state.mean, window),
                       smoothed_var=smooth_over_bins(state.var, window))


def calibrate_features(features: jax.typing.ArrayLike,
                       bin_ids: jax.typing.ArrayLike, state: FDSState, *,
                       clip: tuple[float, float] = (0.1, 10.0)) -> jax.Array:
  """Recalibrates features with their bin's running and smoothed statistics.

  .. math::
    \\tilde z = (z - \\mu_b) \\sqrt{\\mathrm{clip}(\\tilde\\sigma^2_b /
    \\sigma^2_b, c_0, c_1)} + \\tilde\\mu_b

  Dimensions with s2_b = 0 (dead units; bins seen once) are returned
  unchanged, as in the reference; so are rows whose bin has no statistics
  yet (`num_updates == 0`), where the reference would calibrate against its
  initial buffers. Apply in training only; gradients flow through z.

  Args:
    features: float [B, D] encoder features.
    bin_ids: int [B] in [0, K).
    state: the FDS state (its running and smoothed statistics are used).
    clip: (c_0, c_1) bounds of the variance ratio.

  Returns:
    float32 [B, D] calibrated features.

  Example:
    >>> z = calibrate_features(feats, bin_index(y, edges), fds)
    >>> pred = apply_head(params["head"], z, kind="linear")
  """
  lo, hi = (float(c) for c in clip)
  if not 0 < lo <= hi:
    raise ValueError(f"clip must satisfy 0 < clip[0] <= clip[1], got {clip}.")
  features, bin_ids, _ = _check_batch(features, bin_ids, state.feature_dim,
                                      None)
  mean, var = state.mean[bin_ids], state.var[bin_ids]
  positive = var > 0
  ratio = jnp.clip(state.smoothed_var[bin_ids] / jnp.where(positive, var, 1.0),
                   lo, hi)
  calibrated = (features - mean) * jnp.sqrt(ratio) + state.smoothed_mean[
      bin_ids]
  keep = ~positive | (state.num_updates[bin_ids] == 0)[:, None]
  return jnp.where(keep, features, calibrated)


def select(condition: jax.typing.ArrayLike, if_true: Any,
           if_false: Any) -> Any:
  """`jnp.where(condition, a, b)` leaf by leaf over two pytrees."""
  return jax.tree.map(lambda a, b: jnp.where(condition, a, b), if_true,
                      if_false)


class FeatureSmoothing(_components.RegressionComponent):
  """Feature distribution smoothing (`config.fds.enabled`).

  Per-bin running statistics of the encoder's features live in the step
  state (`extra["fds"]`), accumulated from each step's raw features (each
  training example once per epoch, from `fds.start_update`) and committed
  and smoothed over the bins at epoch ends; from `fds.start_smooth` the
  regressor trains on features calibrated to the smoothed statistics.
  Evaluation uses the raw features.
  """
  name = "fds"
  fields = ("fds.enabled",)
  roles = frozenset({"features"})

  @staticmethod
  def add_defaults(config) -> None:
    config.fds = ml_collections.ConfigDict(dict(
        enabled=False,
        kernel="gaussian", ks=5, sigma=2.0,
        momentum=0.9,
        # Absolute epochs (not scaled by `:EPOCHS`): the statistics' warm-up.
        start_update=0,  # first epoch whose features update the statistics
        start_smooth=1,  # first epoch whose features are calibrated
        clip=(0.1, 10.0),
        scipy_parity=False,
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    fds = config.fds
    _config.kernel_fields(fds, "fds")
    _config.require(0 <= fds.momentum < 1, "fds.momentum",
                    f"must be in [0, 1), got {fds.momentum}.")
    _config.require(fds.start_update >= 0, "fds.start_update",
                    f"must be >= 0, got {fds.start_update}.")
    _config.require(
        fds.start_smooth > fds.start_update, "fds.start_smooth",
        f"must be > fds.start_update ({fds.start_update}): calibration "
        f"needs statistics committed at the end of an earlier epoch, got "
        f"{fds.start_smooth}.")
    _config.pair(fds.clip, "fds.clip", low=0)

  def init_extra(self, model, sample):
    _, features = jax.eval_shape(
        lambda x: model.init_with_output(jax.random.key(0), x,
                                         train=False)[0], sample)
    return {"fds": init_fds(len(self.task.edges) - 1, features.shape[-1])}

  def train_features(self, features, bins, state):  # pylint: disable=method-hidden
    epoch = state.step // self.task.steps_per_epoch
    calibrated = calibrate_features(features, bins, state.extra["fds"],
                                    clip=tuple(self.config.fds.clip))
    return jnp.where(epoch >= self.config.fds.start_smooth, calibrated,
                     features)

  @property
  def advance(self):  # pylint: disable=invalid-overridden-method
    fds_config, steps_per_epoch = self.config.fds, self.task.steps_per_epoch

    def advance(extra, aux, batch, step):
      # Statistics of the raw (uncalibrated) features, each training example
      # once per epoch ("fresh" is False for the examples repeated to fill
      # the last batch).
      epoch = step // steps_per_epoch
      updating = epoch >= fds_config.start_update
      fds = accumulate_fds(
          extra["fds"], jax.lax.stop_gradient(aux["features"]), aux["bins"],
          mask=batch["fresh"] & updating)
      end_of_epoch = (step + 1) % steps_per_epoch == 0
      committed = smooth_fds(
          commit_fds(fds, momentum=fds_config.momentum),
          kernel=fds_config.kernel, ks=fds_config.ks, sigma=fds_config.sigma,
          scipy_parity=fds_config.scipy_parity)
      return {**extra, "fds": select(end_of_epoch & updating, committed, fds)}

    return advance
