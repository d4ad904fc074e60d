"""Contrastive losses for long-tailed representation learning.

Glossary: B anchors (examples in the batch), V views per example, D the
projection's dimension, C classes. The features are L2-normalised by the
caller (the projection head's output divided by its norm). Each loss returns
the per-anchor loss and the caller reduces (`jnp.mean` gives the originals'
`loss.mean()`).

- `supervised_contrastive_loss`: SupCon (Khosla et al. 2004.11362; official
  `SupConLoss` of HobbitLong/SupContrast, `contrast_mode="all"`); SimCLR's
  NT-Xent when `labels` is None.
- `balanced_contrastive_loss`: BCL (Zhu et al., CVPR 2022; official `BalSCL`
  of FlamieZhu/Balanced-Contrastive-Learning): class-averaging and
  class-complement with one prototype per class.
- `paco_loss`: PaCo (Cui et al. 2107.12028; official `PaCoLoss` of
  dvlab-research/Parametric-Contrastive-Learning): the parametric class
  centres (the classifier's logits, shifted by log prior) as positives and
  negatives beside a momentum encoder's queued keys.

Every exponential is taken after subtracting the row's maximum (held out of
the gradient, as the originals' `logits_max.detach()`): the value of each
loss does not depend on it, only its floating-point range.
"""

import jax
import jax.numpy as jnp
from ltjax import _validation as v


def _check_views(features) -> jax.Array:
  features = jnp.asarray(features)
  if features.ndim != 3:
    raise ValueError(
        f"features must be [B, V, D] (batch, views, dimension); got shape "
        f"{features.shape}. Stack the views on axis 1: "
        f"jnp.stack([f1, f2], axis=1).")
  return features.astype(v.float_dtype(features))


def _check_batch_labels(labels, batch: int, name: str = "labels"
                        ) -> jax.Array:
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(f"{name} must be integer class indices; got dtype "
                     f"{labels.dtype}.")
  if labels.shape != (batch,):
    raise ValueError(f"{name} must be [{batch}] (one per example); got shape "
                     f"{labels.shape}.")
  return labels


def _view_major(features: jax.Array) -> jax.Array:
  """[B, V, D] -> [V * B, D]: view 0 of every example, then view 1, ...

  The originals' `torch.cat(torch.unbind(features, dim=1), dim=0)`.
  """
  batch, views, dim = features.shape
  return jnp.swapaxes(features, 0, 1).reshape(views * batch, dim)


def _stable(logits: jax.Array) -> jax.Array:
  return logits - jax.lax.stop_gradient(jnp.max(logits, axis=1,
                                                keepdims=True))


def _mean_over_positives(log_prob: jax.Array, positives: jax.Array
                         ) -> jax.Array:
  """sum_p log_prob / #p per row; a row without positives gives 0.

  SupContrast's current code (`mask_pos_pairs`): the denominator is 1 where
  a row has no positive, so such an anchor contributes 0, not NaN.
  """
  count = positives.sum(axis=1)
  return (positives * log_prob).sum(axis=1) / jnp.where(count < 1e-6, 1.0,
                                                        count)


def supervised_contrastive_loss(features, labels=None, *, temperature: float,
                                base_temperature: float = 0.07) -> jax.Array:
  """SupCon's loss per anchor (every view of every example is an anchor).

  For anchor i (one view of one example), with A(i) every other view in the
  batch and P(i) those of the same label (of the same example when `labels`
  is None: SimCLR):

    l_i = -(T / T_base) * 1/|P(i)| * sum_{p in P(i)}
          log( exp(z_i . z_p / T) / sum_{a in A(i)} exp(z_i . z_a / T) )

  Args:
    features: float [B, V, D], L2-normalised along D.
    labels: int [B], or None for SimCLR (positives: the example's other
      views).
    temperature: T.
    base_temperature: T_base; the loss is scaled by T / T_base (0.07, the
      official default).

  Returns:
    float [B, V]: the loss of view v of example b as anchor. Its mean is the
    official `SupConLoss` value. An anchor without positives (a single view
    and a label seen once) has loss 0.
  """
  features = _check_views(features)
  batch, views, _ = features.shape
  if labels is None:
    same = jnp.eye(batch, dtype=features.dtype)
  else:
    labels = _check_batch_labels(labels, batch)
    same = (labels[:, None] == labels[None, :]).astype(features.dtype)
  contrast = _view_major(features)
  logits = _stable(contrast @ contrast.T / temperature)
  not_self = 1.0 - jnp.eye(views * batch, dtype=features.dtype)
  positives = jnp.tile(same, (views, views)) * not_self
  log_prob = logits - jnp.log(jnp.sum(jnp.exp(logits) * not_self, axis=1,
                                      keepdims=True))
  loss = -(temperature / base_temperature) * _mean_over_positives(
      log_prob, positives)
  return loss.reshape(views, batch).T


def balanced_contrastive_loss(features, labels, prototypes, *,
                              temperature: float) -> jax.Array:
  """BCL's balanced supervised contrastive loss per anchor.

  The contrast set is every view of the batch plus one prototype per class
  (all C, whether the class is in the batch or not: class-complement). For
  anchor i (a view; prototypes are never anchors), each term of the
  denominator is divided by the number of members of its class in the
  contrast set, less one for the anchor's own class (the anchor itself is
  not in it): class-averaging, so every class weighs the same whatever its
  batch frequency:

    l_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i . z_p / T) /
          sum_{j != i} exp(z_i . z_j / T) / (n_{y_j} - [y_j = y_i]) )

  with P(i) the other views and the prototype of class y_i, n_c the count
  of class c among all views and prototypes. As the official `BalSCL`:
  no T / T_base factor; its `loss.view(2, B).mean()` is the mean of this
  [B, V] output.

  Args:
    features: float [B, V, D], L2-normalised.
    labels: int [B] in [0, C).
    prototypes: float [C, D] (BCL: the classifier's weights through an MLP,
      L2-normalised), or None for no prototypes (class-averaging over the
      views only).
    temperature: T.

  Returns:
    float [B, V].
  """
  features = _check_views(features)
  batch, views, _ = features.shape
  labels = _check_batch_labels(labels, batch)
  anchors = _view_major(features)
  anchor_labels = jnp.tile(labels, views)
  if prototypes is None:
    contrast, contrast_labels = anchors, anchor_labels
  else:
    prototypes = jnp.asarray(prototypes).astype(features.dtype)
    if prototypes.ndim != 2 or prototypes.shape[1] != features.shape[2]:
      raise ValueError(
          f"prototypes must be [C, {features.shape[2]}] (one per class, the "
          f"features' dimension); got shape {prototypes.shape}.")
    classes = prototypes.shape[0]
    v.check_label_values(v.concrete(labels), classes)
    contrast = jnp.concatenate([anchors, prototypes])
    contrast_labels = jnp.concatenate(
        [anchor_labels, jnp.arange(classes, dtype=anchor_labels.dtype)])
  rows, columns = anchors.shape[0], contrast.shape[0]
  same = (anchor_labels[:, None] == contrast_labels[None, :]).astype(
      features.dtype)
  not_self = 1.0 - jnp.eye(rows, columns, dtype=features.dtype)
  positives = same * not_self
  class_count = jnp.sum(contrast_labels[:, None] == contrast_labels[None, :],
                        axis=0).astype(features.dtype)
  per_term = class_count[None, :] - positives
  logits = _stable(anchors @ contrast.T / temperature)
  denominator = jnp.sum(jnp.exp(logits) * not_self / per_term, axis=1,
                        keepdims=True)
  loss = -_mean_over_positives(logits - jnp.log(denominator), positives)
  return loss.reshape(views, batch).T


def paco_loss(features, labels, logits, *, class_priors, alpha: float,
              beta: float = 1.0, gamma: float = 1.0, temperature: float,
              base_temperature: float | None = None,
              supervised_temperature: float = 1.0) -> jax.Array:
  """PaCo's parametric contrastive loss per anchor (query).

  The anchors are the first B rows of `features` (the queries, B =
  `logits.shape[0]`); the contrast set is all N rows (the queries
  themselves, the momentum encoder's keys of the batch and the queue).
  Each anchor's logits are the C parametric class centres, (z + log pi) /
  T_sup (the classifier's logits `z`, shifted by the log prior), then its
  similarities to the contrast set over T. Positives: the anchor's class
  centre with weight beta and the same-label rows of the contrast set
  (itself excluded) with weight alpha; the denominator has every centre
  and gamma times every other contrast row:

    l_i = -(T / T_base) * sum_k w_k log( exp(s_k) / sum_m g_m exp(s_m) )
          / sum_k w_k

  Args:
    features: float [N, D], L2-normalised; rows [0, B) are the anchors.
    labels: int [N], the rows' labels (a queue's labels for its rows).
    logits: float [B, C], the classifier's logits of the anchors.
    class_priors: float [C], the training label distribution pi (PaCo's
      `cls_num_list / sum`).
    alpha: weight of the contrastive positives (PaCo CIFAR-100-LT: 0.01 at
      rho = 100; ImageNet-LT 0.05).
    beta: weight of the class-centre positive (1).
    gamma: weight of the contrast rows in the denominator (1).
    temperature: T of the feature similarities (`--moco-t`: 0.05 CIFAR,
      0.2 ImageNet-LT).
    base_temperature: T_base (default T: no rescaling, as the official
      runs).
    supervised_temperature: T_sup (`supt`, 1).

  Returns:
    float [B]; its mean is the official `PaCoLoss` value.
  """
  features = jnp.asarray(features)
  features = features.astype(v.float_dtype(features))
  logits = v.check_logits(logits).astype(features.dtype)
  batch, classes = logits.shape
  if features.ndim != 2 or features.shape[0] < batch:
    raise ValueError(
        f"features must be [N, D] with N >= B = {batch} (the anchors first); "
        f"got shape {features.shape}.")
  labels = _check_batch_labels(labels, features.shape[0])
  v.check_label_values(v.concrete(labels), classes)
  priors = v.check_class_vector(class_priors, classes, "class_priors",
                                nonnegative=True).astype(features.dtype)
  base_temperature = temperature if base_temperature is None else (
      base_temperature)
  rows = features.shape[0]
  similarity = features[:batch] @ features.T / temperature
  centres = (logits + jnp.log(priors + 1e-9)) / supervised_temperature
  scores = _stable(jnp.concatenate([centres, similarity], axis=1))
  not_self = 1.0 - jnp.eye(batch, rows, dtype=features.dtype)
  same = (labels[:batch, None] == labels[None, :]).astype(features.dtype)
  one_hot = jax.nn.one_hot(labels[:batch], classes, dtype=features.dtype)
  weights = jnp.concatenate([beta * one_hot, alpha * same * not_self], axis=1)
  in_denominator = jnp.concatenate(
      [jnp.ones((batch, classes), features.dtype), gamma * not_self], axis=1)
  log_prob = scores - jnp.log(
      jnp.sum(jnp.exp(scores) * in_denominator, axis=1, keepdims=True)
      + 1e-12)
  mean = (weights * log_prob).sum(axis=1) / weights.sum(axis=1)
  return -(temperature / base_temperature) * mean
