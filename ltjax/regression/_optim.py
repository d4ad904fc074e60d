"""Optimizers of the DIR recipes: Adam with PyTorch-style L2 decay.

The reference trains every DIR model with `torch.optim.Adam(lr=1e-3,
weight_decay=1e-4)`, whose `weight_decay` adds wd * p to the gradient before
the Adam moments (coupled L2, not AdamW). A learnable Balanced-MSE sigma gets
its own constant learning rate, as the Balanced MSE code's separate parameter
group (which the learning-rate schedule skips).
"""

import jax
import optax

from ltjax.train import _optim as train_optim


def adam(schedule: optax.Schedule, *, weight_decay: float = 1e-4,
         b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
  """`torch.optim.Adam(weight_decay=wd)`: decay added to the gradient."""
  if weight_decay < 0:
    raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
                     optax.scale_by_learning_rate(schedule))


def make_optimizer(optim_config, schedule, *,
                   sigma_lr: float = 1e-2) -> optax.GradientTransformation:
  """The optimizer over {"model": ..., "loss": ...} parameters."""
  if optim_config.name == "adam":
    model_tx = adam(schedule, weight_decay=optim_config.weight_decay)
  elif optim_config.name == "sgd":
    model_tx = train_optim.sgd(schedule, momentum=optim_config.momentum,
                               weight_decay=optim_config.weight_decay)
  else:
    raise ValueError(
        f"config.optim.name: {optim_config.name!r} is not 'adam' or 'sgd'.")

  def labels(params):
    return {part: jax.tree.map(lambda _, p=part: p, params[part])
            for part in params}

  return optax.multi_transform(
      {"model": model_tx, "loss": optax.adam(sigma_lr)}, labels)
