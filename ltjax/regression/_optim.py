"""The DIR recipes' optimizers, now `ltjax.train.make_optimizer` / `adam`.

The reference trains every DIR model with `torch.optim.Adam(lr=1e-3,
weight_decay=1e-4)` (coupled L2); a learnable Balanced-MSE sigma gets its
own constant learning rate. Both live in `ltjax.train` (one optimizer
builder for every task); this module keeps the old names.
"""

import optax

from ltjax import train

adam = train.adam


def make_optimizer(optim_config, schedule, *,
                   sigma_lr: float = 1e-2) -> optax.GradientTransformation:
  """The optimizer over {"model": ..., "loss": ...} parameters.

  `ltjax.train.make_optimizer(optim_config, schedule, loss_lr=sigma_lr)`.
  """
  return train.make_optimizer(optim_config, schedule, loss_lr=sigma_lr)
