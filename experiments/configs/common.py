"""Shared recipes for the per-dataset, per-method config files.

Each `experiments/configs/<dataset>/<method>.py` is `get_config(arg)` ->
`build(<dataset>, <method>, arg)`. `arg` (after a colon in `--config=`) sets a
shorter schedule: `--config=experiments/configs/cifar10_lt/ldam_drw.py:30`
trains 30 epochs with the warm-up, the learning-rate decays, the DRW/DRS
switch and the progressive horizon scaled by 30/200, so every method keeps the
same relative schedule.
"""

import ml_collections

from ltjax import data
from ltjax import train


def _ce(config):
  config.loss.name = "ce"


def _focal(config):
  config.loss.name = "focal"
  config.loss.gamma = 1.0


def _cb_focal(config):
  config.loss.name = "cb_focal"  # focal + effective-number weights
  config.loss.gamma = 1.0
  config.loss.beta = 0.9999


def _ldam(config):
  config.loss.name = "ldam"
  config.model.head = "normalized"


def _ldam_drw(config):
  _ldam(config)
  config.loss.reweight = "drw"


def _ce_drw(config):
  config.loss.name = "ce"
  config.loss.reweight = "drw"


def _logit_adjusted(config):
  config.loss.name = "logit_adjusted"
  config.loss.tau = 1.0


def _balanced_softmax(config):
  config.loss.name = "balanced_softmax"


def _cb_resample(config):
  config.loss.name = "ce"
  config.sampler.name = "class_balanced"


def _sqrt_sampling(config):
  config.loss.name = "ce"
  config.sampler.name = "square_root"


def _progressive(config):
  config.loss.name = "ce"
  config.sampler.name = "progressive"


def _ce_drs(config):
  config.loss.name = "ce"
  config.sampler.name = "deferred"
  config.sampler.balanced = "class_balanced"


METHODS = {
    "ce": _ce,
    "focal": _focal,
    "cb_focal": _cb_focal,
    "ldam": _ldam,
    "ldam_drw": _ldam_drw,
    "ce_drw": _ce_drw,
    "logit_adjusted": _logit_adjusted,
    "balanced_softmax": _balanced_softmax,
    "cb_resample": _cb_resample,
    "sqrt_sampling": _sqrt_sampling,
    "progressive": _progressive,
    "ce_drs": _ce_drs,
}


def _cifar(config, name):
  config.data = data.default_data_config(name)
  config.model.name = "resnet32"
  config.num_epochs = 200
  config.batch_size = 128
  config.optim.lr = 0.1
  config.optim.weight_decay = 2e-4
  config.optim.warmup_epochs = 5
  config.optim.decay_epochs = (160, 180)
  config.optim.decay_factors = (0.01, 1e-4)
  config.loss.drw_start_epoch = 160
  config.sampler.start_epoch = 160


def _mnist(config):
  config.data = data.default_data_config("mnist_lt")
  config.model.name = "mnist_cnn"
  config.augment.padding = 0  # digits: no crop or flip
  config.augment.flip = False
  config.num_epochs = 10
  config.batch_size = 128
  config.optim.lr = 0.05
  config.optim.weight_decay = 5e-4
  config.optim.warmup_epochs = 1
  config.optim.decay_epochs = (8, 9)
  config.optim.decay_factors = (0.1, 0.01)
  config.loss.drw_start_epoch = 8
  config.sampler.start_epoch = 8
  config.checkpoint_every_steps = 500


DATASETS = {
    "cifar10_lt": lambda c: _cifar(c, "cifar10_lt"),
    "cifar100_lt": lambda c: _cifar(c, "cifar100_lt"),
    "mnist_lt": _mnist,
}


def build(dataset: str, method: str,
          arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on `dataset`; `arg` = epochs of a short run."""
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}.")
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; known: {list(METHODS)}.")
  config = train.default_config()
  DATASETS[dataset](config)
  METHODS[method](config)
  epochs = train.epochs_argument(arg, method)
  if epochs:
    # The DRW / DRS switch moves with the learning-rate decays.
    train.scale_schedule(config, epochs, also=("loss.drw_start_epoch",
                                                "sampler.start_epoch"))
  return config
