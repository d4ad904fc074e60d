"""Regressor re-training (RRT) on a frozen encoder.

Yang et al. (2021) train an encoder without re-weighting, then freeze it and
re-train only the final linear regressor with LDS (or inverse) weights; the
reference re-initialises the regressor (it loads every pretrained weight but
the `linear` / `fc` ones) and trains it with Adam (no weight decay) on the
full schedule. Here the frozen encoder's features are extracted once
(evaluation mode, no augmentation) into arrays, and the regressor,
re-initialised like the model's own head, is trained on them by
`ltjax.train.retrain_head` (the routine behind cRT and LWS too).

Difference from the reference: it re-runs the whole (frozen) network with
data augmentation on every step, with BatchNorm in training mode, so the
"frozen" encoder's running statistics still drift; ltjax keeps the encoder
exactly fixed and trains on its evaluation-mode features.
"""

from collections.abc import Callable

import numpy as np
import optax

from ltjax import train
from ltjax.regression import _bins
from ltjax.regression import _optim
from ltjax.regression import _step


def retrain_regressor(features: np.ndarray, targets: np.ndarray, *,
                      head_params, objective, edges, bin_weights,
                      epochs: int, batch_size: int,
                      learning_rate: float | optax.Schedule,
                      weight_decay: float = 0.0, seed: int = 0,
                      on_epoch_end: Callable | None = None,
                      max_steps: int = -1):
  """Trains a linear regressor on fixed features with per-bin weights.

  Adam on `mean(objective(pred, y, w))` with w the weight of y's bin, over
  seeded permutations of the examples; the loop is
  `ltjax.train.retrain_head`.

  Args:
    features: float32 [N, D] frozen-encoder features of the training set.
    targets: float32 [N].
    head_params: the initial {"kernel": [D, 1], "bias": [1]}.
    objective: `objective(pred, y, w, {}) -> [B]` (`make_objective`).
    edges: float [K + 1] bin edges.
    bin_weights: float32 [K] per-bin weights (e.g. `lds_bin_weights`).
    epochs: passes over the features.
    batch_size: batch size (the last batch of an epoch is filled from the
      start of the epoch's permutation).
    learning_rate: Adam learning rate, a number or a schedule of the step.
    weight_decay: coupled L2 decay (the reference's re-training Adam has
      none).
    seed: seed of the epoch permutations.
    on_epoch_end: optional `f(epoch, head_params, mean_loss)` after each
      epoch (1-based).
    max_steps: > 0 to stop early (smoke tests).

  Returns:
    The trained head parameters.
  """
  features = np.asarray(features, np.float32)
  targets = np.asarray(targets, np.float32)
  schedule = (learning_rate if callable(learning_rate) else
              optax.constant_schedule(learning_rate))
  bin_weights = np.asarray(bin_weights, np.float32)
  weights = bin_weights[np.asarray(_bins.bin_index(targets, edges))]
  return train.retrain_head(
      head_params, features, targets, apply_fn=_step.predict,
      loss_fn=lambda pred, y, w: objective(pred, y, w, {}),
      tx=_optim.adam(schedule, weight_decay=weight_decay), epochs=epochs,
      batch_size=batch_size, weights=weights, seed=seed,
      on_epoch_end=on_epoch_end, max_steps=max_steps)
