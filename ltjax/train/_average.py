"""Weight averaging: EMA and Lookahead weights (`config.weight_average`).

Both keep an average of the trained parameters and BatchNorm statistics in
`TrainState.extra["average"]` = {"params", "batch_stats"}, so it is
checkpointed and restored with the state. Every `every_steps`-th step (the
t-th update, t = 1, 2, ...):

    average <- d_t * average + (1 - d_t) * weights,
    d_t = decay, or min(decay, (1 + t) / (warmup + t)) with warmup > 0

(the warm-up of timm's ModelEma / hlb-CIFAR10, so early averages are not
dominated by the random initialisation). "ema" leaves the trained weights
as they are (Polyak averaging); "lookahead" then copies the average back
into them, which is Lookahead (Zhang et al., 1907.08610) with slow-weight
step alpha = 1 - d_t and k = every_steps, in airbench's form (its
`LookaheadState`, decay 0.95 ** 5 every 5 steps).

Evaluation, predictions, the second stage and `load_model` use the average
(`model_variables` reads it), so a run with averaging reports the averaged
model, the point of the trick. The BatchNorm statistics are averaged like
the parameters (timm's ModelEmaV2 averages every buffer).
"""

from typing import Any

import jax
import jax.numpy as jnp

KINDS = ("none", "ema", "lookahead")
KEY = "average"


def enabled(config) -> bool:
  average = config.get("weight_average")
  return average is not None and average.kind != "none"


def init_extra(params, batch_stats) -> dict[str, Any]:
  """The average at step 0: the initial weights (copies)."""
  return {"params": jax.tree.map(jnp.array, params),
          "batch_stats": jax.tree.map(jnp.array, batch_stats)}


def decay_at(update, *, decay: float, warmup: int) -> jax.Array:
  """d_t of the t-th update (t >= 1, may be traced)."""
  decay = jnp.asarray(decay, jnp.float32)
  if warmup <= 0:
    return decay
  t = jnp.asarray(update, jnp.float32)
  return jnp.minimum(decay, (1.0 + t) / (warmup + t))


def blend(average, current, d):
  """d * average + (1 - d) * current, leaf-wise, in each leaf's dtype."""
  return jax.tree.map(
      lambda a, c: (d * a.astype(jnp.float32)
                    + (1.0 - d) * c.astype(jnp.float32)).astype(a.dtype),
      average, current)


def make(config):
  """`average(state) -> state`, applied after each update; None if off."""
  if not enabled(config):
    return None
  cfg = config.weight_average
  every, lookahead = int(cfg.every_steps), cfg.kind == "lookahead"

  def update(state):
    # `state` is after the update: state.step counts the updates done.
    average = state.extra[KEY]
    update_count = state.step // every
    d = decay_at(update_count, decay=cfg.decay, warmup=int(cfg.warmup))
    new = {"params": blend(average["params"], state.params, d),
           "batch_stats": blend(average["batch_stats"], state.batch_stats,
                                d)}
    extra = {**state.extra, KEY: new}
    if lookahead:
      return state.replace(params=new["params"],
                           batch_stats=new["batch_stats"], extra=extra)
    return state.replace(extra=extra)

  def average(state):
    return jax.lax.cond(state.step % every == 0, update, lambda s: s, state)

  return average


def averaged(params, batch_stats, extra):
  """(params, batch_stats) to evaluate: the average when there is one."""
  if isinstance(extra, dict) and KEY in extra:
    return extra[KEY]["params"], extra[KEY]["batch_stats"]
  return params, batch_stats
