"""Per-example regression losses for imbalanced targets.

Glossary: B batch. Every loss takes `predictions: float [B]` and `targets:
float [B]` and returns the per-example loss `float [B]` (float32, or float64
for float64 inputs); hyperparameters are keyword-only and the caller reduces
(the reference code takes the plain mean over the batch of the weighted
losses, `jnp.mean`). `weights` are optional per-example weights, e.g. LDS
weights `bin_weights[bin_index(targets, edges)]`.

e = prediction - target throughout.

Balanced MSE (`bmc_loss`, `bni_loss`, `gai_loss`) follows the official code
(github.com/jiawei-ren/BalancedMSE, `balanaced_mse.py`) term by term, with
these differences: the losses are per-example (the official ones return the
batch mean); the GAI mixture is fitted by `fit_label_gmm` (EM in NumPy)
rather than scikit-learn; BNI's bins are the run's label bins; and
`mse_weight` adds an optional plain MSE term (the official code has none),
a remedy for BMC's blind spot on a label isolated in its batch (see
`bmc_loss`).
"""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v

ACTIVATIONS = ("sigmoid", "tanh")


def _prepare(predictions, targets, weights=None):
  predictions = jnp.asarray(predictions)
  targets = jnp.asarray(targets)
  for name, x in (("predictions", predictions), ("targets", targets)):
    if not jnp.issubdtype(x.dtype, jnp.floating) and not jnp.issubdtype(
        x.dtype, jnp.integer):
      raise ValueError(f"{name} must be real numbers, got dtype {x.dtype}.")
  if not jnp.issubdtype(predictions.dtype, jnp.floating):
    raise ValueError(
        f"predictions must be floating point, got dtype {predictions.dtype}.")
  v.check_same_shape(predictions, targets, "predictions", "targets",
                     " Both need the same shape [B]: squeeze a trailing [B, 1] "
                     "axis first.")
  dtype = v.float_dtype(predictions, targets)
  error = predictions.astype(dtype) - targets.astype(dtype)
  if weights is not None:
    weights = jnp.asarray(weights)
    v.check_same_shape(weights, predictions, "weights", "predictions")
    weights = weights.astype(dtype)
  return error, weights


def _weighted(loss, weights):
  return loss if weights is None else loss * weights


def _modulation(abs_error, activation: str, beta, gamma):
  if activation not in ACTIVATIONS:
    raise ValueError(
        f"activation must be one of {ACTIVATIONS}, got {activation!r}.")
  v.check_scalar(beta, "beta", minimum=0.0)
  v.check_scalar(gamma, "gamma", minimum=0.0)
  if activation == "tanh":
    base = jnp.tanh(beta * abs_error)
  else:
    base = 2.0 * jax.nn.sigmoid(beta * abs_error) - 1.0
  return base ** gamma


def weighted_l1_loss(predictions: jax.typing.ArrayLike,
                     targets: jax.typing.ArrayLike, *,
                     weights: jax.typing.ArrayLike | None = None
                     ) -> jax.Array:
  """Computes w_i |e_i|.

  Args:
    predictions: float [B].
    targets: float [B].
    weights: optional float [B].

  Returns:
    float [B].
  """
  error, weights = _prepare(predictions, targets, weights)
  return _weighted(jnp.abs(error), weights)


def weighted_mse_loss(predictions: jax.typing.ArrayLike,
                      targets: jax.typing.ArrayLike, *,
                      weights: jax.typing.ArrayLike | None = None
                      ) -> jax.Array:
  """Computes w_i e_i^2.

  Args:
    predictions: float [B].
    targets: float [B].
    weights: optional float [B].

  Returns:
    float [B].
  """
  error, weights = _prepare(predictions, targets, weights)
  return _weighted(error * error, weights)


def focal_l1_loss(predictions: jax.typing.ArrayLike,
                  targets: jax.typing.ArrayLike, *,
                  weights: jax.typing.ArrayLike | None = None,
                  activation: str = "sigmoid", beta: float = 0.2,
                  gamma: float = 1.0) -> jax.Array:
  r"""Computes the focal-R L1 loss (Focal-R of Yang et al. 2021).

  .. math::
    \ell_i = w_i |e_i| (2 \sigma(\beta |e_i|) - 1)^\gamma
    \quad \text{or} \quad w_i |e_i| \tanh(\beta |e_i|)^\gamma

  Examples already fitted well (small |e|) are down-weighted.

  Args:
    predictions: float [B].
    targets: float [B].
    weights: optional float [B].
    activation: "sigmoid" (2 sigma(x) - 1) or "tanh".
    beta: scale of |e| inside the activation, >= 0 (0.2).
    gamma: focusing exponent, >= 0 (1).

  Returns:
    float [B].

  References:
    Yang et al., Delving into Deep Imbalanced Regression, ICML 2021
    (arXiv 2102.09554).
  """
  error, weights = _prepare(predictions, targets, weights)
  abs_error = jnp.abs(error)
  return _weighted(abs_error * _modulation(abs_error, activation, beta, gamma),
                   weights)


def focal_mse_loss(predictions: jax.typing.ArrayLike,
                   targets: jax.typing.ArrayLike, *,
                   weights: jax.typing.ArrayLike | None = None,
                   activation: str = "sigmoid", beta: float = 0.2,
                   gamma: float = 1.0) -> jax.Array:
  r"""Computes the focal-R MSE loss.

  .. math::
    \ell_i = w_i e_i^2 (2 \sigma(\beta |e_i|) - 1)^\gamma
    \quad \text{or} \quad w_i e_i^2 \tanh(\beta |e_i|)^\gamma

  The modulating factor uses |e| (not e^2), as in the reference code.

  Args:
    predictions: float [B].
    targets: float [B].
    weights: optional float [B].
    activation: "sigmoid" or "tanh".
    beta: >= 0 (0.2).
    gamma: >= 0 (1).

  Returns:
    float [B].

  References:
    Yang et al. (arXiv 2102.09554).
  """
  error, weights = _prepare(predictions, targets, weights)
  abs_error = jnp.abs(error)
  return _weighted(error * error * _modulation(abs_error, activation, beta,
                                               gamma), weights)


def huber_loss(predictions: jax.typing.ArrayLike,
               targets: jax.typing.ArrayLike, *,
               weights: jax.typing.ArrayLike | None = None,
               beta: float = 1.0) -> jax.Array:
  r"""Computes the (weighted) Huber / smooth-L1 loss.

  .. math::
    \ell_i = w_i \begin{cases} 0.5 e_i^2 / \beta & |e_i| < \beta \\
    |e_i| - 0.5 \beta & \text{otherwise} \end{cases}

  The reference code's `weighted_huber_loss` (PyTorch's smooth-L1 form).

  Args:
    predictions: float [B].
    targets: float [B].
    weights: optional float [B].
    beta: threshold, > 0 (1).

  Returns:
    float [B].
  """
  error, weights = _prepare(predictions, targets, weights)
  v.check_scalar(beta, "beta")
  beta_value = v.concrete(beta)
  if beta_value is not None and not beta_value > 0:
    raise ValueError(f"beta must be > 0, got {beta_value}.")
  abs_error = jnp.abs(error)
  loss = jnp.where(abs_error < beta, 0.5 * abs_error * abs_error / beta,
                   abs_error - 0.5 * beta)
  return _weighted(loss, weights)


def _noise_var(noise_sigma, dtype):
  sigma = jnp.asarray(noise_sigma)
  if sigma.ndim != 0:
    raise ValueError(
        f"noise_sigma must be a scalar, got shape {sigma.shape}.")
  value = v.concrete(noise_sigma)
  if value is not None and not value != 0:
    raise ValueError("noise_sigma must be non-zero.")
  return jnp.square(sigma.astype(dtype))


def _with_mse(loss, error, mse_weight):
  v.check_scalar(mse_weight, "mse_weight", minimum=0.0)
  if isinstance(mse_weight, (int, float)) and mse_weight == 0:
    return loss
  return loss + mse_weight * error * error


def bmc_loss(predictions: jax.typing.ArrayLike,
             targets: jax.typing.ArrayLike, *,
             noise_sigma: jax.typing.ArrayLike,
             mse_weight: float = 0.0) -> jax.Array:
  r"""Computes the Balanced MSE loss, batch Monte-Carlo (BMC) form.

  .. math::
    z_{ij} = -\frac{(\hat y_i - y_j)^2}{2 \sigma^2}, \qquad
    \ell_i = -\log \mathrm{softmax}_j(z_{i\cdot})_i \cdot
    \mathrm{sg}(2 \sigma^2) + \lambda e_i^2

  The targets of the batch stand in for the training label distribution, so
  the loss is MSE with the label prior divided out. The factor 2 sigma^2
  restores the MSE scale and is held constant (stop-gradient) so a learnable
  sigma is trained only through the softmax. The batch is the *global* batch:
  under `jax.jit` on a sharded batch the [B, B] logits span every device.

  An isolated label gets no pull toward its target. The softmax compares
  prediction i only with the batch's targets, so when y_i is far (in units
  of sigma) from every other target of the batch, any prediction on y_i's
  side of them already gives softmax_i = 1: the loss and its gradient are 0
  for all those predictions (63 targets near 85, one at 5, sigma = 2.8: zero
  for every prediction of the one from -200 to 15), so nothing stops it
  drifting. This is the batch estimate's nature, not a numerical fault.
  Remedies: a larger batch or sigma; `bni_loss` / `gai_loss`, whose
  balancing term uses the whole training label distribution (an isolated
  label inside its support keeps a gradient toward its target); or
  `mse_weight` lambda > 0, a plain MSE term added to every variant (an ltjax
  option: the official code has none; lambda is in squared label units).

  Args:
    predictions: float [B].
    targets: float [B].
    noise_sigma: float scalar sigma, fixed or learnable (the reference
      initialises it to 1.0 and trains it with its own learning rate); its
      sign does not matter.
    mse_weight: lambda >= 0, weight of the added plain MSE term (0: the
      official loss).

  Returns:
    float [B].

  Example:
    >>> loss = jnp.mean(bmc_loss(pred, y, noise_sigma=params["noise_sigma"]))

  References:
    Ren et al., Balanced MSE for Imbalanced Visual Regression, CVPR 2022
    (arXiv 2203.16427).
  """
  error, _ = _prepare(predictions, targets)
  predictions = jnp.asarray(predictions).astype(error.dtype)
  targets = jnp.asarray(targets).astype(error.dtype)
  if predictions.ndim != 1:
    raise ValueError(
        f"bmc_loss needs predictions of shape [B], got {predictions.shape}.")
  noise_var = _noise_var(noise_sigma, error.dtype)
  logits = -jnp.square(predictions[:, None] - targets[None, :]) / (
      2.0 * noise_var)
  cross_entropy = jax.nn.logsumexp(logits, axis=-1) - jnp.diagonal(logits)
  return _with_mse(cross_entropy * jax.lax.stop_gradient(2.0 * noise_var),
                   error, mse_weight)


def bni_loss(predictions: jax.typing.ArrayLike,
             targets: jax.typing.ArrayLike, *,
             noise_sigma: jax.typing.ArrayLike,
             bin_centers: jax.typing.ArrayLike,
             bin_weights: jax.typing.ArrayLike,
             mse_weight: float = 0.0) -> jax.Array:
  r"""Computes the Balanced MSE loss, bin-based numerical integration (BNI).

  .. math::
    \ell_i = \Big[\frac{e_i^2}{2\sigma^2} + \log \sum_k p_k
    \exp\Big(-\frac{(\hat y_i - c_k)^2}{2\sigma^2}\Big)\Big]
    \cdot \mathrm{sg}(2\sigma^2)

  with bin centres c_k and the training label distribution p_k over bins.
  Its gradient in the prediction is 2 (E_q[c] - y_i), q(k) proportional to
  p_k N(y^_i; c_k, sigma^2): it does not depend on the rest of the batch, so
  unlike `bmc_loss` an isolated label keeps a pull toward its target (up to
  the bin discretisation: a target at the edge of the support is pulled
  toward its bin's centre).

  Args:
    predictions: float [B].
    targets: float [B].
    noise_sigma: float scalar sigma.
    bin_centers: float [K] (`bin_centers(edges)`).
    bin_weights: float [K] >= 0, the empirical training label distribution
      (counts / N); bins with p_k = 0 drop out.
    mse_weight: lambda >= 0, weight of an added plain MSE term (see
      `bmc_loss`).

  Returns:
    float [B].

  References:
    Ren et al. (arXiv 2203.16427).
  """
  error, _ = _prepare(predictions, targets)
  dtype = error.dtype
  predictions = jnp.asarray(predictions).astype(dtype)
  centers = jnp.asarray(bin_centers).astype(dtype)
  prior = jnp.asarray(bin_weights).astype(dtype)
  if centers.ndim != 1 or prior.shape != centers.shape:
    raise ValueError(
        f"bin_centers and bin_weights must both be [K], got {centers.shape} "
        f"and {prior.shape}.")
  noise_var = _noise_var(noise_sigma, dtype)
  mse_term = error * error / (2.0 * noise_var)
  balancing = jax.nn.logsumexp(
      -jnp.square(predictions[:, None] - centers[None, :]) / (2.0 * noise_var),
      axis=-1, b=jnp.broadcast_to(prior, (predictions.shape[0],) +
                                  prior.shape))
  return _with_mse((mse_term + balancing) * jax.lax.stop_gradient(
      2.0 * noise_var), error, mse_weight)


def gai_loss(predictions: jax.typing.ArrayLike,
             targets: jax.typing.ArrayLike, *,
             noise_sigma: jax.typing.ArrayLike,
             gmm_means: jax.typing.ArrayLike,
             gmm_variances: jax.typing.ArrayLike,
             gmm_weights: jax.typing.ArrayLike,
             mse_weight: float = 0.0) -> jax.Array:
  r"""Computes the Balanced MSE loss, GMM-based analytic integration (GAI).

  .. math::
    \ell_i = \Big[\frac{e_i^2}{2\sigma^2} + \tfrac12 \log\sigma^2 +
    \log \sum_m \pi_m \mathcal{N}(\hat y_i; \mu_m, v_m + \sigma^2)
    \sqrt{2\pi}\Big] \cdot \mathrm{sg}(2\sigma^2)

  with the training label distribution modelled as a 1-D Gaussian mixture
  (pi, mu, v), e.g. from `fit_label_gmm`. (The constant sqrt(2 pi) is the
  reference code's: its balancing term is -0.5 log(v + sigma^2) - 0.5
  (y^ - mu)^2 / (v + sigma^2) + log pi.) Like `bni_loss`, the balancing term
  uses the training label distribution, not the batch, so an isolated label
  keeps a gradient toward its target.

  Args:
    predictions: float [B].
    targets: float [B].
    noise_sigma: float scalar sigma.
    gmm_means: float [M].
    gmm_variances: float [M], > 0.
    gmm_weights: float [M], >= 0, summing to 1.
    mse_weight: lambda >= 0, weight of an added plain MSE term (see
      `bmc_loss`).

  Returns:
    float [B].

  References:
    Ren et al., Balanced MSE for Imbalanced Visual Regression, CVPR 2022
    (arXiv 2203.16427).
  """
  error, _ = _prepare(predictions, targets)
  dtype = error.dtype
  predictions = jnp.asarray(predictions).astype(dtype)
  means, variances, weights = (jnp.asarray(x).astype(dtype) for x in (
      gmm_means, gmm_variances, gmm_weights))
  if means.ndim != 1 or variances.shape != means.shape or (
      weights.shape != means.shape):
    raise ValueError(
        f"gmm_means, gmm_variances and gmm_weights must all be [M], got "
        f"{means.shape}, {variances.shape} and {weights.shape}.")
  noise_var = _noise_var(noise_sigma, dtype)
  mse_term = error * error / (2.0 * noise_var) + 0.5 * jnp.log(noise_var)
  total_var = variances[None, :] + noise_var
  balancing = jax.nn.logsumexp(
      -0.5 * jnp.log(total_var)
      - 0.5 * jnp.square(predictions[:, None] - means[None, :]) / total_var,
      axis=-1, b=jnp.broadcast_to(weights, total_var.shape))
  return _with_mse((mse_term + balancing) * jax.lax.stop_gradient(
      2.0 * noise_var), error, mse_weight)


def fit_label_gmm(labels, *, num_components: int = 8, iterations: int = 200,
                  seed: int = 0, min_variance: float = 1e-3
                  ) -> dict[str, np.ndarray]:
  """Fits a 1-D Gaussian mixture to training labels by EM (host, NumPy).

  Initialised from `num_components` distinct labels drawn with a seeded
  generator (variances: the label variance); the reference fits
  `sklearn.mixture.GaussianMixture` instead.

  Args:
    labels: float [N].
    num_components: M >= 1.
    iterations: EM iterations.
    seed: initialisation seed.
    min_variance: floor of every component's variance.

  Returns:
    {"means", "variances", "weights"} -> float32 [M] (`gai_loss`'s
    gmm_* arguments).
  """
  y = np.asarray(labels, np.float64).reshape(-1)
  if y.size < num_components or num_components < 1:
    raise ValueError(
        f"need at least num_components = {num_components} >= 1 labels, got "
        f"{y.size}.")
  rng = np.random.default_rng(seed)
  distinct = np.unique(y)
  means = rng.choice(distinct, size=num_components,
                     replace=distinct.size < num_components)
  variances = np.full(num_components, max(y.var(), min_variance))
  weights = np.full(num_components, 1.0 / num_components)
  for _ in range(iterations):
    log_p = (np.log(weights)[None] - 0.5 * np.log(2 * np.pi * variances)[None]
             - 0.5 * (y[:, None] - means[None]) ** 2 / variances[None])
    log_p -= log_p.max(1, keepdims=True)
    resp = np.exp(log_p)
    resp /= resp.sum(1, keepdims=True)
    mass = resp.sum(0) + 1e-12
    weights = mass / y.size
    means = (resp * y[:, None]).sum(0) / mass
    variances = np.maximum(
        (resp * (y[:, None] - means[None]) ** 2).sum(0) / mass, min_variance)
  return {"means": means.astype(np.float32),
          "variances": variances.astype(np.float32),
          "weights": (weights / weights.sum()).astype(np.float32)}
