"""RankSim: batchwise ranking regularisation of the feature similarities.

Gong, Mori and Tung (ICML 2022, arXiv 2205.15236; official code
BorealisAI/ranksim-imbalanced-regression, `agedb-dir/ranksim.py` and
`ranking.py`): the ranking of each example's feature similarities to the
rest of the batch should follow the ranking of its label similarities.

For a batch subsampled to one example per distinct label (m of them, with
L2-normalised features z and labels y):

  S_ij = z_i . z_j                         (cosine similarity)
  L = sum_i  (1/m) sum_j (rk(S_i)_j - rk(-|y_i - y|)_j)^2

where rk(s)_j = (1 + number of entries placed before j when s is sorted in
decreasing order) / m, the official `rank_normalised` (the largest value
gets 1/m). The feature ranks are differentiated by the blackbox
combinatorial-solver rule of Vlastelica et al. (1912.02175), the official
`TrueRanker`: forward rk(s), backward
g -> (rk(s + lambda g) - rk(s)) / lambda. The total loss is
task loss + gamma * L (official `--regularization_weight` 100,
`--interpolation_lambda` 2 in the README's commands).

Static shapes: the subsample is a mask over the batch, and masked entries are
ranked last (after every kept entry) so the kept entries' ranks are exactly
those of the subsampled batch. Differences from the official code:
* ties. `torch.argsort` is not stable; here ranks come from a stable sort of
  the batch ordered by label (the official subsample is ordered by
  `torch.unique`'s ascending labels), so of two equally similar entries the
  one with the larger label ranks first. The official code keeps the batch
  order when all labels are distinct; ltjax orders by label then too (a
  difference only for exact ties of similarity).
* `+ 1e-8` in the official backward's denominator is dropped (lambda > 0 is
  checked instead).
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections

from ltjax.regression import _components
from ltjax.regression import _config


def _descending_rank(values: jax.Array, valid: jax.Array) -> jax.Array:
  """Normalised descending ranks over the last axis, invalid entries last.

  The official `rank`: `argsort(argsort(s).flip())` with a stable sort; the
  kept entries get (1 + position) / (number kept).
  """
  low = jnp.finfo(values.dtype).min
  masked = jnp.where(valid, values, low)
  order = jnp.flip(jnp.argsort(masked, axis=-1, stable=True), axis=-1)
  # Invalid entries all hold `low` and sort before every valid one, so after
  # the flip they come last.
  ranks = jnp.argsort(order, axis=-1, stable=True)
  count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1)
  return (ranks + 1).astype(values.dtype) / count.astype(values.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def blackbox_rank(sequence: jax.Array, valid: jax.Array,
                  interpolation_lambda: float) -> jax.Array:
  """Returns the normalised descending ranks, with the blackbox gradient.

  Forward: rk(s)_j = (1 + position of s_j in decreasing order) / m over the
  m entries with `valid`; invalid entries rank after them (their ranks are
  meaningless). Backward (Vlastelica et al. 1912.02175, the RankSim
  `TrueRanker`): for the incoming gradient g,
  (rk(s + lambda g) - rk(s)) / lambda.

  Args:
    sequence: float [..., n] scores, ranked along the last axis.
    valid: bool [..., n] the entries that take part (no gradient).
    interpolation_lambda: lambda > 0, the interpolation strength.

  Returns:
    float [..., n] ranks in (0, 1].

  References:
    Gong et al., RankSim, ICML 2022 (arXiv 2205.15236); Vlastelica et al.,
    Differentiation of Blackbox Combinatorial Solvers, ICLR 2020 (arXiv
    1912.02175).
  """
  del interpolation_lambda
  return _descending_rank(sequence, valid)


def _blackbox_rank_fwd(sequence, valid, interpolation_lambda):
  del interpolation_lambda
  ranks = _descending_rank(sequence, valid)
  return ranks, (sequence, valid, ranks)


def _blackbox_rank_bwd(interpolation_lambda, residuals, grad):
  sequence, valid, ranks = residuals
  shifted = _descending_rank(sequence + interpolation_lambda * grad, valid)
  return (shifted - ranks) / interpolation_lambda, None


blackbox_rank.defvjp(_blackbox_rank_fwd, _blackbox_rank_bwd)


def one_per_label(targets: jax.Array, key: jax.Array,
                  mask: jax.Array | None = None) -> jax.Array:
  """Returns a mask keeping one random example of each distinct label.

  The official `torch.unique` + `random.choice` subsample with static
  shapes: each example gets a random priority (a permutation of the batch)
  and is kept iff no other example with the same label has a higher one, so
  every example of a label is the kept one with the same probability.

  Args:
    targets: float [B] labels (compared exactly).
    key: PRNG key.
    mask: optional bool [B], the examples that may be kept.

  Returns:
    bool [B], True for exactly one example of each distinct label (among
    `mask`).
  """
  size = targets.shape[0]
  mask = jnp.ones((size,), bool) if mask is None else mask.astype(bool)
  priority = jax.random.permutation(key, size)
  same = (targets[:, None] == targets[None, :]) & mask[None, :]
  beaten = jnp.any(same & (priority[None, :] > priority[:, None]), axis=1)
  return mask & ~beaten


def ranksim_regularizer(features: jax.Array, targets: jax.Array,
                        key: jax.Array, *, interpolation_lambda: float = 2.0,
                        mask: jax.Array | None = None) -> jax.Array:
  r"""Returns the RankSim batchwise ranking regulariser (a scalar).

  .. math::
    L = \sum_{i \in U} \frac{1}{m} \sum_{j \in U}
        (\mathrm{rk}(S_i)_j - \mathrm{rk}(-|y_i - y|)_j)^2

  over U, one random example of each of the m distinct labels of the batch,
  S the cosine similarities of the features and rk the normalised
  descending rank (`blackbox_rank`, gradient by the blackbox rule; the label
  ranks are constants). Summed over anchors, each anchor's squared error
  averaged over the batch, as the official code (`F.mse_loss` per anchor).

  Args:
    features: float [B, D] (any [B, ...]: flattened) encoder features, the
      official code's `encoding` (before FDS smoothing).
    targets: float [B] labels.
    key: PRNG key of the subsample.
    interpolation_lambda: the blackbox interpolation strength lambda > 0
      (official default in the README commands: 2).
    mask: optional bool [B], the examples that take part.

  Returns:
    float32 scalar >= 0.

  Example:
    >>> reg = ranksim_regularizer(features, ages, key)
    >>> loss = l1 + 100.0 * reg  # gamma = 100, the official setting

  References:
    Gong et al., RankSim: Ranking Similarity Regularization for Deep
    Imbalanced Regression, ICML 2022 (arXiv 2205.15236).
  """
  if not interpolation_lambda > 0:
    raise ValueError(
        f"interpolation_lambda must be > 0, got {interpolation_lambda}.")
  x = features.reshape(features.shape[0], -1).astype(jnp.float32)
  y = targets.astype(jnp.float32)
  keep = one_per_label(y, key, mask)
  # Ordered by label (masked examples last), as the official subsample.
  order = jnp.argsort(jnp.where(keep, y, jnp.inf), stable=True)
  x, y, keep = x[order], y[order], keep[order]
  # F.normalize: x / max(||x||, 1e-12).
  z = x / jnp.maximum(jnp.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  similarity = z @ z.T
  pairs = keep[:, None] & keep[None, :]
  label_ranks = _descending_rank(-jnp.abs(y[:, None] - y[None, :]), pairs)
  feature_ranks = blackbox_rank(similarity, pairs, float(interpolation_lambda))
  count = jnp.maximum(jnp.sum(keep), 1).astype(jnp.float32)
  squared = jnp.where(pairs, (feature_ranks - label_ranks) ** 2, 0.0)
  return jnp.sum(squared) / count


# The RankSim subsample's key: fold_in(fold_in(rng, step), this), apart from
# the step's transform keys (fold_in(..., i) for small i).
_STREAM = 0x52414E4B  # "RANK"


class RankSim(_components.RegressionComponent):
  """RankSim (`config.ranksim.enabled`): the loss plus `ranksim.weight` x
  the batchwise ranking regulariser of the raw encoder features (the
  official code's `encoding`, before FDS); reported as "ranksim"."""
  name = "ranksim"
  fields = ("ranksim.enabled",)

  @staticmethod
  def add_defaults(config) -> None:
    # RankSim (Gong et al. 2205.15236): + weight * the batchwise ranking
    # regulariser of the encoder features (before FDS), one example per
    # distinct label of the batch (`ranksim_regularizer`).
    config.ranksim = ml_collections.ConfigDict(dict(
        enabled=False,
        weight=100.0,  # gamma (the official README's commands)
        interpolation_lambda=2.0,  # the blackbox ranking gradient's lambda
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    ranksim = config.ranksim
    _config.require(ranksim.weight >= 0, "ranksim.weight",
                    f"must be >= 0 (gamma; the official setting is 100), got "
                    f"{ranksim.weight}.")
    _config.require(ranksim.interpolation_lambda > 0,
                    "ranksim.interpolation_lambda",
                    f"must be > 0 (the official setting is 2), got "
                    f"{ranksim.interpolation_lambda}.")

  def wrap_loss(self, value, aux, batch, state):
    ranksim = self.config.ranksim
    key = jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                             _STREAM)
    term = ranksim_regularizer(
        aux["features"], batch["target"].astype(jnp.float32), key,
        interpolation_lambda=ranksim.interpolation_lambda)
    return value + ranksim.weight * term, {**aux, "ranksim": term}

  def train_metrics(self, aux):
    return {"ranksim": aux["ranksim"]}
