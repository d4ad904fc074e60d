"""SADE's test-time self-supervised aggregation of skill-diverse experts.

On the unlabelled test set, learn the weights w (on the simplex) of the
experts' logits that make the aggregated prediction most stable between two
augmented views of each image (Zhang et al., "Self-Supervised Aggregation of
Diverse Experts for Test-Agnostic Long-Tailed Recognition", NeurIPS 2022,
arXiv 2107.09249, Sec. 4.2). As the official code
(`test_training_cifar.py` / `test_training_imagenet.py`, `test_training`
and `test_validation`; configs `configs/test_time_*_sade.json`):

* Weights: w = softmax(a) over E free logits a, initialised to a = 1 / E
  (uniform weights).
* Aggregated logits: z = sum_e w_e z_e (the weighted sum of the experts'
  logits, the logits the loss saw: s times cosines for a normalized head);
  the prediction is argmax z, its probabilities softmax(z).
* Loss, per batch of the shifted test set: -mean_i cos(softmax(z_i^(1)),
  softmax(z_i^(2))) over the two views' aggregated predictions
  (`torch.nn.CosineSimilarity(dim=1, eps=1e-6)`).
* Optimiser: SGD on a, lr 0.1 (CIFAR-100-LT; 0.025 for ImageNet-LT),
  momentum 0.9, Nesterov, weight decay 5e-4 (on a); batch 128, shuffled;
  5 epochs (the test-time configs' "epochs"), stopping after an epoch in
  which some weight rounded to 2 decimals falls below 0.05.
* Views: two draws of a training augmentation of each test image
  (`TwoCropsTransform`): MoCo v2's (random crop, colour jitter 0.4/0.4/0.4/
  0.1 with p 0.8, grayscale p 0.2, Gaussian blur p 0.2 (CIFAR) / 0.5
  (ImageNet), horizontal flip). The weights are learnt on the shifted test
  set itself and then used on its un-augmented images.

Differences: the functions here take the experts' logits of the two views
(computed once; the model is frozen and in eval mode in the original too),
so the augmentation is the caller's (`experiments/evaluate_shift.py` uses
the run's own training augmentation, crop and flip, not MoCo v2's colour
and blur); any E >= 1 (the original is written for 3 experts); the
early-stop rule is checked on every expert.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import _validation as v

_EPS = 1e-6  # torch.nn.CosineSimilarity's eps


def _check_expert_logits(x, name: str) -> jax.Array:
  z = jnp.asarray(x)
  if z.ndim != 3 or z.shape[0] < 1 or z.shape[2] < 1:
    raise ValueError(
        f"{name} must be float [E, N, C] (experts, examples, classes), got "
        f"shape {z.shape}; a single model's [N, C] logits are "
        f"{name}[None].")
  if not jnp.issubdtype(z.dtype, jnp.floating):
    raise ValueError(f"{name} must be floating point, got {z.dtype}.")
  return z


def aggregate(expert_logits: jax.typing.ArrayLike,
              weights: jax.typing.ArrayLike) -> jax.Array:
  r"""Returns the weighted sum of the experts' logits.

  .. math:: z = \sum_e w_e z_e

  Args:
    expert_logits: float [E, ..., C] (e.g. [E, N, C]).
    weights: float [E], e.g. `fit_aggregation_weights`'s (on the simplex).

  Returns:
    float [..., C], in float32 or wider.
  """
  z = jnp.asarray(expert_logits)
  w = jnp.asarray(weights)
  if z.ndim < 2 or w.shape != (z.shape[0],):
    raise ValueError(
        f"weights must have shape [E] = ({z.shape[0] if z.ndim else '?'},) "
        f"for expert_logits [E, ..., C], got weights {w.shape} and "
        f"expert_logits {z.shape}.")
  dtype = v.float_dtype(z, w)
  return jnp.tensordot(w.astype(dtype), z.astype(dtype), axes=(0, 0))


def _cosine(p, q):
  """torch.nn.CosineSimilarity(dim=-1, eps=1e-6) of p and q [..., C]."""
  norms = (jnp.maximum(jnp.linalg.norm(p, axis=-1), _EPS)
           * jnp.maximum(jnp.linalg.norm(q, axis=-1), _EPS))
  return jnp.sum(p * q, axis=-1) / norms


def _per_example_similarity(view1, view2, weights):
  p = jax.nn.softmax(aggregate(view1, weights), axis=-1)
  q = jax.nn.softmax(aggregate(view2, weights), axis=-1)
  return _cosine(p, q)


def stability_loss(view1_logits: jax.typing.ArrayLike,
                   view2_logits: jax.typing.ArrayLike,
                   weights: jax.typing.ArrayLike) -> jax.Array:
  r"""Returns SADE's self-supervised loss: minus the views' mean cosine.

  .. math::
    L(w) = -\frac{1}{N} \sum_i \cos\big(\mathrm{softmax}(\sum_e w_e
           z^{(1)}_{e,i}),\; \mathrm{softmax}(\sum_e w_e z^{(2)}_{e,i})\big)

  Args:
    view1_logits: float [E, N, C], the experts' logits of the first view.
    view2_logits: float [E, N, C], of the second view of the same images.
    weights: float [E].

  Returns:
    Scalar in [-1, 0].
  """
  view1 = _check_expert_logits(view1_logits, "view1_logits")
  view2 = _check_expert_logits(view2_logits, "view2_logits")
  if view1.shape != view2.shape:
    raise ValueError(
        f"view1_logits and view2_logits must have the same shape (two views "
        f"of the same images), got {view1.shape} and {view2.shape}.")
  return -jnp.mean(_per_example_similarity(view1, view2, weights))


def _select(condition, if_true, if_false):
  return jnp.where(condition, if_true, if_false)


@functools.partial(jax.jit, static_argnames=("num_epochs", "batch_size",
                                             "nesterov"))
def _fit(view1, view2, mask, key, learning_rate, momentum, weight_decay,
         stop_below, *, num_epochs, batch_size, nesterov):
  num_experts, num_examples, _ = view1.shape
  num_batches = -(-num_examples // batch_size)
  padded = num_batches * batch_size
  tx = optax.chain(
      optax.add_decayed_weights(weight_decay),
      optax.sgd(learning_rate, momentum=momentum, nesterov=nesterov))
  params = jnp.full((num_experts,), 1.0 / num_experts, jnp.float32)

  def batch_loss(params, idx, valid):
    cos = _per_example_similarity(view1[:, idx], view2[:, idx],
                                  jax.nn.softmax(params))
    valid = valid.astype(cos.dtype)
    return -jnp.sum(cos * valid) / jnp.maximum(jnp.sum(valid), 1.0)

  def step(carry, batch):
    params, opt_state = carry
    grads = jax.grad(batch_loss)(params, *batch)
    updates, new_state = tx.update(grads, opt_state, params)
    # A batch with no example (past the masked set's end) is no step.
    keep = functools.partial(_select, jnp.any(batch[1]))
    return (keep(optax.apply_updates(params, updates), params),
            jax.tree.map(keep, new_state, opt_state)), None

  def epoch(carry, index):
    params, opt_state, stopped = carry
    # A uniform shuffle of the masked examples, which come first.
    draws = jax.random.uniform(jax.random.fold_in(key, index),
                               (num_examples,))
    order = jnp.argsort(jnp.where(mask, draws, 2.0))
    valid = jnp.pad(mask[order], (0, padded - num_examples))
    order = jnp.pad(order, (0, padded - num_examples))
    (new_params, new_state), _ = jax.lax.scan(
        step, (params, opt_state),
        (order.reshape(num_batches, batch_size),
         valid.reshape(num_batches, batch_size)))
    keep = functools.partial(_select, stopped)
    params = keep(params, new_params)
    opt_state = jax.tree.map(keep, opt_state, new_state)
    weights = jax.nn.softmax(params)
    stopped = stopped | jnp.any(jnp.round(weights, 2) < stop_below)
    return (params, opt_state, stopped), None

  carry = (params, tx.init(params), jnp.asarray(False))
  (params, _, _), _ = jax.lax.scan(epoch, carry, jnp.arange(num_epochs))
  return jax.nn.softmax(params)


def fit_aggregation_weights(view1_logits: jax.typing.ArrayLike,
                            view2_logits: jax.typing.ArrayLike, *,
                            key: jax.Array,
                            mask: jax.typing.ArrayLike | None = None,
                            num_epochs: int = 5,
                            batch_size: int = 128,
                            learning_rate: float = 0.1,
                            momentum: float = 0.9,
                            nesterov: bool = True,
                            weight_decay: float = 5e-4,
                            stop_below: float = 0.05) -> jax.Array:
  """Learns SADE's expert weights on unlabelled test data (two views).

  Minimises `stability_loss` over w = softmax(a), a initialised to 1 / E,
  with SGD (+ weight decay on a) over `num_epochs` shuffled passes of
  `batch_size` examples (the last batch smaller, as a PyTorch DataLoader
  without drop_last), stopping after the first epoch in which some weight,
  rounded to 2 decimals, is below `stop_below` (0 never stops). The
  defaults are those of SADE's CIFAR-100-LT test-time config (ImageNet-LT:
  learning_rate=0.025). Pure and seeded: `key` draws the epochs' orders;
  jittable with `num_epochs`, `batch_size` and `nesterov` static.

  Example:
    w = fit_aggregation_weights(z1, z2, key=jax.random.PRNGKey(0))
    predictions = aggregate(test_logits, w).argmax(-1)

  Args:
    view1_logits: float [E, N, C], the experts' logits of one augmented view
      of the N test images (scaled as the loss saw them).
    view2_logits: float [E, N, C], of a second augmented view.
    key: PRNG key of the shuffles.
    mask: optional bool [N]: the examples to fit on (default all).
    num_epochs: passes over the N examples, >= 1.
    batch_size: examples per step, >= 1.
    learning_rate: SGD step size, >= 0.
    momentum: SGD momentum in [0, 1).
    nesterov: Nesterov momentum.
    weight_decay: L2 coefficient on the weight logits a, >= 0.
    stop_below: early-stop threshold on the weights, >= 0.

  Returns:
    float32 [E] weights: nonnegative, summing to 1.

  References:
    Zhang et al., NeurIPS 2022 (arXiv 2107.09249).
  """
  view1 = _check_expert_logits(view1_logits, "view1_logits")
  view2 = _check_expert_logits(view2_logits, "view2_logits")
  if view1.shape != view2.shape:
    raise ValueError(
        f"view1_logits and view2_logits must have the same shape (two views "
        f"of the same images), got {view1.shape} and {view2.shape}.")
  if view1.shape[1] < 1:
    raise ValueError("view1_logits has no examples (N = 0).")
  if mask is None:
    mask = jnp.ones(view1.shape[1], bool)
  mask = jnp.asarray(mask)
  if mask.shape != view1.shape[1:2] or mask.dtype != bool:
    raise ValueError(
        f"mask must be bool [N] = ({view1.shape[1]},), the examples to fit "
        f"on, got {mask.dtype} {mask.shape}.")
  if (concrete := v.concrete(mask)) is not None and not concrete.any():
    raise ValueError("mask selects no example; select at least one.")
  for name, value in (("num_epochs", num_epochs), ("batch_size", batch_size)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
        value < 1):
      raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
  v.check_scalar(learning_rate, "learning_rate", minimum=0.0)
  v.check_scalar(momentum, "momentum", minimum=0.0, below=1.0)
  v.check_scalar(weight_decay, "weight_decay", minimum=0.0)
  v.check_scalar(stop_below, "stop_below", minimum=0.0)
  dtype = v.float_dtype(view1, view2)
  return _fit(view1.astype(dtype), view2.astype(dtype), mask, key,
              jnp.asarray(learning_rate, jnp.float32),
              jnp.asarray(momentum, jnp.float32),
              jnp.asarray(weight_decay, jnp.float32),
              jnp.asarray(stop_below, jnp.float32),
              num_epochs=int(num_epochs),
              batch_size=int(min(batch_size, view1.shape[1])),
              nesterov=bool(nesterov))
