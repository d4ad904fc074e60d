"""Training objectives chosen by name: a per-example loss plus class weights.

An objective is `objective(logits, labels, step) -> scalar`, built once at
start-up from the loss config and the training class counts. Step-dependent
policy (deferred re-weighting) reads the step through `jnp.where`, so the
compiled train step is the same for the whole schedule.

Reduction: with class weights w the loss is sum_i w_{y_i} l_i / sum_i w_{y_i},
PyTorch's `cross_entropy(weight=w)` (the LDAM repo's convention for CE and
LDAM); without, the plain mean.

Mixed targets (mixup, CutMix, Remix; `ltjax.mixing`): with a second label
y_b and the weight a_i of y_a, the loss is

    R(a * l(z, y_a); y_a) + R((1 - a) * l(z, y_b); y_b),

R the reduction above, so with one a per batch it is a R(l(z, y_a)) +
(1 - a) R(l(z, y_b)), the mixup papers' criterion, for every loss of the
registry and with DRW; a = 1 gives exactly the unmixed loss. A batch-level
term (LADE) is mixed as mean(a) L(z, y_a) + (1 - mean(a)) L(z, y_b).
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import losses
from ltjax.train import _tricks


@dataclasses.dataclass(frozen=True)
class LossSpec:
  """A registered loss and its default re-weighting.

  `build(cfg, class_counts)` returns the per-example loss `(logits, labels)
  -> [B]` with the config's hyperparameters and the class statistics bound.
  `batch_term(cfg, class_counts)`, if given, returns a batch-level loss
  `(logits, labels) -> scalar` added to the reduced per-example loss (LADE's
  regulariser); re-weighting does not apply to it. `logit_offset(cfg,
  class_counts)`, for a loss that is CE of z + o, returns o [C] (what
  `loss.deferred_adjustment` switches on at `loss.drw_start_epoch`).
  """
  build: Callable[..., Callable[[jax.Array, jax.Array], jax.Array]]
  default_reweight: str = "none"
  needs_normalized_head: bool = False
  batch_term: Callable[..., Callable[[jax.Array, jax.Array],
                                     jax.Array]] | None = None
  logit_offset: Callable[..., np.ndarray] | None = None


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
            z, y, class_priors=n / n.sum(), tau=cfg.tau),
        logit_offset=lambda cfg, n: cfg.tau * np.log(n / n.sum())),
    "balanced_softmax": LossSpec(
        lambda cfg, n: lambda z, y: losses.balanced_softmax_loss(
            z, y, class_counts=n),
        logit_offset=lambda cfg, n: np.log(n)),
    "pairwise_margin": LossSpec(_pairwise),
    # Kini et al. (NeurIPS 2021): CE of z / Delta + iota (vector scaling).
    "vs": LossSpec(lambda cfg, n: lambda z, y: losses.vs_loss(
        z, y, class_counts=n, gamma=cfg.vs_gamma, tau=cfg.vs_tau)),
    # Hong et al. 2012.00321: the prior CE (= balanced softmax) plus
    # lade_alpha times the batch-level LADE regulariser.
    "lade": LossSpec(
        lambda cfg, n: lambda z, y: losses.balanced_softmax_loss(
            z, y, class_counts=n),
        batch_term=lambda cfg, n: lambda z, y: cfg.lade_alpha * (
            losses.lade_loss(z, y, class_counts=n,
                             remine_lambda=cfg.remine_lambda))),
    # Zhong et al. 2104.00466 (MiSLAS's stage-2 loss, usable in any stage).
    "label_aware_smoothing": LossSpec(
        lambda cfg, n: lambda z, y: losses.label_aware_smoothing_loss(
            z, y, class_counts=n, smooth_head=cfg.smooth_head,
            smooth_tail=cfg.smooth_tail, shape=cfg.smooth_shape,
            power=cfg.smooth_power if cfg.smooth_shape == "exp" else None)),
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


def class_weights(rule: str, cfg, counts, drw_start_step: int):
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


def check_counts(class_counts) -> np.ndarray:
  counts = np.asarray(class_counts, np.float64)
  if np.any(counts <= 0):
    raise ValueError(
        f"every class needs training examples for the losses, but classes "
        f"{np.flatnonzero(counts <= 0).tolist()} have none; check the "
        f"data, data.imbalance_ratio (exp / step profiles) and "
        f"data.val_per_class (validation held out of the training split).")
  return counts


def uses_tau(cfg) -> bool:
  """Whether the loss `cfg` (config.loss) reads `cfg.tau` in its formula:
  the logit-adjusted loss, and the pairwise-margin loss with logit-adjusted
  margins."""
  return cfg.name == "logit_adjusted" or (
      cfg.name == "pairwise_margin"
      and cfg.get("margins", "") == "logit_adjusted")


class _WithTau:
  """`cfg` with `tau` replaced (a traced value; a ConfigDict holds floats)."""

  def __init__(self, cfg, tau):
    self._cfg, self.tau = cfg, tau

  def __getattr__(self, name):
    return getattr(self._cfg, name)

  def get(self, name, default=None):
    return self.tau if name == "tau" else self._cfg.get(name, default)


class Objective:
  """`objective(logits, labels, step, *, labels_b=None, weight_a=None)`.

  Built by `make_objective`. Called with (logits [B, C], labels [B], step)
  it is the reduced loss of the module docstring; with `labels_b` [B] and
  `weight_a` float [B] (the weight of `labels`), the mixed loss.
  `part(..., classes=mask)` is the share of the loss from the examples
  whose label is in the bool [C] `mask` (normaliser unchanged, no batch
  term), so the loss splits into the parts of disjoint class sets (ImbSAM's
  head and tail losses).
  """

  def __init__(self, per_example_at, weights_at, batch_term, at_tau=None):
    self.per_example_at = per_example_at
    self.weights_at = weights_at
    self.batch_term = batch_term
    self._at_tau = at_tau

  def at_tau(self, tau) -> "Objective":
    """This objective with `loss.tau` = `tau`, a traced scalar (a replica's
    value of a `config.sweep` of loss.tau): one compiled step for every
    value. Only for a loss whose formula reads tau (`uses_tau`)."""
    if self._at_tau is None:
      raise ValueError("this loss does not read loss.tau (`uses_tau`).")
    return self._at_tau(tau)

  def _reduce(self, values, labels, weights):
    if weights is None:
      return jnp.mean(values)
    return losses.weighted_mean(values, labels, class_weights=weights)

  def _reduced(self, logits, labels, step, labels_b, weight_a, classes):
    weights = None if self.weights_at is None else self.weights_at(step)
    per_example = self.per_example_at(step)

    def term(values, y, scale):
      if scale is not None:
        values = scale * values
      if classes is not None:
        values = jnp.where(jnp.asarray(classes)[y], values, 0.0)
      return self._reduce(values, y, weights)

    if labels_b is None:
      return term(per_example(logits, labels), labels, None)
    weight_a = weight_a.astype(logits.dtype)
    return (term(per_example(logits, labels), labels, weight_a)
            + term(per_example(logits, labels_b), labels_b,
                   1.0 - weight_a))

  def __call__(self, logits, labels, step, *, labels_b=None, weight_a=None):
    loss = self._reduced(logits, labels, step, labels_b, weight_a, None)
    if self.batch_term is not None:
      if labels_b is None:
        loss = loss + self.batch_term(logits, labels)
      else:
        a = jnp.mean(weight_a.astype(logits.dtype))
        loss = loss + (a * self.batch_term(logits, labels)
                       + (1.0 - a) * self.batch_term(logits, labels_b))
    return loss

  def part(self, logits, labels, step, *, classes, labels_b=None,
           weight_a=None):
    return self._reduced(logits, labels, step, labels_b, weight_a, classes)


def make_objective(cfg, class_counts, *, steps_per_epoch: int) -> Objective:
  """Builds `objective(logits, labels, step) -> scalar loss`.

  Args:
    cfg: the `loss` config: name, reweight, beta, drw_start_epoch and the
      loss's hyperparameters (tau, gamma, max_margin, scale, margins,
      vs_gamma, vs_tau, lade_alpha, remine_lambda, smooth_*).
    class_counts: [C] training examples per class (all positive).
    steps_per_epoch: converts `drw_start_epoch` to a step.

  Returns:
    The `Objective`, jittable, with the step as a traced argument; it also
    takes mixed targets (`labels_b`, `weight_a`).
  """
  if cfg.name not in LOSSES:
    raise ValueError(
        f"loss.name {cfg.name!r} is not a known loss; known: "
        f"{sorted(LOSSES)}.")
  counts = check_counts(class_counts)
  spec = LOSSES[cfg.name]
  start = cfg.drw_start_epoch * steps_per_epoch
  smoothing = float(cfg.get("label_smoothing", 0.0))
  if cfg.get("deferred_adjustment", False):
    per_example_at = _deferred_adjustment(spec, cfg, counts, start,
                                          smoothing)
  else:
    per_example = _tricks.smoothed_loss(
        spec.build(cfg, counts.astype(np.float32)), len(counts), smoothing)
    per_example_at = lambda step: per_example
  weights_at = class_weights(resolve_reweight(cfg), cfg,
                              counts.astype(np.float32), start)
  batch_term = (None if spec.batch_term is None else
                spec.batch_term(cfg, counts.astype(np.float32)))
  at_tau = None
  if uses_tau(cfg):
    at_tau = lambda tau: make_objective(  # pylint: disable=g-long-lambda
        _WithTau(cfg, tau), class_counts, steps_per_epoch=steps_per_epoch)
  return Objective(per_example_at, weights_at, batch_term, at_tau)


def _deferred_adjustment(spec, cfg, counts, start_step: int, smoothing):
  """`step -> per-example loss`: CE(z + [step >= start] o) (o: the loss's
  `logit_offset`), i.e. plain CE before the switch and the adjusted loss
  from it; Bag-of-Tricks' `BalancedSoftmaxCE` with `drw` (`update()`: the
  count weights are ones before `drw_start_epoch`, no class weights)."""
  if spec.logit_offset is None:
    raise ValueError(
        f"loss.deferred_adjustment is for a loss that is CE of shifted "
        f"logits ({sorted(k for k, v in LOSSES.items() if v.logit_offset)}),"
        f" not loss.name={cfg.name!r}.")
  offset = spec.logit_offset(cfg, counts)
  offset = (np.asarray(offset, np.float32) if isinstance(offset, np.ndarray)
            else jnp.asarray(offset, jnp.float32))  # a traced tau's

  def per_example_at(step):
    shift = jnp.where(step >= start_step, jnp.asarray(offset), 0.0)

    def loss(logits, labels):
      return losses.weighted_cross_entropy(
          logits + shift.astype(logits.dtype), labels)

    return _tricks.smoothed_loss(loss, len(counts), smoothing)

  return per_example_at
