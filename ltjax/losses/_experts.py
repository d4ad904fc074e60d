"""Losses of multi-expert ensembles: RIDE, SADE and ACE.

Glossary: E experts, B batch, C classes. `expert_logits: float [E, B, C]` are
the experts' logits for one batch (already multiplied by the scale s of a
normalised head, as the originals' models do), `labels: int [B] in [0, C)`.

Unlike the single-head losses, RIDE's and ACE's losses are batch-level (a KL
`batchmean` against the batch's ensemble, per-expert means over sub-batches)
and return a scalar; SADE's returns the per-example sum over its three experts,
[B]. Class statistics are arguments, as everywhere in ltjax.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import _validation as v
from ltjax.losses import _classification
from ltjax.losses import _distill


def _prepare_experts(expert_logits, labels, name="expert_logits"):
  """(float [E, B, C] logits, safe labels [B], in-range mask [B])."""
  z = v.check_logits(expert_logits, name)
  if z.ndim != 3 or z.shape[0] < 1:
    raise ValueError(
        f"{name} must have shape [E, B, C] (experts, batch, classes) with "
        f"E >= 1, got shape {z.shape}; stack the experts' [B, C] logits on a "
        f"new leading axis.")
  labels = v.check_labels(labels, z[0])
  labels, in_range = v.safe_labels(labels, z.shape[-1])
  return z.astype(v.float_dtype(z)), labels, in_range


def _nan_if_any_out_of_range(loss, in_range):
  """A batch-level loss is NaN if any traced label left [0, C)."""
  return jnp.where(jnp.all(in_range), loss, jnp.asarray(jnp.nan, loss.dtype))


def _true_class(values, labels):
  """values[..., b, labels[b]] for values [..., B, C] and labels [B]."""
  idx = jnp.broadcast_to(labels[..., None], values.shape[:-1] + (1,))
  return jnp.take_along_axis(values, idx, axis=-1)[..., 0]


def _cross_entropy(logits, labels):
  """-log softmax(logits)_y over the last axis; logits [..., B, C]."""
  return jax.nn.logsumexp(logits, axis=-1) - _true_class(logits, labels)


# ----------------------------------------------------------------------------
# RIDE
# ----------------------------------------------------------------------------


def ride_diversity_temperatures(class_counts: jax.typing.ArrayLike, *,
                                reweight_factor: float = 0.05) -> jax.Array:
  r"""Returns RIDE's per-class diversity temperatures (before the base T).

  .. math::
    T_c = \frac{C \pi_c r + 1 - r}{\max_k (C \pi_k r + 1 - r)},
    \qquad \pi = n / \sum n

  (RIDE `RIDELoss.__init__`, `per_cls_weights_enabled_diversity`). Head
  classes get T_c = 1 and tail classes a lower temperature, so the diversity
  term sharpens their part of the distributions.

  Args:
    class_counts: [C] training examples per class, positive.
    reweight_factor: r, with C pi_c r + 1 - r > 0 for every class.

  Returns:
    float [C], the largest entry 1.

  References:
    Wang et al., Long-tailed Recognition by Routing Diverse
    Distribution-Aware Experts, ICLR 2021 (arXiv 2010.01809).
  """
  v.check_scalar(reweight_factor, "reweight_factor")
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  priors = counts / jnp.sum(counts)
  num_classes = counts.shape[0]
  t = num_classes * priors * reweight_factor + 1.0 - reweight_factor
  values = v.concrete(class_counts)
  if values is not None and v.concrete(reweight_factor) is not None:
    pv = np.asarray(values, np.float64) / np.sum(values)
    tv = num_classes * pv * float(reweight_factor) + 1.0 - float(
        reweight_factor)
    if np.any(tv <= 0):
      raise ValueError(
          f"reweight_factor={float(reweight_factor)} is too large: it makes "
          f"the diversity temperature of class(es) "
          f"{np.flatnonzero(tv <= 0).tolist()} non-positive (the original "
          f"asserts 'reweight factor is too large'); use a smaller one.")
  return t / jnp.max(t)


def _weights_differ(weights):
  """True (traced bool) unless all class weights are equal."""
  return jnp.any(weights != weights[0])


def ride_loss(expert_logits: jax.typing.ArrayLike,
              labels: jax.typing.ArrayLike, *,
              class_counts: jax.typing.ArrayLike,
              class_weights: jax.typing.ArrayLike | None = None,
              max_margin: float = 0.5, scale: float = 30.0,
              diversity_factor: float = -0.2,
              diversity_temperature: float = 1.0,
              reweight_factor: float = 0.05) -> jax.Array:
  r"""Computes RIDE's multi-expert loss (LDAM per expert + diversity).

  .. math::
    L = \sum_{e=1}^{E} \Big[\mathrm{CE}_w\big(z_e - s\, m_y e_y\big)
      + \lambda\, \bar T^2\, \frac{1}{B} \sum_i
      \mathrm{KL}\big(\mathrm{sg}[\mathrm{softmax}(\bar z_i / T)] \,\|\,
      \mathrm{softmax}(z_{e,i} / T)\big)\Big],
    \qquad \bar z = \frac{1}{E}\sum_e z_e

  Follows `RIDELoss.forward` of frank-xwang/RIDE-LongTailRecognition
  (`model/loss.py`):

  * The LDAM margin m_c = max_margin n_c^{-1/4} / max (`ldam_margins`) is
    multiplied by `scale` s and subtracted from the true-class logit of the
    raw expert logits; the logits themselves are not scaled (RIDE's model
    multiplies the normalised head by s). CE_w is the mean over the batch,
    or with `class_weights` w the PyTorch weighted mean
    sum_i w_{y_i} CE_i / sum_i w_{y_i} (`weighted_mean`).
  * lambda = `diversity_factor` (the original's
    `additional_diversity_factor`; class default -0.2, its CIFAR configs
    -0.45): negative, so the experts are pushed *away* from the ensemble.
    The ensemble z-bar is the plain mean of the expert logits (RIDE's model
    `torch.stack(outs, dim=1).mean(dim=1)`), computed inside `no_grad`, so no
    gradient flows through the KL's target (`stop_gradient` here); KL uses
    `reduction='batchmean'` (sum over classes and batch, divided by B).
    Because z-bar is the mean of the logits, the gradient that would flow
    through the target sums over experts to zero anyway
    (sum_e log softmax(z_e / T) - E log softmax(z-bar / T) is constant over
    classes), so the stop-gradient does not change the value or gradient.
  * Temperature: T = `diversity_temperature` (the original's
    `base_diversity_temperature`) while DRW is off. When DRW is on the
    original multiplies it by a per-class vector of shape [1, C]
    (`ride_diversity_temperatures`): column c of *every* example's logits is
    divided by T_c — the temperature belongs to the logit's class, not to
    the example's target class — and T-bar^2 uses the mean of the C
    temperatures (`temperature_mean = diversity_temperature.mean()`).
  * DRW on/off: the original switches the CE weights and the per-class
    temperature together (`epoch > reweight_epoch`). Here DRW counts as on
    when `class_weights` is given and its entries are not all equal, so
    `class_weights=drw_class_weights(step, ...)` (ones before its start
    step) reproduces the switch inside one compiled step. Equal weights
    give the plain mean and the scalar T, as the original before DRW.
  * Special case kept from the original: with `diversity_factor == 0` the
    LDAM term of every expert is computed on the ensemble logits z-bar
    (`ride_loss_logits = output_logits if additional_diversity_factor == 0`),
    i.e. E * LDAM(z-bar), not on each expert's own logits.
  * The terms are summed over experts, not averaged; `base_loss_factor` (1
    in every shipped config) is not exposed.

  Args:
    expert_logits: float [E, B, C], s times the cosine logits of each head.
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.
    class_weights: optional float [C], non-negative (DRW: effective-number
      weights, `class_balanced_weights` / `drw_class_weights`).
    max_margin: LDAM margin of the rarest class (original `max_m`).
    scale: s, the factor on the margin (original `s`).
    diversity_factor: lambda (original `additional_diversity_factor`).
    diversity_temperature: base T > 0 (original
      `base_diversity_temperature`).
    reweight_factor: r of the per-class temperatures (original
      `reweight_factor`).

  Returns:
    float scalar; NaN if a traced label lies outside [0, C).

  References:
    Wang et al., Long-tailed Recognition by Routing Diverse
    Distribution-Aware Experts, ICLR 2021 (arXiv 2010.01809).
  """
  v.check_scalar(scale, "scale", minimum=0.0)
  v.check_scalar(diversity_factor, "diversity_factor")
  v.check_scalar(diversity_temperature, "diversity_temperature",
                 minimum=0.0)
  if (v.concrete(diversity_temperature) is not None
      and float(diversity_temperature) == 0.0):
    raise ValueError("diversity_temperature must be > 0, got 0.")
  z, labels, in_range = _prepare_experts(expert_logits, labels)
  dtype = z.dtype
  num_classes = z.shape[-1]
  v.check_class_vector(class_counts, num_classes, "class_counts",
                       positive=True)
  margins = _classification.ldam_margins(
      class_counts, max_margin=max_margin).astype(dtype)
  ensemble = jnp.mean(z, axis=0)  # [B, C]
  factor = jnp.asarray(diversity_factor, dtype)
  base_logits = jnp.where(factor == 0, ensemble[None], z)
  one_hot = jax.nn.one_hot(labels, num_classes, dtype=dtype)
  adjusted = base_logits - jnp.asarray(scale, dtype) * (
      one_hot * margins[labels][:, None])
  ce = _cross_entropy(adjusted, labels)  # [E, B]
  base_t = jnp.asarray(diversity_temperature, dtype)
  if class_weights is None:
    base = jnp.mean(ce, axis=-1)
    temperature = base_t
    temperature_mean = base_t
  else:
    weights = v.check_class_vector(class_weights, num_classes,
                                   "class_weights", nonnegative=True)
    w_y = weights.astype(dtype)[labels]
    base = jnp.sum(w_y * ce, axis=-1) / jnp.sum(w_y)
    per_class = base_t * ride_diversity_temperatures(
        class_counts, reweight_factor=reweight_factor).astype(dtype)
    drw_on = _weights_differ(weights)
    temperature = jnp.where(drw_on, per_class,
                            jnp.full((num_classes,), base_t))
    temperature_mean = jnp.where(drw_on, jnp.mean(per_class), base_t)
  log_p_expert = jax.nn.log_softmax(z / temperature, axis=-1)
  log_p_mean = jax.lax.stop_gradient(
      jax.nn.log_softmax(ensemble / temperature, axis=-1))
  kl = jnp.sum(jnp.exp(log_p_mean) * (log_p_mean - log_p_expert), axis=-1)
  diversity = jnp.mean(kl, axis=-1)  # batchmean, [E]
  loss = jnp.sum(base + factor * temperature_mean ** 2 * diversity)
  return _nan_if_any_out_of_range(loss, in_range)


def ride_distill_loss(expert_logits: jax.typing.ArrayLike,
                      labels: jax.typing.ArrayLike,
                      teacher_logits: jax.typing.ArrayLike, *,
                      class_counts: jax.typing.ArrayLike,
                      class_weights: jax.typing.ArrayLike | None = None,
                      max_margin: float = 0.5, scale: float = 30.0,
                      diversity_factor: float = -0.2,
                      diversity_temperature: float = 1.0,
                      reweight_factor: float = 0.05,
                      distill_temperature: float = 1.0,
                      distill_weight: float = 1.0,
                      ride_weight: float = 1.0) -> jax.Array:
  r"""Computes RIDE's loss with distillation from a teacher ensemble.

  .. math::
    L = E \Big[\rho\, L_\mathrm{RIDE}
      + \gamma\, T_d^2\, \frac{1}{B}\sum_i \mathrm{KL}\big(
      \mathrm{sg}[\mathrm{softmax}(t_i / T_d)] \,\|\,
      \mathrm{softmax}(\bar z_i / T_d)\big)\Big]

  Follows `RIDELossWithDistill.forward` (RIDE repo, `model/loss.py`): the
  student is the ensemble output z-bar (mean of the E expert logits), the
  teacher t is the teacher model's output (for RIDE, the mean of its own
  experts, e.g. 6), KL with `batchmean` times T_d^2. Note the original's
  loop: `for logits_item in extra_info['logits']` adds the *whole* RIDE loss
  (itself summed over experts) and the distillation term once per student
  expert without using `logits_item`, so both terms are multiplied by E;
  ltjax keeps that factor so the gradient scale (and the learning rate that
  goes with it) matches the original.

  Defaults are the original class defaults: `distill_temperature=1.0`,
  `distill_weight=1.0` (`additional_distill_loss_factor`) and
  `ride_weight=1.0` (`ride_loss_factor`); every shipped distill config
  (`configs/*_distill_ride.json`) sets `distill_temperature` 1.5, and the
  CIFAR-100 one `additional_diversity_factor` -0.45.

  Args:
    expert_logits: float [E, B, C], the student's expert logits.
    labels: int [B] in [0, C).
    teacher_logits: float [B, C], the teacher ensemble's output (held fixed).
    class_counts, class_weights, max_margin, scale, diversity_factor,
      diversity_temperature, reweight_factor: as in `ride_loss`.
    distill_temperature: T_d > 0.
    distill_weight: gamma (original `additional_distill_loss_factor`).
    ride_weight: rho (original `ride_loss_factor`).

  Returns:
    float scalar.

  References:
    Wang et al., Long-tailed Recognition by Routing Diverse
    Distribution-Aware Experts, ICLR 2021 (arXiv 2010.01809).
  """
  v.check_scalar(distill_weight, "distill_weight")
  v.check_scalar(ride_weight, "ride_weight")
  ride = ride_loss(expert_logits, labels, class_counts=class_counts,
                   class_weights=class_weights, max_margin=max_margin,
                   scale=scale, diversity_factor=diversity_factor,
                   diversity_temperature=diversity_temperature,
                   reweight_factor=reweight_factor)
  z = jnp.asarray(expert_logits)
  student = jnp.mean(z.astype(v.float_dtype(z)), axis=0)
  teacher = v.check_logits(teacher_logits, "teacher_logits")
  v.check_same_shape(teacher, student, "teacher_logits",
                     "the ensemble of expert_logits",
                     " The teacher's output must be [B, C] for this batch.")
  kd = jnp.mean(_distill.distillation_loss(
      student, teacher, temperature=distill_temperature))
  num_experts = z.shape[0]
  dtype = ride.dtype
  return num_experts * (jnp.asarray(ride_weight, dtype) * ride
                        + jnp.asarray(distill_weight, dtype)
                        * kd.astype(dtype))


# ----------------------------------------------------------------------------
# SADE
# ----------------------------------------------------------------------------


def inverse_prior(class_counts: jax.typing.ArrayLike) -> jax.Array:
  r"""Returns SADE's inverse prior: the priors in reversed rank order.

  .. math::
    \pi^{inv}_c = \pi_{(C - 1 - r_c)}, \qquad \pi = n / \sum n

  where pi_(k) is the k-th smallest prior and r_c the rank of class c in the
  ascending sort of pi: the most frequent class gets the rarest class's
  prior and vice versa. As SADE's `DiverseExpertLoss.inverse_prior`
  (`value, idx0 = sort(prior); _, idx1 = sort(idx0);
  inverse = value[C - 1 - idx1]`).

  Ties: tied classes are ranked in class-index order (a stable ascending
  sort), so among classes with equal counts the lower index gets the lower
  rank and hence the *larger* mirrored value; e.g. counts [5, 5, 1] give
  [5, 1, 5] / 11. The original uses `torch.sort` (not stable in general on
  CUDA), whose order among ties is unspecified.

  Args:
    class_counts: [C] training examples per class, positive.

  Returns:
    float [C], a permutation of the normalised priors (sums to 1).

  References:
    Zhang et al., Self-Supervised Aggregation of Diverse Experts for
    Test-Agnostic Long-Tailed Recognition, NeurIPS 2022 (arXiv 2107.09249).
  """
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  prior = counts / jnp.sum(counts)
  order = jnp.argsort(prior, stable=True)
  ranks = jnp.argsort(order, stable=True)
  values = prior[order]
  return values[prior.shape[0] - 1 - ranks]


def sade_loss(expert_logits: jax.typing.ArrayLike,
              labels: jax.typing.ArrayLike, *,
              class_counts: jax.typing.ArrayLike,
              tau: float = 2.0) -> jax.Array:
  r"""Computes SADE's diverse-expert loss per example (3 experts).

  .. math::
    \ell_i = \mathrm{CE}(z_{1,i}) + \mathrm{CE}(z_{2,i} + \log \pi)
      + \mathrm{CE}(z_{3,i} + \log \pi - \tau \log \pi^{inv})

  Expert 1 is forward (plain CE, many-shot biased), expert 2 uniform
  (balanced softmax), expert 3 backward (its prediction favours the inverse
  prior `inverse_prior`). As `DiverseExpertLoss.forward` of
  Vanint/SADE-AgnosticLT (`model/loss.py`), which adds three batch means, so
  `jnp.mean` of this per-example sum is its value. The original adds 1e-9
  inside each log; ltjax requires positive counts instead.

  Args:
    expert_logits: float [3, B, C], experts in SADE's order.
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.
    tau: strength of the inverse prior, >= 0 (SADE's default 2; with tau = 0
      expert 3's loss is the balanced softmax).

  Returns:
    float [B] per-example loss.

  References:
    Zhang et al., Self-Supervised Aggregation of Diverse Experts for
    Test-Agnostic Long-Tailed Recognition, NeurIPS 2022 (arXiv 2107.09249).
  """
  v.check_scalar(tau, "tau", minimum=0.0)
  z, labels, in_range = _prepare_experts(expert_logits, labels)
  if z.shape[0] != 3:
    raise ValueError(
        f"sade_loss needs exactly E = 3 experts (forward, uniform, backward), "
        f"got expert_logits of shape {z.shape}; for another number of experts "
        f"use ride_loss or write the per-expert losses yourself.")
  dtype = z.dtype
  counts = v.check_class_vector(class_counts, z.shape[-1], "class_counts",
                                positive=True).astype(dtype)
  log_prior = jnp.log(counts / jnp.sum(counts))
  log_inverse = jnp.log(inverse_prior(counts).astype(dtype))
  offsets = jnp.stack([
      jnp.zeros_like(log_prior),
      log_prior,
      log_prior - jnp.asarray(tau, dtype) * log_inverse,
  ])  # [3, C]
  ce = _cross_entropy(z + offsets[:, None, :], labels)  # [3, B]
  loss = jnp.sum(ce, axis=0)
  return jnp.where(in_range, loss, jnp.asarray(jnp.nan, dtype))


# ----------------------------------------------------------------------------
# ACE
# ----------------------------------------------------------------------------


def _check_num_experts(num_experts, num_classes):
  if (not isinstance(num_experts, (int, np.integer))
      or isinstance(num_experts, bool)):
    raise ValueError(
        f"num_experts must be a Python int (it fixes array shapes), got "
        f"{num_experts!r}.")
  if not 1 <= num_experts <= num_classes:
    raise ValueError(
        f"num_experts must lie in [1, C] = [1, {num_classes}] so that every "
        f"expert has at least one class, got {num_experts}.")


def ace_class_masks(class_counts: jax.typing.ArrayLike,
                    num_experts: int) -> jax.Array:
  r"""Returns which classes each ACE expert covers (its target categories).

  .. math::
    M_{e,c} = [\, r_c \ge \lfloor e C / E \rfloor \,], \qquad e = 0..E-1

  with r_c the rank of class c when the classes are sorted by count in
  descending order (ties in class-index order). Expert 0 covers every class;
  each next expert drops the next 1/E of the classes from the head, so the
  subsets are nested: for E = 3 roughly all / medium + few / few (ACE's
  distribution-aware planner on CIFAR-LT, where the classes are already
  sorted by count). The split counts classes, not samples.

  Provenance: the official code (github jrcai/ACE) could not be fetched
  here; this follows the paper's description (arXiv 2108.02385, Sec. 3) of
  nested, overlapping splits of the count-sorted classes.

  Args:
    class_counts: [C] training examples per class, positive.
    num_experts: E, a Python int in [1, C].

  Returns:
    bool [E, C]; M[0] is all True and M[e+1] implies M[e].

  References:
    Cai et al., ACE: Ally Complementary Experts for Solving Long-Tailed
    Recognition in One-Shot, ICCV 2021 (arXiv 2108.02385).
  """
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  num_classes = counts.shape[0]
  _check_num_experts(num_experts, num_classes)
  order = jnp.argsort(-counts.astype(v.float_dtype(counts)), stable=True)
  ranks = jnp.argsort(order, stable=True)
  starts = jnp.asarray([e * num_classes // num_experts
                        for e in range(num_experts)])
  return ranks[None, :] >= starts[:, None]


def ace_lr_scales(class_counts: jax.typing.ArrayLike,
                  num_experts: int) -> jax.Array:
  r"""Returns ACE's per-expert learning-rate factors.

  .. math::
    \eta_e = \frac{N_e}{N_0}, \qquad N_e = \sum_{c \in M_e} n_c

  ACE's distribution-adaptive optimizer lets each expert learn at the pace
  of the data it sees: expert e's own parameters (its blocks and
  classifier) use the learning rate lr * N_e / N_0, where N_e is the number
  of training samples of its target categories and N_0 = N the whole set;
  the shared backbone keeps lr. Expert 0 gets 1, the tail expert the
  smallest factor. With plain SGD (no weight decay difference) this is the
  same as multiplying the gradient of that expert's parameters by eta_e;
  apply it to the expert-specific gradients (e.g. an optax
  `multi_transform` or scaling of those gradient leaves), not to the loss,
  which would also scale the backbone's share of the gradient.

  Provenance: from the paper (arXiv 2108.02385, "distribution-adaptive
  optimizer"); the official code could not be fetched here.

  Args:
    class_counts: [C] training examples per class, positive.
    num_experts: E, a Python int in [1, C].

  Returns:
    float [E], non-increasing, the first entry 1.

  References:
    Cai et al., ICCV 2021 (arXiv 2108.02385).
  """
  counts = v.check_class_vector(class_counts, None, "class_counts",
                                positive=True)
  counts = counts.astype(v.float_dtype(counts))
  masks = ace_class_masks(counts, num_experts)
  seen = jnp.sum(jnp.where(masks, counts[None, :], 0.0), axis=-1)
  return seen / seen[0]


def _check_masks(masks, num_experts, num_classes):
  values = v.concrete(masks)
  masks = jnp.asarray(masks)
  if masks.shape != (num_experts, num_classes):
    raise ValueError(
        f"masks must have shape [E, C] = {(num_experts, num_classes)} to match "
        f"expert_logits, got {masks.shape}; build them with ace_class_masks.")
  if masks.dtype != jnp.bool_:
    raise ValueError(f"masks must be boolean, got dtype {masks.dtype}.")
  if values is not None:
    uncovered = np.flatnonzero(~np.asarray(values).any(axis=0))
    if uncovered.size:
      raise ValueError(
          f"every class must be covered by at least one expert, but class(es) "
          f"{uncovered[:10].tolist()} are covered by none.")
    empty = np.flatnonzero(~np.asarray(values).any(axis=1))
    if empty.size:
      raise ValueError(
          f"every expert must cover at least one class, but expert(s) "
          f"{empty.tolist()} cover none.")
  return masks


def ace_loss(expert_logits: jax.typing.ArrayLike,
             labels: jax.typing.ArrayLike, *,
             class_counts: jax.typing.ArrayLike,
             complementary_weight: float = 1.0) -> jax.Array:
  r"""Computes ACE's loss: per-expert CE on its subset + complementary term.

  .. math::
    L = \sum_e \Big[\frac{1}{|B_e|}\sum_{i \in B_e}
      -\log \frac{e^{z_{e,i,y_i}}}{\sum_{c \in M_e} e^{z_{e,i,c}}}
      + \mu \frac{1}{|\bar B_e|} \sum_{i \in \bar B_e}
      \frac{1}{|M_e|}\sum_{c \in M_e} z_{e,i,c}^2\Big]

  with M_e = `ace_class_masks(class_counts, E)[e]`, B_e the examples of the
  batch whose label is one of expert e's target categories and B-bar_e the
  others (its "interfering categories"). Each expert is a softmax
  classifier over its own classes and learns only from their examples; the
  complementary term pushes its logits towards 0 on the examples it does
  not specialise in, so that in `ace_aggregate` it adds no spurious vote
  for a tail class on a head-class image. An empty B_e or B-bar_e adds 0
  (expert 0 has no interfering examples).

  Provenance: the official code (jrcai/ACE) could not be fetched here; the
  form of the complementary term (squared logits of the expert's target
  categories on interfering examples, averaged) is this module's reading of
  the paper (arXiv 2108.02385) and of a public port that penalises the
  squared logits outside the expert's subset; `complementary_weight` mu = 1
  is an assumption, not a verified default. Learning-rate re-scaling is not
  part of the loss: see `ace_lr_scales`.

  Args:
    expert_logits: float [E, B, C].
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive (sets the
      subsets).
    complementary_weight: mu >= 0.

  Returns:
    float scalar; NaN if a traced label lies outside [0, C).

  References:
    Cai et al., ACE: Ally Complementary Experts for Solving Long-Tailed
    Recognition in One-Shot, ICCV 2021 (arXiv 2108.02385).
  """
  v.check_scalar(complementary_weight, "complementary_weight", minimum=0.0)
  z, labels, in_range = _prepare_experts(expert_logits, labels)
  dtype = z.dtype
  num_experts, _, num_classes = z.shape
  v.check_class_vector(class_counts, num_classes, "class_counts",
                       positive=True)
  masks = ace_class_masks(class_counts, num_experts)  # [E, C]
  covered = masks[:, labels].astype(dtype)  # [E, B]
  neg = jnp.asarray(jnp.finfo(dtype).min, dtype)
  masked = jnp.where(masks[:, None, :], z, neg)
  # Uncovered labels would read a -inf-like logit; their CE is masked out,
  # but keep it finite so its (zero-weighted) gradient is not NaN.
  ce = jax.nn.logsumexp(masked, axis=-1) - _true_class(z, labels)
  ce = jnp.where(covered > 0, ce, 0.0)
  cls = jnp.sum(covered * ce, axis=-1) / jnp.maximum(
      jnp.sum(covered, axis=-1), 1.0)
  mask_f = masks.astype(dtype)
  sq = jnp.sum(mask_f[:, None, :] * z ** 2, axis=-1) / jnp.sum(
      mask_f, axis=-1, keepdims=True)  # [E, B]
  other = 1.0 - covered
  com = jnp.sum(other * sq, axis=-1) / jnp.maximum(
      jnp.sum(other, axis=-1), 1.0)
  loss = jnp.sum(cls + jnp.asarray(complementary_weight, dtype) * com)
  return _nan_if_any_out_of_range(loss, in_range)


def ace_logit_scales(weight_norms: jax.typing.ArrayLike,
                     masks: jax.typing.ArrayLike) -> jax.Array:
  r"""Returns ACE's test-time logit re-scaling factors from weight norms.

  .. math::
    s_e = \frac{\mathrm{mean}_c \|w_{0,c}\|}
      {\mathrm{mean}_{c \in M_e} \|w_{e,c}\|}

  An expert trained on fewer, rarer classes has classifier weights of a
  different norm; before averaging, its logits are re-scaled to the scale
  of expert 0 (the one that sees all data). Pass the result as
  `ace_aggregate(..., scales=...)`.

  Args:
    weight_norms: float [E, C], the L2 norm of each expert's classifier
      weight vector per class (e.g. `ltjax.posthoc.weight_norms` per head).
    masks: bool [E, C] from `ace_class_masks`.

  Returns:
    float [E], the first entry 1.

  References:
    Cai et al., ICCV 2021 (arXiv 2108.02385): "averaging over the re-scaled
    logits in each data split".
  """
  norms = v.check_logits(weight_norms, "weight_norms")
  if norms.ndim != 2:
    raise ValueError(f"weight_norms must have shape [E, C], got "
                     f"{norms.shape}.")
  masks = _check_masks(masks, norms.shape[0], norms.shape[1])
  norms = norms.astype(v.float_dtype(norms))
  mask_f = masks.astype(norms.dtype)
  per_expert = jnp.sum(mask_f * norms, axis=-1) / jnp.sum(mask_f, axis=-1)
  return jnp.mean(norms[0]) / per_expert


def ace_aggregate(expert_logits: jax.typing.ArrayLike,
                  masks: jax.typing.ArrayLike, *,
                  scales: jax.typing.ArrayLike | None = None) -> jax.Array:
  r"""Combines ACE experts: per class, the mean over the experts covering it.

  .. math::
    \hat z_{i,c} = \frac{\sum_{e: M_{e,c}} s_e z_{e,i,c}}
      {|\{e : M_{e,c}\}|}

  Each expert votes only on its target categories (its other logits are
  set to 0, as in ACE's test-time aggregation); a tail class covered by all
  E experts averages E logits, a head class covered only by expert 0 keeps
  expert 0's logit. `scales` s (default 1) re-scale each expert's logits
  first, see `ace_logit_scales`.

  Args:
    expert_logits: float [E, B, C].
    masks: bool [E, C] from `ace_class_masks`; every class covered at least
      once.
    scales: optional float [E], per-expert logit factors.

  Returns:
    float [B, C] aggregated logits.

  References:
    Cai et al., ICCV 2021 (arXiv 2108.02385).
  """
  z = v.check_logits(expert_logits, "expert_logits")
  if z.ndim != 3:
    raise ValueError(f"expert_logits must have shape [E, B, C], got "
                     f"{z.shape}.")
  z = z.astype(v.float_dtype(z))
  num_experts, _, num_classes = z.shape
  masks = _check_masks(masks, num_experts, num_classes)
  if scales is None:
    s = jnp.ones((num_experts,), z.dtype)
  else:
    s = jnp.asarray(scales)
    if s.shape != (num_experts,):
      raise ValueError(f"scales must have shape [E] = ({num_experts},), got "
                       f"{s.shape}.")
    s = s.astype(z.dtype)
  mask_f = masks.astype(z.dtype)
  total = jnp.sum(mask_f[:, None, :] * s[:, None, None] * z, axis=0)
  return total / jnp.sum(mask_f, axis=0)
