"""Optimizer and learning-rate schedules of the long-tail recipes."""

from collections.abc import Sequence

import jax.numpy as jnp
import optax

SCHEDULES = ("warmup_step", "cosine", "constant")


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
