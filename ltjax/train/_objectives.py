"""Training objectives chosen by name: a per-example loss plus class weights.

An objective is `objective(logits, labels, step) -> scalar`, built once at
start-up from the loss config and the training class counts. Step-dependent
policy (deferred re-weighting) reads the step through `jnp.where`, so the
compiled train step is the same for the whole schedule.

Reduction: with class weights w the loss is sum_i w_{y_i} l_i / sum_i w_{y_i},
PyTorch's `cross_entropy(weight=w)` (the LDAM repo's convention for CE and
LDAM); without, the plain mean.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import losses


@dataclasses.dataclass(frozen=True)
class LossSpec:
  """A registered loss and its default re-weighting.

  `build(cfg, class_counts)` returns the per-example loss `(logits, labels)
  -> [B]` with the config's hyperparameters and the class statistics bound.
  """
  build: Callable[..., Callable[[jax.Array, jax.Array], jax.Array]]
  default_reweight: str = "none"
  needs_normalized_head: bool = False


def _margins(cfg, counts):
  """The [C, C] margin matrix of the pairwise-margin loss."""
  if cfg.margins == "logit_adjusted":
    log_pi = np.log(counts / counts.sum())
    return cfg.tau * (log_pi[None, :] - log_pi[:, None])
  if cfg.margins == "ldam":
    m = np.asarray(losses.ldam_margins(counts, max_margin=cfg.max_margin))
    return np.repeat(m[:, None], len(counts), axis=1)
  if cfg.margins == "zero":
    return np.zeros((len(counts), len(counts)))
  raise ValueError(
      f"loss.margins must be one of {list(PAIRWISE_MARGINS)}, got "
      f"{cfg.margins!r}.")


PAIRWISE_MARGINS = ("logit_adjusted", "ldam", "zero")


def _pairwise(cfg, counts):
  margins = _margins(cfg, counts)
  return lambda z, y: losses.pairwise_margin_loss(z, y, margins=margins)


LOSSES = {
    "ce": LossSpec(lambda cfg, n: losses.weighted_cross_entropy),
    "weighted_ce": LossSpec(lambda cfg, n: losses.weighted_cross_entropy,
                            default_reweight="inverse"),
    "focal": LossSpec(lambda cfg, n: lambda z, y: losses.focal_loss(
        z, y, gamma=cfg.gamma)),
    "cb_focal": LossSpec(lambda cfg, n: lambda z, y: losses.focal_loss(
        z, y, gamma=cfg.gamma), default_reweight="class_balanced"),
    "ldam": LossSpec(lambda cfg, n: lambda z, y: losses.ldam_loss(
        z, y, class_counts=n, max_margin=cfg.max_margin, scale=cfg.scale),
                     needs_normalized_head=True),
    "logit_adjusted": LossSpec(
        lambda cfg, n: lambda z, y: losses.logit_adjusted_loss(
            z, y, class_priors=n / n.sum(), tau=cfg.tau)),
    "balanced_softmax": LossSpec(
        lambda cfg, n: lambda z, y: losses.balanced_softmax_loss(
            z, y, class_counts=n)),
    "pairwise_margin": LossSpec(_pairwise),
}

REWEIGHTS = ("default", "none", "inverse", "sqrt_inverse", "class_balanced",
             "drw")


def resolve_reweight(cfg) -> str:
  """The re-weighting rule in effect: the config's, or the loss's default."""
  if cfg.reweight not in REWEIGHTS:
    raise ValueError(
        f"loss.reweight must be one of {list(REWEIGHTS)}, got "
        f"{cfg.reweight!r}.")
  if cfg.reweight == "default":
    return LOSSES[cfg.name].default_reweight
  return cfg.reweight


def _class_weights(rule: str, cfg, counts, drw_start_step: int):
  """step -> float [C] class weights, or None for unweighted."""
  if rule == "none":
    return None
  if rule in ("inverse", "sqrt_inverse"):
    fixed = losses.inverse_frequency_weights(
        counts, power=1.0 if rule == "inverse" else 0.5)
    return lambda step: fixed
  if rule == "class_balanced":
    fixed = losses.class_balanced_weights(counts, beta=cfg.beta)
    return lambda step: fixed
  if rule == "drw":
    return lambda step: losses.drw_class_weights(
        step, class_counts=counts, start_step=drw_start_step, beta=cfg.beta)
  raise ValueError(f"unknown re-weighting rule {rule!r}.")


def make_objective(cfg, class_counts, *, steps_per_epoch: int
                   ) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
  """Builds `objective(logits, labels, step) -> scalar loss`.

  Args:
    cfg: the `loss` config: name, reweight, beta, drw_start_epoch, tau,
      gamma, max_margin, scale, margins.
    class_counts: [C] training examples per class (all positive).
    steps_per_epoch: converts `drw_start_epoch` to a step.

  Returns:
    The objective, jittable, with the step as a traced argument.
  """
  if cfg.name not in LOSSES:
    raise ValueError(
        f"loss.name {cfg.name!r} is not a known loss; known: "
        f"{sorted(LOSSES)}.")
  counts = np.asarray(class_counts, np.float64)
  if np.any(counts <= 0):
    raise ValueError(
        f"every class needs training examples for the losses, but classes "
        f"{np.flatnonzero(counts <= 0).tolist()} have none; check the "
        f"data, data.imbalance_ratio (exp / step profiles) and "
        f"data.val_per_class (validation held out of the training split).")
  per_example = LOSSES[cfg.name].build(cfg, counts.astype(np.float32))
  weights_at = _class_weights(resolve_reweight(cfg), cfg,
                              counts.astype(np.float32),
                              cfg.drw_start_epoch * steps_per_epoch)

  def objective(logits, labels, step):
    values = per_example(logits, labels)
    if weights_at is None:
      return jnp.mean(values)
    return losses.weighted_mean(values, labels, class_weights=weights_at(step))

  return objective
