"""Regression's training components, in composition order, and their hooks.

Regression composes, in this order: data-level re-sampling (SMOGN,
`config.resample`), label-density re-weighting (inverse / square-root
inverse, with LDS; `config.reweight`), feature distribution smoothing
(`config.fds`), RankSim (`config.ranksim`) and regressor re-training
(`config.rrt`, a second stage). Besides `ltjax.train.Component`'s hooks a
regression component may contribute:

| hook | what it contributes | composed as |
| --- | --- | --- |
| `bin_weights(train_targets, edges)` | the loss's per-bin weights (role "bin_weights") | one |
| `encoder_weights(weights)` | the weights the main schedule trains with | chained |
| `train_features(features, bins, state)` | the features the regressor sees in training (role "features") | one |
"""

import numpy as np

from ltjax import train

TASK = "regression"

REGRESSION = (
    ("resample", "ltjax.regression._smogn:Resampling"),
    ("reweight", "ltjax.regression._lds:Reweighting"),
    ("fds", "ltjax.regression._fds:FeatureSmoothing"),
    ("ranksim", "ltjax.regression._ranksim:RankSim"),
    ("rrt", "ltjax.regression._rrt:RegressorRetraining"),
)


class RegressionComponent(train.Component):
  """A regression component: `Component`'s hooks and regression's own."""

  bin_weights = None  # or (train_targets, edges) -> float [K]

  def encoder_weights(self, weights: np.ndarray) -> np.ndarray:
    return weights

  train_features = None  # or (features, bins, state) -> features


for _name, _path in REGRESSION:
  train.register_component(TASK, _name, _path)
