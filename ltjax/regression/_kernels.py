"""Smoothing windows over label bins for LDS and FDS.

A window has ks (odd) taps at offsets x = -(ks - 1)/2 .. (ks - 1)/2 bins:

  gaussian    exp(-x^2 / (2 sigma^2))
  triangular  1 - |x| / ((ks + 1) / 2)   (scipy.signal.windows.triang(ks);
                                          sigma is unused)
  laplace     exp(-|x| / sigma)

LDS uses the window peak-normalised (max 1), FDS sum-normalised (sum 1).

Reference parity (`scipy_parity=True`): the reference code (Yang et al. 2021)
builds its gaussian window as `gaussian_filter1d(delta, sigma)` on a length-ks
delta, in scipy's default 'reflect' mode and truncated at 4 sigma. With
sigma >= ks that window is much flatter than a gaussian (ks=5, sigma=2, peak
normalised: ~[0.858, 0.946, 1, 0.946, 0.858] vs the true [0.607, 0.882, 1,
0.882, 0.607]) because the filter's tails fold back into the short delta. The
true kernel is the default; the parity window is computed here in NumPy (the
tests check it against scipy). Triangular and laplace windows are the same in
both modes.
"""

import numpy as np

KERNELS = ("gaussian", "triangular", "laplace")
NORMALIZATIONS = ("peak", "sum")


def check_kernel(kernel: str, ks: int, sigma: float) -> None:
  """Raises a ValueError naming the bad argument."""
  if kernel not in KERNELS:
    raise ValueError(
        f"kernel must be one of {KERNELS}, got {kernel!r}.")
  if isinstance(ks, bool) or int(ks) != ks or ks < 1 or ks % 2 == 0:
    raise ValueError(f"ks must be a positive odd integer, got {ks!r}.")
  if not np.isfinite(sigma) or not sigma > 0:
    raise ValueError(f"sigma must be > 0, got {sigma!r}.")


def _scipy_gaussian_on_delta(ks: int, sigma: float) -> np.ndarray:
  """`scipy.ndimage.gaussian_filter1d(delta_ks, sigma)` in plain NumPy.

  scipy's filter: taps exp(-x^2 / (2 sigma^2)) for |x| <= int(4 sigma + 0.5),
  normalised to sum 1, correlated with the input extended in 'reflect' mode
  (half-sample symmetric, d c b a | a b c d | d c b a, which is NumPy's
  'symmetric' pad, repeated for pads longer than the input).
  """
  radius = int(4.0 * float(sigma) + 0.5)
  x = np.arange(-radius, radius + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (x / sigma) ** 2)
  taps /= taps.sum()
  delta = np.zeros(ks)
  delta[(ks - 1) // 2] = 1.0
  padded = np.pad(delta, radius, mode="symmetric")
  return np.array([np.dot(taps, padded[i:i + 2 * radius + 1])
                   for i in range(ks)])


def kernel_window(kernel: str = "gaussian", *, ks: int = 5,
                  sigma: float = 2.0, normalize: str = "peak",
                  scipy_parity: bool = False) -> np.ndarray:
  """Returns the symmetric smoothing window over ks bins.

  Args:
    kernel: "gaussian", "triangular" or "laplace".
    ks: window size in bins, odd.
    sigma: kernel width in bins (unused by "triangular").
    normalize: "peak" (max 1, LDS) or "sum" (sum 1, FDS).
    scipy_parity: for "gaussian", the reference code's window built with
      `scipy.ndimage.gaussian_filter1d` on a length-ks delta (see the module
      docstring); no effect on the other kernels.

  Returns:
    float64 [ks].

  Example:
    >>> kernel_window("gaussian", ks=5, sigma=2)  # [0.607 0.882 1 0.882 0.607]

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  check_kernel(kernel, ks, sigma)
  if normalize not in NORMALIZATIONS:
    raise ValueError(
        f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}.")
  half = (int(ks) - 1) // 2
  x = np.arange(-half, half + 1, dtype=np.float64)
  if kernel == "gaussian":
    if scipy_parity:
      window = _scipy_gaussian_on_delta(int(ks), float(sigma))
    else:
      window = np.exp(-x ** 2 / (2.0 * float(sigma) ** 2))
  elif kernel == "triangular":
    # (half + 1 - |x|) / (half + 1): exactly scipy's triang(ks) values
    # (2n / (ks + 1)), which the reference uses.
    window = (half + 1 - np.abs(x)) / (half + 1)
  else:
    window = np.exp(-np.abs(x) / float(sigma))
  scale = window.max() if normalize == "peak" else window.sum()
  return window / scale
