"""The training config schema and its start-up validation.

`default_config()` lists every field a classification run reads, with the
LDAM-DRW CIFAR recipe's values; experiment configs
(`experiments/configs/<dataset>/<method>.py`) start from it and change fields.
`validate_config` runs before any data is read or anything is compiled and
raises a `ValueError` that names the field and the fix.
"""

import ml_collections
import numpy as np

from ltjax import models
from ltjax import sampling
from ltjax.train import _objectives
from ltjax.train import _optim

DTYPES = ("float32", "bfloat16")
SELECT_METRICS = ("balanced", "top1")


def default_config() -> ml_collections.ConfigDict:
  """Every field of a classification run, with the CIFAR-LT recipe."""
  # Imported here: ltjax.data is only needed to build a data config.
  from ltjax import data  # pylint: disable=g-import-not-at-top

  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = data.default_data_config("cifar10_lt")
  config.augment = ml_collections.ConfigDict(dict(
      padding=4,  # random crop after zero padding (0: no crop)
      flip=True,  # random horizontal flip
      mean=(),  # per-channel mean of x / 255; () = the dataset's standard
      std=(),
  ))
  config.model = ml_collections.ConfigDict(dict(
      name="resnet32", head="linear", dtype="float32",
      conv="auto",  # auto | xla | patches (see ltjax.models.conv_for)
  ))
  config.loss = ml_collections.ConfigDict(dict(
      name="ce",
      reweight="default",  # default | none | inverse | sqrt_inverse |
      # class_balanced | drw
      beta=0.9999,  # effective-number beta (class_balanced, drw)
      drw_start_epoch=160,
      tau=1.0,  # logit_adjusted, pairwise_margin (logit_adjusted margins)
      gamma=1.0,  # focal, cb_focal
      max_margin=0.5,  # ldam
      scale=30.0,  # ldam
      margins="logit_adjusted",  # pairwise_margin: logit_adjusted|ldam|zero
  ))
  config.sampler = ml_collections.ConfigDict(dict(
      name="instance",  # see ltjax.sampling.SAMPLERS
      start_epoch=160,  # deferred re-sampling (DRS)
      balanced="class_balanced",  # what deferred sampling switches to
      beta=0.9999,  # effective_number
      group_size=1,  # consecutive examples per class draw (original: 4)
  ))
  config.optim = ml_collections.ConfigDict(dict(
      lr=0.1, momentum=0.9, nesterov=False, weight_decay=2e-4,
      schedule="warmup_step",  # warmup_step | cosine | constant
      warmup_epochs=5, decay_epochs=(160, 180), decay_factors=(0.01, 1e-4),
  ))
  config.num_epochs = 200
  config.batch_size = 128  # global, over all devices and hosts
  config.max_steps = -1  # > 0: stop after this many steps (smoke runs)
  config.eval_every_epochs = 1
  config.eval_batch_size = 500
  config.select_metric = "balanced"  # validation metric for the best epoch
  config.posthoc_tau = 1.0  # post-hoc adjusted accuracy reported for CE runs
  config.shot_many = 100
  config.shot_few = 20
  config.log_every_steps = 50
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 3
  return config


def _require(condition: bool, field: str, message: str) -> None:
  if not condition:
    raise ValueError(f"config.{field}: {message}")


def _known(value, known, field: str) -> None:
  _require(value in known, field,
           f"{value!r} is not one of {sorted(known)}.")


def validate_run_fields(config) -> None:
  """The fields every ltjax training loop shares.

  `model.dtype`, the optimizer's schedule (`optim.*`), the loop sizes,
  `max_steps`, the shot thresholds and the augmentation's padding and
  normalisation. Raises a ValueError naming `config.<field>`.
  """
  optim = config.optim
  _known(config.model.dtype, DTYPES, "model.dtype")
  _known(optim.schedule, _optim.SCHEDULES, "optim.schedule")
  _require(optim.lr > 0, "optim.lr", f"must be > 0, got {optim.lr}.")
  _require(optim.weight_decay >= 0, "optim.weight_decay",
           f"must be >= 0, got {optim.weight_decay}.")
  _require(0 <= optim.momentum < 1, "optim.momentum",
           f"must be in [0, 1), got {optim.momentum}.")
  _require(len(optim.decay_epochs) == len(optim.decay_factors),
           "optim.decay_factors",
           f"needs one factor per decay epoch, got {optim.decay_epochs} and "
           f"{optim.decay_factors}.")
  _require(list(optim.decay_epochs) == sorted(optim.decay_epochs),
           "optim.decay_epochs", f"must increase, got {optim.decay_epochs}.")
  _require(optim.warmup_epochs >= 0, "optim.warmup_epochs",
           f"must be >= 0, got {optim.warmup_epochs}.")
  for field in ("num_epochs", "batch_size", "eval_every_epochs",
                "eval_batch_size", "log_every_steps", "checkpoint_every_steps",
                "keep_checkpoints"):
    _require(config[field] >= 1, field, f"must be >= 1, got {config[field]}.")
  _require(config.max_steps == -1 or config.max_steps >= 1, "max_steps",
           f"must be -1 (the whole schedule) or >= 1, got {config.max_steps}.")
  _require(0 <= config.shot_few <= config.shot_many, "shot_few",
           f"must satisfy 0 <= shot_few <= shot_many, got {config.shot_few} "
           f"and {config.shot_many}.")
  _require(config.augment.padding >= 0, "augment.padding",
           f"must be >= 0, got {config.augment.padding}.")
  _require(len(config.augment.mean) == len(config.augment.std),
           "augment.std", "needs one entry per entry of augment.mean.")
  _require(np.all(np.asarray(config.augment.std, float) > 0), "augment.std",
           "must be positive.")


def scale_schedule(config, num_epochs: int, *,
                   also: tuple[str, ...] = ()) -> None:
  """Compresses the schedule into `num_epochs`, keeping its proportions.

  Scales `optim.warmup_epochs`, `optim.decay_epochs` and the epoch fields
  named in `also` (dotted paths, e.g. "loss.drw_start_epoch") by
  num_epochs / config.num_epochs; a nonzero epoch stays >= 1.
  """
  if num_epochs < 1:
    raise ValueError(f"the schedule needs >= 1 epoch, got {num_epochs}.")
  ratio = num_epochs / config.num_epochs
  scale = lambda e: max(1, round(e * ratio)) if e else 0  # pylint: disable=g-long-lambda
  config.optim.warmup_epochs = scale(config.optim.warmup_epochs)
  config.optim.decay_epochs = tuple(scale(e) for e in config.optim.decay_epochs)
  for path in also:
    parent, _, leaf = path.rpartition(".")
    section = config
    for part in filter(None, parent.split(".")):
      section = section[part]
    section[leaf] = scale(section[leaf])
  config.num_epochs = num_epochs


def epochs_argument(arg: str | None, method: str) -> int | None:
  """The number of epochs a config file's `:EPOCHS` argument asks for."""
  if not arg:
    return None
  try:
    return int(arg)
  except ValueError as e:
    raise ValueError(
        f"config argument {arg!r} must be a number of epochs, e.g. "
        f"--config=...{method}.py:30") from e


def validate_config(config) -> None:
  """Checks names and ranges; raises ValueError naming the field."""
  loss, sampler, model = config.loss, config.sampler, config.model
  _known(loss.name, _objectives.LOSSES, "loss.name")
  _known(loss.reweight, _objectives.REWEIGHTS, "loss.reweight")
  _require(loss.tau >= 0, "loss.tau", f"must be >= 0, got {loss.tau}.")
  _require(loss.gamma >= 0, "loss.gamma", f"must be >= 0, got {loss.gamma}.")
  _require(0 <= loss.beta < 1, "loss.beta",
           f"must be in [0, 1), got {loss.beta}.")
  _require(loss.max_margin >= 0, "loss.max_margin",
           f"must be >= 0, got {loss.max_margin}.")
  _require(loss.scale > 0, "loss.scale", f"must be > 0, got {loss.scale}.")
  _require(loss.drw_start_epoch >= 0, "loss.drw_start_epoch",
           f"must be >= 0, got {loss.drw_start_epoch}.")
  _known(loss.margins, _objectives.PAIRWISE_MARGINS, "loss.margins")
  _known(model.name, models.MODELS, "model.name")
  _known(model.head, models.HEADS, "model.head")
  _known(model.conv, ("auto",) + tuple(models.CONVS), "model.conv")
  _require(model.conv == "auto" or models.has_convolutions(model.name),
           "model.conv", f"model {model.name!r} has no convolutions; leave "
           f"model.conv at 'auto'.")
  if _objectives.LOSSES[loss.name].needs_normalized_head:
    _require(model.head == "normalized" or loss.scale == 1.0, "model.head",
             f"loss {loss.name!r} scales logits by loss.scale="
             f"{loss.scale}, which expects cosine logits: set "
             f"model.head='normalized' (or loss.scale=1.0).")
  _known(sampler.name, sampling.SAMPLERS, "sampler.name")
  _known(sampler.balanced, ("class_balanced", "effective_number"),
         "sampler.balanced")
  _require(0 <= sampler.beta < 1, "sampler.beta",
           f"must be in [0, 1), got {sampler.beta}.")
  _require(sampler.group_size >= 1, "sampler.group_size",
           f"must be >= 1, got {sampler.group_size}.")
  _require(sampler.start_epoch >= 0, "sampler.start_epoch",
           f"must be >= 0, got {sampler.start_epoch}.")
  validate_run_fields(config)
  _known(config.select_metric, SELECT_METRICS, "select_metric")
  _require(config.posthoc_tau >= 0, "posthoc_tau",
           f"must be >= 0, got {config.posthoc_tau}.")
  from ltjax import data  # pylint: disable=g-import-not-at-top
  data.validate_data_config(config.data)
