"""Per-dataset, per-method configs of the DIR benchmark.

`build_config(dataset, method, arg)` is what every
`experiments/configs/<dataset>/<method>.py` returns. `arg` (after a colon in
`--config=`) is a number of epochs for a shorter run with the learning-rate
decay epochs scaled in proportion (e.g. `lds_fds.py:30`).

Datasets: `abalone_dir` (UCI abalone, MLP, a CPU-sized task),
`agedb_dir` and `imdb_wiki_dir` (ResNet-50 from scratch on 224 x 224 faces,
Adam 1e-3, weight decay 1e-4, batch 256, 90 epochs, x0.1 at epochs 60 and
80, L1 loss, as the reference scripts), `csv_dir` (your own CSV table:
abalone's MLP recipe with bins from the training targets, standardised
targets and quantile shot thresholds).

Hyperparameters in label units. The bins (`bins.low` / `high` / `width`),
the Huber threshold `loss.huber_beta`, focal-R's `loss.beta` (it scales
|e|), Balanced MSE's `loss.noise_sigma` (initial or fixed sigma) and its
`loss.mse_weight` (per squared unit) are in the units of the target; LDS and
FDS kernels (`ks`, `sigma`) are in bins, so their reach in label units is
the bin width times that. The optimiser couples to the units too: with L1
the gradient does not scale with the target but the size of the output the
network must reach does (a target x100 needs x100 larger weights: far more
steps at the same `optim.lr`, and a coupled `optim.weight_decay` pulls
harder on them); with MSE / Balanced MSE the gradients scale with the
target. With `data.standardize_targets` (default for `csv_dir`) the loss,
the output and `loss.huber_beta`, `loss.beta`, `loss.noise_sigma` and
`loss.mse_weight` are in units of the training targets' std instead; the
bins, metrics and predictions stay in the original units.
"""

import ml_collections

from ltjax.regression import _config
from ltjax.regression import _data
from ltjax.train import _config as train_config


def _vanilla(config):
  config.loss.name = "l1"


def _sqrt_inv(config):
  config.reweight.name = "sqrt_inv"


def _lds(config):
  config.reweight.name = "sqrt_inv"
  config.reweight.lds = True  # gaussian, ks = 5, sigma = 2


def _fds(config):
  config.fds.enabled = True  # gaussian, ks = 5, sigma = 2, momentum 0.9


def _lds_fds(config):
  _lds(config)
  _fds(config)


def _focal_r(config):
  config.loss.name = "focal_l1"
  config.loss.activation = "sigmoid"
  config.loss.beta = 0.2
  config.loss.gamma = 1.0


def _rrt(config):
  # Encoder trained with plain L1; the regressor re-trained with
  # sqrt-inverse + LDS weights (the paper's "RRT + LDS").
  _lds(config)
  config.rrt.enabled = True


def _balanced_mse(config):
  config.loss.name = "bmc"
  config.loss.noise_sigma = 1.0
  config.loss.learn_sigma = True
  config.loss.sigma_lr = 1e-2


METHODS = {
    "vanilla": _vanilla,
    "sqrt_inv": _sqrt_inv,
    "lds": _lds,
    "fds": _fds,
    "lds_fds": _lds_fds,
    "focal_r": _focal_r,
    "rrt": _rrt,
    "balanced_mse": _balanced_mse,
}


def _abalone(config):
  config.data = _data.default_data_config("abalone")
  config.bins.low, config.bins.high, config.bins.width = 1.0, 30.0, 1.0
  config.model.name = "mlp"
  config.model.widths = (128, 128)
  config.num_epochs = 90
  config.batch_size = 64
  config.eval_batch_size = 512
  config.optim.decay_epochs = (60, 80)
  config.optim.decay_factors = (0.1, 0.01)
  config.rrt.epochs = 90
  config.log_every_steps = 500
  config.checkpoint_every_steps = 2000


def _faces(config, name):
  config.data = _data.default_data_config(name)
  # The reference's LDS bins (ages 0..120); FDS and the shot groups use them
  # too (its FDS merges ages < 3 into one bucket and has 100 buckets).
  config.bins.low, config.bins.high, config.bins.width = 0.0, 121.0, 1.0
  config.model.name = "resnet50"
  config.num_epochs = 90
  config.batch_size = 256
  config.eval_batch_size = 256
  config.optim.decay_epochs = (60, 80)
  config.optim.decay_factors = (0.1, 0.01)
  config.rrt.epochs = 90
  config.log_every_steps = 50
  config.checkpoint_every_steps = 1000


def _csv(config):
  # Your own table: bins, target scale and shot thresholds come from the
  # data, so nothing here is in the units of a particular target.
  config.data = _data.default_data_config("csv")  # standardize_targets=True
  config.bins.low = config.bins.high = config.bins.width = None
  config.bins.num_bins = None  # from the training targets
  config.shot_thresholds = "quantile"
  config.model.name = "mlp"
  config.model.widths = (128, 128)
  config.num_epochs = 90
  config.batch_size = 64
  config.eval_batch_size = 512
  config.optim.decay_epochs = (60, 80)
  config.optim.decay_factors = (0.1, 0.01)
  config.rrt.epochs = 90
  config.log_every_steps = 500
  config.checkpoint_every_steps = 2000


DATASETS = {
    "abalone_dir": _abalone,
    "agedb_dir": lambda c: _faces(c, "agedb_dir"),
    "imdb_wiki_dir": lambda c: _faces(c, "imdb_wiki_dir"),
    "csv_dir": _csv,
}


def build_config(dataset: str, method: str,
                 arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on `dataset`; `arg` = epochs of a short run."""
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}.")
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; known: {list(METHODS)}.")
  config = _config.default_config()
  DATASETS[dataset](config)
  METHODS[method](config)
  epochs = train_config.epochs_argument(arg, method)
  if epochs:
    train_config.scale_schedule(config, epochs, also=("rrt.epochs",))
  return config
