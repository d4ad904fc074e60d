"""Optimizers and learning-rate schedules of the long-tail recipes.

`make_optimizer(config.optim, schedule)` is the one optimizer builder of
every task: `optim.name` "sgd" (the LDAM-DRW / classifier-balancing recipes)
or "adam" (the DIR recipes), both with PyTorch-style coupled L2 decay
(`weight_decay * p` added to the gradient before the update rule, as
`torch.optim.SGD` / `torch.optim.Adam` do; not AdamW).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

SCHEDULES = ("warmup_step", "cosine", "constant", "one_cycle", "linear")
LR_SCALINGS = ("none", "linear", "sqrt")  # _tricks.LR_SCALING_RULES
OPTIMIZERS = ("sgd", "adam")


def warmup_step_schedule(base_lr: float, *, steps_per_epoch: int,
                         warmup_epochs: int = 5,
                         decay_epochs: Sequence[int] = (160, 180),
                         decay_factors: Sequence[float] = (0.01, 0.0001)
                         ) -> optax.Schedule:
  """The LDAM-DRW recipe: linear warm-up by epoch, then step decay.

  Epoch e (0-based) uses base_lr * (e + 1) / warmup_epochs while
  e + 1 <= warmup_epochs, then base_lr * factor of the last decay epoch
  reached (e >= decay_epochs[i]), else base_lr. The value is constant within
  an epoch, as in the original `adjust_learning_rate`.

  Args:
    base_lr: peak learning rate (0.1 for CIFAR-LT with batch 128).
    steps_per_epoch: optimizer steps per epoch.
    warmup_epochs: epochs of linear warm-up (0 for none).
    decay_epochs: increasing epochs at which the factors start.
    decay_factors: multipliers of base_lr, one per decay epoch.

  Returns:
    step -> learning rate.
  """
  decay_epochs = tuple(int(e) for e in decay_epochs)
  decay_factors = tuple(float(f) for f in decay_factors)
  if len(decay_epochs) != len(decay_factors):
    raise ValueError(
        f"optim.decay_epochs {decay_epochs} and optim.decay_factors "
        f"{decay_factors} must have the same length.")
  if list(decay_epochs) != sorted(decay_epochs):
    raise ValueError(
        f"optim.decay_epochs must be increasing, got {decay_epochs}.")
  if steps_per_epoch < 1 or warmup_epochs < 0:
    raise ValueError("steps_per_epoch must be >= 1 and warmup_epochs >= 0.")

  def schedule(step):
    epoch = jnp.asarray(step) // steps_per_epoch
    factor = jnp.asarray(1.0, jnp.float32)
    for decay_epoch, decay_factor in zip(decay_epochs, decay_factors):
      factor = jnp.where(epoch >= decay_epoch, decay_factor, factor)
    if warmup_epochs:
      warm = (epoch + 1) / warmup_epochs
      factor = jnp.where(epoch + 1 <= warmup_epochs, warm, factor)
    return base_lr * factor

  return schedule


def cosine_schedule(base_lr: float, *, total_steps: int,
                    warmup_steps: int = 0,
                    final_lr: float = 0.0) -> optax.Schedule:
  """Linear warm-up over `warmup_steps`, then cosine decay to `final_lr`."""
  if total_steps < 1 or not 0 <= warmup_steps < total_steps:
    raise ValueError(
        f"cosine schedule needs 0 <= warmup_steps < total_steps, got "
        f"{warmup_steps} and {total_steps}.")
  if not warmup_steps:
    return optax.cosine_decay_schedule(
        base_lr, decay_steps=total_steps,
        alpha=final_lr / base_lr if base_lr else 0.0)
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=base_lr, warmup_steps=warmup_steps,
      decay_steps=total_steps, end_value=final_lr)


def sgd(schedule: optax.Schedule, *, momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 2e-4) -> optax.GradientTransformation:
  """SGD with momentum and coupled L2 weight decay, as `torch.optim.SGD`.

  The decay term weight_decay * p is added to the gradient before momentum
  (PyTorch's `weight_decay`), for every parameter, as in the LDAM repo.
  """
  if weight_decay < 0 or not 0 <= momentum < 1:
    raise ValueError(
        f"optim.weight_decay must be >= 0 and optim.momentum in [0, 1), got "
        f"{weight_decay} and {momentum}.")
  return optax.chain(
      optax.add_decayed_weights(weight_decay),
      optax.sgd(schedule, momentum=momentum or None, nesterov=nesterov))


def adam(schedule: optax.Schedule, *, weight_decay: float = 1e-4,
         b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
  """Adam with coupled L2 weight decay, as `torch.optim.Adam(weight_decay)`.

  The decay term weight_decay * p is added to the gradient before the Adam
  moments (the DIR reference's optimizer; AdamW would decay after them).
  """
  if weight_decay < 0:
    raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
                     optax.scale_by_learning_rate(schedule))


def make_optimizer(optim_config, schedule: optax.Schedule, *,
                   loss_lr: float | None = None
                   ) -> optax.GradientTransformation:
  """The optimizer that `config.optim` names, on `schedule`.

  Args:
    optim_config: `config.optim`: `name` ("sgd" or "adam"), `weight_decay`,
      and for SGD `momentum` and `nesterov` (absent: False).
    schedule: step -> learning rate of the model's parameters.
    loss_lr: None: the optimizer is over the model's parameters. A float:
      the parameters are {"model": ..., "loss": ...} and the loss's own
      parameters (e.g. Balanced MSE's learnable sigma) get a constant
      `optax.adam(loss_lr)`, outside the schedule (the reference's separate
      parameter group).

  Returns:
    The gradient transformation.
  """
  name = optim_config.name
  if name == "sgd":
    model_tx = sgd(schedule, momentum=optim_config.momentum,
                   nesterov=bool(optim_config.get("nesterov", False)),
                   weight_decay=optim_config.weight_decay)
  elif name == "adam":
    model_tx = adam(schedule, weight_decay=optim_config.weight_decay)
  else:
    raise ValueError(
        f"config.optim.name: {name!r} is not one of {list(OPTIMIZERS)}.")
  if loss_lr is None:
    return model_tx

  def labels(params):
    return {part: jax.tree.map(lambda _, p=part: p, params[part])
            for part in params}

  return optax.multi_transform(
      {"model": model_tx, "loss": optax.adam(loss_lr)}, labels)
