"""The config schema of every run: run fields once, task sections on top.

A config is the run fields (`default_run_fields`: seed, `task`, epochs,
batch sizes, `max_steps`, the optimizer and its schedule `optim.*`, the
evaluation, logging and checkpoint cadence, the shot thresholds
`shot_many` / `shot_few`, `model.dtype` / `model.conv`), which every task
reads the same way, plus the sections of its task (`config.task`):
classification (`data`, `augment`, `model.name` / `head`, `loss`,
`sampler`, `select_metric`, `posthoc_tau`; here) or regression (`data`,
`bins`, `augment`, `model.name` / `widths`, `loss`, `reweight`, `fds`,
`rrt`, `select_metric`, the shot rule; `ltjax.regression`).
`default_config(task)` gives every field with the reference recipe's values;
the recipes (`ltjax.recipes`) start from it and change fields.

`validate_config(config)` is the one validator: it runs before any data is
read or anything is compiled, checks the run fields, then the sections of
`config.task` ("classification" if the field is absent), and raises a
`ValueError` "config.<field>: <what is wrong and the fix>".

Durations. A numeric field whose name ends in `epoch` or `epochs` (e.g.
`optim.warmup_epochs`, `optim.decay_epochs`, `loss.drw_start_epoch`,
`sampler.start_epoch`, `rrt.epochs`) is a point or length of the schedule:
`scale_schedule` (the config files' `:EPOCHS` argument) scales every such
field by the same rule, so a new one scales without being listed anywhere.
Not scaled: periods named `*_every_epochs`, and FDS's `fds.start_update` /
`fds.start_smooth`, which are absolute epoch counts of the statistics'
warm-up (the reference's), the same in a short run.
"""

import re
import warnings

import ml_collections
import numpy as np

from ltjax import data
from ltjax import models
from ltjax import sampling
from ltjax.train import _component
from ltjax.train import _components  # pylint: disable=unused-import
from ltjax.train import _objectives
from ltjax.train import _optim
from ltjax.train import _task

DTYPES = ("float32", "bfloat16", "auto")
SAM_KINDS = ("sam", "imbsam")
SMOOTH_SHAPES = ("concave", "linear", "convex", "exp")
AVERAGE_KINDS = ("none", "ema", "lookahead")
FLIP_MODES = ("random", "alternating")
TTA_MODES = ("none", "flip", "flip_translate")
SELECT_METRICS = ("balanced", "top1")
SWEEP_FIELDS = ("optim.lr", "loss.tau")
BN_AXES = ("global", "replica")

# The run fields whose defaults differ by task: each task's reference recipe
# (LDAM-DRW CIFAR-LT; the DIR reference's Adam schedule).
_RUN_DEFAULTS = {
    "classification": dict(
        num_epochs=200, batch_size=128, eval_batch_size=500,
        optim=dict(name="sgd", lr=0.1, weight_decay=2e-4, warmup_epochs=5,
                   decay_epochs=(160, 180), decay_factors=(0.01, 1e-4))),
    "regression": dict(
        num_epochs=90, batch_size=256, eval_batch_size=512,
        optim=dict(name="adam", lr=1e-3, weight_decay=1e-4, warmup_epochs=0,
                   decay_epochs=(60, 80), decay_factors=(0.1, 0.01))),
}

# A duration by its name: ends in "epoch" or "epochs", but not a period.
_EPOCH_FIELD = re.compile(r"(^|_)epochs?$")
_PERIOD_FIELD = re.compile(r"_every_epochs$")


def default_run_fields(task: str = "classification"
                       ) -> ml_collections.ConfigDict:
  """The fields every task's run reads, with `task`'s reference values."""
  require_known(task, _RUN_DEFAULTS, "task")
  run = _RUN_DEFAULTS[task]
  config = ml_collections.ConfigDict()
  config.task = task
  config.seed = 0
  config.model = ml_collections.ConfigDict(dict(
      # float32 | bfloat16 (parameters stay float32) | auto (bfloat16 on a
      # GPU or TPU, float32 on the CPU: `compute_dtype`)
      dtype="float32",
      conv="auto",  # auto | xla | patches (see ltjax.models.conv_for)
      # BatchNorm's training statistics: global (over the whole global
      # batch, as SyncBN) | replica (per device's share of the batch, as
      # PyTorch DDP without SyncBN; `ltjax.models.GroupedBatchNorm`).
      bn_axis="global",
  ))
  config.optim = ml_collections.ConfigDict(dict(
      name=run["optim"]["name"],  # sgd | adam (both coupled L2 decay)
      lr=run["optim"]["lr"],
      momentum=0.9,  # sgd
      nesterov=False,  # sgd
      weight_decay=run["optim"]["weight_decay"],
      schedule="warmup_step",  # warmup_step | cosine | constant
      warmup_epochs=run["optim"]["warmup_epochs"],
      decay_epochs=run["optim"]["decay_epochs"],
      decay_factors=run["optim"]["decay_factors"],
      # > 0: sharpness-aware minimisation with this radius (two gradient
      # passes a step, `ltjax.train.sam_gradient`; Foret et al. 2010.01412).
      sam_rho=0.0,
      # sam | imbsam (classification: the ascent on the tail classes' loss
      # only, `ltjax.train.imbsam_gradient`; Zhou et al. 2308.07815).
      sam_kind="sam",
      # Large-batch learning-rate scaling: none | linear (lr * B / B0,
      # Goyal et al. 1706.02677) | sqrt (lr * sqrt(B / B0)); B0 is
      # base_batch_size, the batch size `lr` was tuned at.
      lr_scaling="none",
      base_batch_size=128,
      # K > 1: gradient accumulation. Each step's gradient (of batch_size
      # examples) is summed over K steps and their mean applied once
      # (`optax.MultiSteps`): the update of a K x batch_size batch, for a
      # batch that does not fit. The schedule is read at the first step of
      # each K, and lr_scaling takes the K x batch_size batch. BatchNorm's
      # statistics stay those of each batch_size step.
      accumulate_steps=1,
  ))
  # Weight averaging (`ltjax.train._average`): none | ema (an exponential
  # moving average of the parameters and BatchNorm statistics, evaluated
  # and checkpointed; the trained weights are unchanged) | lookahead (the
  # same average, copied back into the trained weights after each update:
  # Lookahead with alpha = 1 - decay, Zhang et al. 1907.08610, airbench's
  # form). Updated every `every_steps` steps; `warmup` > 0 uses decay
  # min(decay, (1 + t) / (warmup + t)) at update t (timm / hlb-CIFAR10).
  config.weight_average = ml_collections.ConfigDict(dict(
      kind="none", decay=0.999, every_steps=1, warmup=0))
  # The training data on the device, several steps per call
  # (`ltjax.train._device_data`): auto | on | off; steps_per_call 0 = one
  # on the CPU (bit-identical to the host path), up to an epoch on an
  # accelerator (calls end at every log, evaluation and checkpoint step).
  config.data_on_device = "auto"
  config.steps_per_call = 0
  # K > 1: K copies of the run with seeds seed .. seed + K - 1, trained as
  # one vmapped program (`ltjax.train._replicas`; each replica's outputs
  # in <workdir>/replica_<k>/).
  config.num_replicas = 1
  # A sweep of one scalar over the replicas: replica k is the run with
  # `field` = grid[k] (one value per replica) and the same seed; the
  # value enters the one compiled step as data. field: "" (none) or one of
  # SWEEP_FIELDS ("optim.lr", "loss.tau").
  config.sweep = ml_collections.ConfigDict(dict(field="", grid=()))
  # Accept an unfinished run (no metrics.json) as teacher, stage-2
  # backbone or RRT encoder: its newest checkpoint, with a warning.
  config.allow_unfinished = False
  config.num_epochs = run["num_epochs"]
  config.batch_size = run["batch_size"]  # global, over all devices and hosts
  config.max_steps = -1  # > 0: stop after this many steps (smoke runs)
  config.eval_every_epochs = 1
  config.eval_batch_size = run["eval_batch_size"]
  config.shot_many = 100  # many-shot: > shot_many training examples
  config.shot_few = 20  # few-shot: < shot_few training examples
  config.log_every_steps = 50
  # The best-validation epoch: each evaluation scored by the mean of the
  # validation metric over the select_window evaluations centred on it (1:
  # its own value). Larger windows suit small validation splits.
  config.select_window = 1
  config.checkpoint_every_steps = 1000
  # Also a checkpoint whenever this many minutes passed since the last one
  # (0: by steps only), so a kill loses at most that much work whatever the
  # machine's speed. With several processes, checked at log steps.
  config.checkpoint_every_minutes = 10.0
  config.keep_checkpoints = 3
  return config


def compute_dtype(config, platform: str | None = None):
  """The model's computation dtype (`config.model.dtype`, "auto" resolved).

  "auto" is bfloat16 on an accelerator (where its matrix units double the
  throughput) and float32 on the CPU (where bfloat16 is emulated and slower).
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  name = config.model.dtype
  if name == "auto":
    platform = platform or jax.devices()[0].platform
    name = "float32" if platform == "cpu" else "bfloat16"
  return jnp.dtype(name)


def default_config(task: str = "classification") -> ml_collections.ConfigDict:
  """Every field of a `task` run, with its reference recipe's values."""
  return _task.get_task(task).default_config()


def classification_config() -> ml_collections.ConfigDict:
  """Every field of a classification run, with the CIFAR-LT recipe."""

  config = default_run_fields("classification")
  config.data = data.default_data_config("cifar10_lt")
  config.augment = ml_collections.ConfigDict(dict(
      padding=4,  # random crop after zero padding (0: no crop)
      flip=True,  # random horizontal flip
      # random: each image mirrored with probability 1/2 | alternating:
      # airbench's derandomised flip, each image mirrored in every other
      # epoch (a fixed pseudo-random half in even epochs, the other half in
      # odd ones; `ltjax.train._tricks.alternating_flip`).
      flip_mode="random",
      mean=(),  # per-channel mean of x / 255; () = the dataset's standard
      std=(),
  ))
  config.model.name = "resnet32"
  config.model.head = "linear"
  # Each residual block's last BatchNorm scale starts at 0 (Goyal et al.
  # 1706.02677): every block starts as the identity.
  config.model.zero_init_residual = False
  # The first convolution starts as a whitening filter bank of the training
  # images' patches (`ltjax.train._tricks.whitening_kernel`; airbench's
  # `init_whitening_conv`); still trained.
  config.model.whiten_init = False
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
      vs_gamma=0.2,  # vs: Delta_c = (n_max / n_c)^vs_gamma
      vs_tau=1.0,  # vs: iota_c = vs_tau log pi_c
      lade_alpha=0.1,  # lade: prior CE + lade_alpha * LADE
      remine_lambda=0.1,  # lade: the ReMINE regulariser's lambda
      # label_aware_smoothing: epsilon from smooth_tail (smallest class) to
      # smooth_head (largest); shape concave | linear | convex | exp
      # (smooth_power: the exponent of exp).
      smooth_head=0.1,
      smooth_tail=0.0,
      smooth_shape="concave",
      smooth_power=3.0,
      # Label smoothing of any loss: (1 - eps) l(z, y) + eps / C sum_c
      # l(z, c) (`ltjax.train._tricks.smoothed_loss`; PyTorch's
      # cross_entropy(label_smoothing=eps) for CE without class weights).
      label_smoothing=0.0,
      # logit_adjusted / balanced_softmax: plain CE before drw_start_epoch,
      # the adjusted loss from it (Bag-of-Tricks' balanced softmax "with
      # DRW": no class weights; Zhang et al. AAAI 2021).
      deferred_adjustment=False,
  ))
  config.sampler = ml_collections.ConfigDict(dict(
      name="instance",  # see ltjax.sampling.SAMPLERS
      start_epoch=160,  # deferred re-sampling (DRS)
      balanced="class_balanced",  # what deferred sampling switches to
      beta=0.9999,  # effective_number
      group_size=1,  # consecutive examples per class draw (original: 4)
  ))
  # Each training component's section (`_components`, in their order).
  for component in _component.component_classes("classification"):
    component.add_defaults(config)
  config.select_metric = "balanced"  # validation metric for the best epoch
  config.posthoc_tau = 1.0  # post-hoc adjusted accuracy reported for CE runs
  return config


def require_field(condition: bool, field: str, message: str) -> None:
  """Raises `ValueError("config.<field>: <message>")` unless `condition`."""
  if not condition:
    raise ValueError(f"config.{field}: {message}")


def require_known(value, known, field: str) -> None:
  """Raises the config error for a `value` that is not one of `known`."""
  require_field(value in known, field,
                f"{value!r} is not one of {sorted(known)}.")


def validate_run_fields(config) -> None:
  """Checks the fields every task shares (`default_run_fields`).

  Also the augmentation's padding and normalisation, which every task with
  an `augment` section reads the same way. Raises a ValueError naming
  `config.<field>`.
  """
  optim = config.optim
  require_known(config.model.dtype, DTYPES, "model.dtype")
  require_known(config.model.conv, ("auto",) + tuple(models.CONVS),
                "model.conv")
  bn_axis = config.model.get("bn_axis", "global")
  require_known(bn_axis, BN_AXES, "model.bn_axis")
  require_field(bn_axis == "global" or config.get("task") != "regression",
                "model.bn_axis", "'replica' is built for the classification "
                "models; regression's take 'global'.")
  require_known(optim.get("name", "sgd"), _optim.OPTIMIZERS, "optim.name")
  require_known(optim.schedule, _optim.SCHEDULES, "optim.schedule")
  require_field(optim.lr > 0, "optim.lr", f"must be > 0, got {optim.lr}.")
  require_field(optim.weight_decay >= 0, "optim.weight_decay",
                f"must be >= 0, got {optim.weight_decay}.")
  require_field(0 <= optim.momentum < 1, "optim.momentum",
                f"must be in [0, 1), got {optim.momentum}.")
  require_field(len(optim.decay_epochs) == len(optim.decay_factors),
                "optim.decay_factors",
                f"needs one factor per decay epoch, got {optim.decay_epochs} "
                f"and {optim.decay_factors}.")
  require_field(list(optim.decay_epochs) == sorted(optim.decay_epochs),
                "optim.decay_epochs",
                f"must increase, got {optim.decay_epochs}.")
  require_field(optim.warmup_epochs >= 0, "optim.warmup_epochs",
                f"must be >= 0, got {optim.warmup_epochs}.")
  require_field(optim.get("sam_rho", 0.0) >= 0, "optim.sam_rho",
                f"must be >= 0 (0: no SAM), got {optim.get('sam_rho')}.")
  require_known(optim.get("sam_kind", "sam"), SAM_KINDS, "optim.sam_kind")
  require_field(optim.get("sam_kind", "sam") == "sam"
                or _task.task_name(config) == "classification",
                "optim.sam_kind", "'imbsam' splits the loss by class: it is "
                "for classification; use 'sam'.")
  require_known(optim.get("lr_scaling", "none"), _optim.LR_SCALINGS,
                "optim.lr_scaling")
  accumulate = optim.get("accumulate_steps", 1)
  require_field(isinstance(accumulate, int) and accumulate >= 1,
                "optim.accumulate_steps",
                f"must be an integer >= 1 (1: no accumulation), got "
                f"{accumulate!r}.")
  require_field(optim.get("base_batch_size", 128) >= 1,
                "optim.base_batch_size",
                f"must be >= 1, got {optim.get('base_batch_size')}.")
  average = config.get("weight_average")
  if average is not None:
    require_known(average.kind, AVERAGE_KINDS, "weight_average.kind")
    require_field(0 < average.decay < 1, "weight_average.decay",
                  f"must be in (0, 1), got {average.decay}.")
    require_field(average.every_steps >= 1, "weight_average.every_steps",
                  f"must be >= 1, got {average.every_steps}.")
    require_field(average.warmup >= 0, "weight_average.warmup",
                  f"must be >= 0 (0: none), got {average.warmup}.")
  require_known(config.get("data_on_device", "off"), ("auto", "on", "off"),
                "data_on_device")
  require_field(config.get("steps_per_call", 0) >= 0, "steps_per_call",
                f"must be >= 0 (0: up to an epoch), got "
                f"{config.get('steps_per_call')}.")
  for field in ("num_epochs", "batch_size", "eval_every_epochs",
                "eval_batch_size", "log_every_steps", "checkpoint_every_steps",
                "keep_checkpoints"):
    require_field(config[field] >= 1, field,
                  f"must be >= 1, got {config[field]}.")
  require_field(config.get("num_replicas", 1) >= 1, "num_replicas",
                f"must be >= 1, got {config.get('num_replicas')}.")
  validate_sweep(config)
  require_field(config.get("select_window", 1) >= 1, "select_window",
                f"must be >= 1, got {config.get('select_window')}.")
  require_field(config.get("checkpoint_every_minutes", 0) >= 0,
                "checkpoint_every_minutes",
                f"must be >= 0 (0: by steps only), got "
                f"{config.get('checkpoint_every_minutes')}.")
  require_field(config.max_steps == -1 or config.max_steps >= 1, "max_steps",
                f"must be -1 (the whole schedule) or >= 1, got "
                f"{config.max_steps}.")
  require_field(0 <= config.shot_few <= config.shot_many, "shot_few",
                f"must satisfy 0 <= shot_few <= shot_many, got "
                f"{config.shot_few} and {config.shot_many}.")
  if "augment" in config:
    augment = config.augment
    require_field(augment.padding >= 0, "augment.padding",
                  f"must be >= 0, got {augment.padding}.")
    require_field(len(augment.mean) == len(augment.std), "augment.std",
                  "needs one entry per entry of augment.mean.")
    require_field(np.all(np.asarray(augment.std, float) > 0), "augment.std",
                  "must be positive.")


def validate_sweep(config) -> None:
  """Checks `config.sweep` (a sweep of one scalar over the replicas)."""
  sweep = config.get("sweep")
  if sweep is None or not sweep.field:
    require_field(sweep is None or not len(sweep.grid), "sweep.grid",
                  f"is set ({tuple(sweep.grid) if sweep else ()}) but "
                  f"config.sweep.field is empty; name the swept field "
                  f"(one of {list(SWEEP_FIELDS)}).")
    return
  field, values = sweep.field, tuple(sweep.grid)
  require_field(field in SWEEP_FIELDS, "sweep.field",
                f"{field!r} cannot be swept; supported: "
                f"{list(SWEEP_FIELDS)}.")
  count = int(config.get("num_replicas", 1))
  require_field(count >= 2 and len(values) == count, "sweep.grid",
                f"needs one value per replica: {len(values)} values "
                f"{values} for config.num_replicas={count} (a sweep needs "
                f"num_replicas >= 2).")
  require_field(all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    and np.isfinite(v) for v in values), "sweep.grid",
                f"must be finite numbers, got {values}.")
  if field == "optim.lr":
    require_field(all(v > 0 for v in values), "sweep.grid",
                  f"are values of optim.lr, which must be > 0; got "
                  f"{values}.")
    return
  require_field(all(v >= 0 for v in values), "sweep.grid",
                f"are values of loss.tau, which must be >= 0; got {values}.")
  loss = config.get("loss")
  require_field(
      _task.task_name(config) == "classification" and loss is not None
      and _objectives.uses_tau(loss), "sweep.field",
      f"'loss.tau' is swept, but the loss does not read loss.tau "
      f"(task={_task.task_name(config)!r}, loss.name="
      f"{loss.get('name') if loss is not None else None!r}); it is read by "
      f"loss.name='logit_adjusted' and by 'pairwise_margin' with "
      f"loss.margins='logit_adjusted'.")
  others = [name for name, on in (
      ("glmc.enabled", config.get("glmc", {}).get("enabled", False)),
      ("experts.method", config.get("experts", {}).get("method", "none")
       != "none" or config.model.get("name", "").endswith("_experts")))
            if on]
  require_field(not others, "sweep.field",
                f"'loss.tau' is swept, but {', '.join(others)} replaces "
                f"config.loss with its own loss; sweep it in a plain run.")


def validate_config(config, *, check_data: bool = True,
                    task: str | None = None) -> None:
  """Checks a config of any task; raises ValueError naming the field.

  Args:
    config: a config of `default_config(config.task)`'s schema.
    check_data: also check `config.data` (False: the run was given a dataset
      object, and `config.data` is only recorded).
    task: the task to check it as; None: `config.task` ("classification"
      if absent).
  """
  task_class = _task.get_task(task or _task.task_name(config))
  validate_run_fields(config)
  task_class.validate(config, check_data=check_data)


def validate_task_fields(config, *, check_data: bool = True) -> None:
  """Checks the classification sections (run fields: `validate_config`)."""
  loss, sampler, model = config.loss, config.sampler, config.model
  require_known(loss.name, _objectives.LOSSES, "loss.name")
  require_known(loss.reweight, _objectives.REWEIGHTS, "loss.reweight")
  require_field(loss.tau >= 0, "loss.tau", f"must be >= 0, got {loss.tau}.")
  require_field(loss.gamma >= 0, "loss.gamma",
                f"must be >= 0, got {loss.gamma}.")
  require_field(0 <= loss.beta < 1, "loss.beta",
                f"must be in [0, 1), got {loss.beta}.")
  require_field(loss.max_margin >= 0, "loss.max_margin",
                f"must be >= 0, got {loss.max_margin}.")
  require_field(loss.scale > 0, "loss.scale",
                f"must be > 0, got {loss.scale}.")
  require_field(loss.drw_start_epoch >= 0, "loss.drw_start_epoch",
                f"must be >= 0, got {loss.drw_start_epoch}.")
  require_known(loss.margins, _objectives.PAIRWISE_MARGINS, "loss.margins")
  require_field(loss.vs_gamma >= 0, "loss.vs_gamma",
                f"must be >= 0, got {loss.vs_gamma}.")
  require_field(loss.lade_alpha >= 0, "loss.lade_alpha",
                f"must be >= 0, got {loss.lade_alpha}.")
  require_field(loss.remine_lambda >= 0, "loss.remine_lambda",
                f"must be >= 0, got {loss.remine_lambda}.")
  require_known(loss.smooth_shape, SMOOTH_SHAPES, "loss.smooth_shape")
  deferrable = sorted(k for k, s in _objectives.LOSSES.items()
                      if s.logit_offset is not None)
  require_field(not loss.deferred_adjustment or loss.name in deferrable,
                "loss.deferred_adjustment",
                f"defers the logit adjustment of {deferrable}; "
                f"loss.name={loss.name!r} has none. Set it False.")
  for field in ("smooth_head", "smooth_tail"):
    require_field(0 <= loss[field] < 1, f"loss.{field}",
                  f"must be in [0, 1), got {loss[field]}.")
  require_field(loss.smooth_power > 0, "loss.smooth_power",
                f"must be > 0, got {loss.smooth_power}.")
  validate_tricks(config)
  for component in _component.component_classes("classification"):
    component.validate(config, check_data=check_data)
  require_known(model.name, models.MODELS, "model.name")
  require_known(model.head, models.HEADS, "model.head")
  require_field(model.conv == "auto" or models.has_convolutions(model.name),
                "model.conv", f"model {model.name!r} has no convolutions; "
                f"leave model.conv at 'auto'.")
  if _objectives.LOSSES[loss.name].needs_normalized_head:
    require_field(model.head == "normalized" or loss.scale == 1.0,
                  "model.head",
                  f"loss {loss.name!r} scales logits by loss.scale="
                  f"{loss.scale}, which expects cosine logits: set "
                  f"model.head='normalized' (or loss.scale=1.0).")
  require_known(sampler.name, sampling.SAMPLERS, "sampler.name")
  require_known(sampler.balanced, ("class_balanced", "effective_number"),
                "sampler.balanced")
  require_field(0 <= sampler.beta < 1, "sampler.beta",
                f"must be in [0, 1), got {sampler.beta}.")
  require_field(sampler.group_size >= 1, "sampler.group_size",
                f"must be >= 1, got {sampler.group_size}.")
  require_field(sampler.start_epoch >= 0, "sampler.start_epoch",
                f"must be >= 0, got {sampler.start_epoch}.")
  require_known(config.select_metric, SELECT_METRICS, "select_metric")
  require_field(config.posthoc_tau >= 0, "posthoc_tau",
                f"must be >= 0, got {config.posthoc_tau}.")
  if check_data:
    data.validate_data_config(config.data)


def validate_tricks(config) -> None:
  """Checks the fast-training options of a classification config."""
  eps = config.loss.get("label_smoothing", 0.0)
  require_field(0 <= eps < 1, "loss.label_smoothing",
                f"must be in [0, 1), got {eps}.")
  own_loss = (["glmc"] if config.get("glmc", {}).get("enabled", False)
              else []) + (["experts"] if config.get("experts", {}).get(
                  "method", "none") != "none" else [])
  require_field(eps == 0 or not own_loss, "loss.label_smoothing",
                f"applies to config.loss; {own_loss} trains with its own "
                f"loss. Set loss.label_smoothing=0.")
  require_known(config.augment.get("flip_mode", "random"), FLIP_MODES,
                "augment.flip_mode")
  require_known(config.get("eval_tta", "none"), TTA_MODES, "eval_tta")
  model = config.model
  if model.get("zero_init_residual", False):
    require_field(models.supports_zero_init(model.name),
                  "model.zero_init_residual",
                  f"model {model.name!r} has no residual blocks to "
                  f"zero-initialise; set it False or use a ResNet.")
  if model.get("whiten_init", False):
    require_field(models.has_convolutions(model.name), "model.whiten_init",
                  f"model {model.name!r} has no first convolution to "
                  f"whiten with; set model.whiten_init=False.")


def is_epoch_field(name: str) -> bool:
  """Whether the field `name` (its last part) is a duration in epochs."""
  return (bool(_EPOCH_FIELD.search(name)) and not _PERIOD_FIELD.search(name)
          and name != "num_epochs")


def epoch_fields(config) -> list[str]:
  """The dotted paths of the numeric duration fields (`is_epoch_field`)."""
  paths = []
  for name, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      paths += [f"{name}.{path}" for path in epoch_fields(value)]
    elif is_epoch_field(name) and _is_epochs(value):
      paths.append(name)
  return paths


def _is_epochs(value) -> bool:
  values = value if isinstance(value, (tuple, list)) else (value,)
  return all(isinstance(v, (int, float, np.integer, np.floating)) and
             not isinstance(v, bool) for v in values)


def scale_schedule(config, num_epochs: int, *,
                   also: tuple[str, ...] = ()) -> None:
  """Compresses the schedule into `num_epochs`, keeping its proportions.

  Every duration field (`epoch_fields`: a numeric field named `*epoch` or
  `*epochs`, not `*_every_epochs`; scalars or sequences) is scaled by
  num_epochs / config.num_epochs and rounded; a nonzero epoch stays >= 1.
  Then `config.num_epochs = num_epochs`.

  Args:
    config: a config (changed in place).
    num_epochs: the new schedule length, >= 1.
    also: deprecated and unneeded (the fields are found by their name);
      extra dotted paths to scale, each at most once.
  """
  if num_epochs < 1:
    raise ValueError(f"the schedule needs >= 1 epoch, got {num_epochs}.")
  paths = epoch_fields(config)
  if also:
    warnings.warn(
        "scale_schedule(also=...) is no longer needed: every field named "
        "*epoch / *epochs is scaled.", DeprecationWarning, stacklevel=2)
    paths += [path for path in also if path not in paths]
  ratio = num_epochs / config.num_epochs

  def scale(epochs):
    return max(1, round(epochs * ratio)) if epochs else 0

  for path in paths:
    parent, _, leaf = path.rpartition(".")
    section = config
    for part in filter(None, parent.split(".")):
      section = section[part]
    value = section[leaf]
    if isinstance(value, (tuple, list)):
      section[leaf] = type(value)(scale(e) for e in value)
    else:
      section[leaf] = scale(value)
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
