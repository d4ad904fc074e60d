"""Label distribution smoothing (LDS) and inverse-frequency re-weighting.

Host-side NumPy: the per-bin weights are computed once from the training
labels and passed to the compiled step as data (`bin_weights[bin_index(y)]`).

The effective density over K bins (Yang et al. 2021):

  h_k = sqrt(n_k)               reweight="sqrt_inv"
  h_k = clip(n_k, 5, 1000)      reweight="inverse"  (empty bins become 5)
  d   = h * w                   LDS: 1-D convolution with the peak-normalised
                                window w, zero ('constant') padding
  w_i = 1 / d[bin(y_i)],        rescaled so the mean weight over the
                                training set is 1.

Difference from the reference code: for `inverse` it convolves an integer
array and scipy keeps the integer dtype, so its smoothed counts are truncated
to integers. ltjax computes in float; `scipy_parity=True` reproduces both the
truncation and the reference's flattened gaussian window (see
`kernel_window`).
"""

import ml_collections
import numpy as np
from ltjax.data import _bins
from ltjax.regression import _components
from ltjax.regression import _config
from ltjax.regression import _kernels


REWEIGHTS = ("none", "sqrt_inv", "inverse")


def _check(reweight: str, clip) -> tuple[float, float]:
  if reweight not in REWEIGHTS:
    raise ValueError(f"reweight must be one of {REWEIGHTS}, got {reweight!r}.")
  lo, hi = (float(c) for c in clip)
  if not 0 < lo <= hi:
    raise ValueError(f"clip must satisfy 0 < clip[0] <= clip[1], got {clip}.")
  return lo, hi


def smoothed_label_density(labels, *, bins, reweight: str = "sqrt_inv",
                           lds: bool = True, kernel: str = "gaussian",
                           ks: int = 5, sigma: float = 2.0,
                           clip=(5, 1000),
                           scipy_parity: bool = False) -> np.ndarray:
  """Returns the (smoothed) effective label density of every bin.

  Args:
    labels: float [N] training targets.
    bins: float [K + 1] bin edges (`bin_edges`).
    reweight: "sqrt_inv" (h = sqrt of counts), "inverse" (h = counts clipped
      to `clip`, empty bins included) or "none" (h = 1).
    lds: convolve h with the peak-normalised window ('constant' padding).
    kernel, ks, sigma: the LDS window (`kernel_window`).
    clip: (low, high) of the counts for "inverse".
    scipy_parity: the reference's gaussian window, and for "inverse" its
      truncation of the smoothed counts to integers.

  Returns:
    float64 [K] density (not normalised).

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  lo, hi = _check(reweight, clip)
  counts = _bins.bin_counts(labels, bins).astype(np.float64)
  if reweight == "sqrt_inv":
    h = np.sqrt(counts)
  elif reweight == "inverse":
    h = np.clip(counts, lo, hi)
  else:
    h = np.ones_like(counts)
  if not lds:
    return h
  density = smooth_histogram(h, kernel=kernel, ks=ks, sigma=sigma,
                             scipy_parity=scipy_parity)
  if scipy_parity and reweight == "inverse":
    density = np.trunc(density)
  return density


def smooth_histogram(h, *, kernel: str = "gaussian", ks: int = 5,
                     sigma: float = 2.0,
                     scipy_parity: bool = False) -> np.ndarray:
  """Returns the LDS convolution of per-bin values with the window.

  d_k = sum_j w_j h_{k + j}, w the peak-normalised window (`kernel_window`)
  and h zero-padded ('constant') beyond the bins.

  Args:
    h: float [K] per-bin values (counts, or their square roots).
    kernel, ks, sigma: the window (`kernel_window`).
    scipy_parity: the reference's gaussian window, summed in scipy's order.

  Returns:
    float64 [K].
  """
  h = np.asarray(h, np.float64)
  window = _kernels.kernel_window(kernel, ks=ks, sigma=sigma,
                                  normalize="peak", scipy_parity=scipy_parity)
  half = (len(window) - 1) // 2
  padded = np.pad(h, half, mode="constant")
  if scipy_parity:
    return _scipy_order_convolution(padded, window, h.shape[0])
  return np.array([np.dot(window, padded[k:k + len(window)])
                   for k in range(h.shape[0])])


def _scipy_order_convolution(padded: np.ndarray, window: np.ndarray,
                             size: int) -> np.ndarray:
  """The window applied in scipy.ndimage's summation order.

  Truncating to integers (the reference's `inverse` quirk) is sensitive to
  the last bit, so parity mode sums as scipy's `NI_Correlate1D` does: for a
  symmetric window, the centre tap, then the pairs x[k - j] + x[k + j] from
  the outermost in; otherwise tap by tap.
  """
  half = (len(window) - 1) // 2
  center = window[half]
  symmetric = all(window[half - j] == window[half + j]
                  for j in range(1, half + 1))
  out = np.empty(size)
  for k in range(size):
    x = padded[k:k + len(window)]
    if symmetric:
      acc = x[half] * center
      for j in range(half, 0, -1):
        acc += (x[half - j] + x[half + j]) * window[half - j]
    else:
      # convolve1d correlates with the reversed window.
      acc = 0.0
      for j in range(len(window)):
        acc += x[j] * window[len(window) - 1 - j]
    out[k] = acc
  return out


def lds_bin_weights(labels, *, bins, reweight: str = "sqrt_inv",
                    lds: bool = True, kernel: str = "gaussian", ks: int = 5,
                    sigma: float = 2.0, clip=(5, 1000),
                    scipy_parity: bool = False) -> np.ndarray:
  """Returns the weight of each bin, w_k = c / density_k, mean 1 over `labels`.

  Bins with zero density (possible only with no training label in reach of
  the window) get weight 0 instead of infinity; no training label falls in
  one. `reweight="none"` gives all ones.

  Args:
    labels: float [N] training targets.
    bins, reweight, lds, kernel, ks, sigma, clip, scipy_parity: as in
      `smoothed_label_density`.

  Returns:
    float32 [K].
  """
  density = smoothed_label_density(
      labels, bins=bins, reweight=reweight, lds=lds, kernel=kernel, ks=ks,
      sigma=sigma, clip=clip, scipy_parity=scipy_parity)
  if reweight == "none":
    return np.ones_like(density, np.float32)
  inverse = np.where(density > 0, 1.0 / np.where(density > 0, density, 1.0),
                     0.0)
  index = np.asarray(_bins.bin_index(np.asarray(labels).reshape(-1), bins))
  if index.size == 0:
    raise ValueError("labels is empty: weights need training labels.")
  return (inverse * index.size / inverse[index].sum()).astype(np.float32)


def lds_weights(labels, *, bins, kernel: str = "gaussian", ks: int = 5,
                sigma: float = 2.0, reweight: str = "sqrt_inv",
                clip=(5, 1000), lds: bool = True,
                scipy_parity: bool = False) -> np.ndarray:
  """Returns the LDS weight of every training example (mean 1).

  .. math::
    w_i \\propto 1 / \\tilde p(b(y_i)), \\quad
    \\tilde p = k * h, \\quad \\frac{1}{N} \\sum_i w_i = 1

  Args:
    labels: float [N] training targets.
    bins: float [K + 1] bin edges.
    kernel: "gaussian", "triangular" or "laplace".
    ks: window size (odd).
    sigma: kernel width in bins.
    reweight: "sqrt_inv" or "inverse" (see `smoothed_label_density`).
    clip: count clipping for "inverse".
    lds: False for plain (sqrt-)inverse re-weighting without smoothing.
    scipy_parity: reproduce the reference code (window and truncation).

  Returns:
    float32 [N].

  Example:
    >>> w = lds_weights(ages, bins=bin_edges(0, 121, width=1))
    >>> # paper setting: gaussian, ks=5, sigma=2, sqrt_inv; w.mean() == 1

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  per_bin = lds_bin_weights(labels, bins=bins, reweight=reweight, lds=lds,
                            kernel=kernel, ks=ks, sigma=sigma, clip=clip,
                            scipy_parity=scipy_parity)
  index = np.asarray(_bins.bin_index(np.asarray(labels).reshape(-1), bins))
  return per_bin[index]


class Reweighting(_components.RegressionComponent):
  """Per-bin loss weights from the label density (`config.reweight`).

  Inverse or square-root inverse of the training targets' bin counts,
  smoothed first with LDS (`reweight.lds`; a kernel over the bins),
  normalised to mean 1 over the training examples (`lds_bin_weights`).
  """
  name = "reweight"
  fields = ("reweight.name",)
  roles = frozenset({"bin_weights"})

  @staticmethod
  def add_defaults(config) -> None:
    config.reweight = ml_collections.ConfigDict(dict(
        name="none",  # none | sqrt_inv | inverse
        lds=False,  # smooth the label density (LDS)
        kernel="gaussian", ks=5, sigma=2.0,
        clip=(5, 1000),  # inverse: count clipping
        scipy_parity=False,  # the reference's window and integer truncation
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    reweight, loss = config.reweight, config.loss
    _config.known(reweight.name, REWEIGHTS, "reweight.name")
    _config.kernel_fields(reweight, "reweight")
    _config.pair(reweight.clip, "reweight.clip", low=0)
    _config.require(
        not (reweight.lds and reweight.name == "none"), "reweight.lds",
        "LDS smooths the density of a re-weighting: set reweight.name to "
        "'sqrt_inv' or 'inverse'.")
    _config.require(
        not (loss.name in _config.BALANCED_MSE_LOSSES
             and reweight.name != "none"), "reweight.name",
        f"loss {loss.name!r} (Balanced MSE) already corrects for the label "
        f"distribution; set reweight.name='none'.")

  def bin_weights(self, train_targets, edges):  # pylint: disable=method-hidden
    r = self.config.reweight
    return lds_bin_weights(
        train_targets, bins=edges, reweight=r.name, lds=r.lds,
        kernel=r.kernel, ks=r.ks, sigma=r.sigma, clip=tuple(r.clip),
        scipy_parity=r.scipy_parity)
