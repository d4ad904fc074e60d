"""The training state: one pytree of arrays, advanced by pure functions."""

from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue exactly where it stopped.

  All leaves are arrays (no functions), so the whole state is donated to the
  compiled step and saved by orbax as one pytree.

  Attributes:
    step: int32 scalar, optimizer steps taken.
    params: the model parameters.
    batch_stats: BatchNorm running statistics ({} for models without).
    opt_state: the optimizer state.
    rng: uint32 [2] base PRNG key; step t uses `fold_in(rng, t)`, so a
      resumed run draws the same augmentations.
    extra: room for method state advanced in the step (e.g. FDS statistics),
      a dict of pytrees ({} when unused).
  """
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jax.Array
  extra: Any = flax.struct.field(default_factory=dict)

  def variables(self) -> dict[str, Any]:
    """The Flax variables to `model.apply`."""
    if self.batch_stats:
      return {"params": self.params, "batch_stats": self.batch_stats}
    return {"params": self.params}


def create_train_state(model, tx: optax.GradientTransformation,
                       sample_input: jax.Array, *, seed: int,
                       extra: Any = None,
                       params_fn: Callable[[Any], Any] | None = None
                       ) -> TrainState:
  """Initialises parameters, batch statistics and optimizer state.

  Args:
    model: a Flax Linen module with `__call__(x, *, train)`.
    tx: the optimizer.
    sample_input: an input batch of the right shape (values unused).
    seed: the run's seed; parameters use `fold_in(key, 0)` and training
      randomness `fold_in(key, 1)`.
    extra: initial `extra` state.
    params_fn: the trained parameters from the model's (e.g. regression's
      {"model": ..., "loss": ...}); default: the model's.

  Returns:
    The step-0 state.
  """
  key = jax.random.PRNGKey(seed)
  variables = model.init(jax.random.fold_in(key, 0), sample_input,
                         train=False)
  params = variables["params"]
  if params_fn is not None:
    params = params_fn(params)
  return TrainState(
      step=jnp.zeros((), jnp.int32), params=params,
      batch_stats=variables.get("batch_stats", {}),
      opt_state=tx.init(params), rng=jax.random.fold_in(key, 1),
      extra={} if extra is None else extra)
