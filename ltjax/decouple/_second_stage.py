"""The classification engine's second stage: re-training the classifier.

`run_second_stage(run, state, session)` is called by the classification task
after its main schedule when `config.stage2.name != "none"`. It re-trains
(or calibrates) the classifier on the frozen stage-1 backbone, evaluates the
result on val and test, records it as a "stage2" record and writes
predictions.npz of the re-trained classifier.

Methods (`STAGE2_METHODS`):
  crt: cRT (Kang et al. 1910.09217): a re-initialised head, class-balanced
    sampling, cross-entropy.
  mislas: MiSLAS stage 2 (Zhong et al. 2104.00466, `train_stage2.py`): the
    stage-1 classifier kept and fine-tuned together with learnable per-class
    logit scales (LWS) under label-aware smoothing, class-balanced
    sampling, optionally with shift learning of the BatchNorm statistics.
  weight_balancing: stage 2 of Alshammari et al. 2203.14197: the stage-1
    classifier kept and fine-tuned with the class-balanced loss, weight decay
    and MaxNorm (projected gradient descent, relative threshold frozen at the
    start).
  disalign: DisAlign (Zhang et al. 2103.16370): the frozen classifier's
    logits adaptively calibrated, trained with the generalised re-weighting
    loss (`ltjax.decouple.fit_disalign`).
"""

import ml_collections

STAGE2_METHODS = ("none", "crt", "mislas", "weight_balancing", "disalign")
STAGE2_FEATURES = ("cached", "augmented")
SMOOTH_SHAPES = ("concave", "linear", "convex", "exp")
MAX_NORM_WHEN = ("step", "epoch")


def default_stage2_config() -> ml_collections.ConfigDict:
  """`config.stage2`: the classifier's second stage (off by default).

  The generic fields default to MiSLAS's CIFAR-10-LT (rho = 100) stage 2
  (`config/cifar10/cifar10_imb001_stage2_mislas.yaml`); a recipe of another
  method sets its own (the values of each original are in the comments).

  The stage-2 length is `stage2.num_epochs`: a field named `num_epochs` is
  not a duration of the stage-1 schedule, so the configs' `:EPOCHS` argument
  (`ltjax.train.scale_schedule`) does not scale it; every original runs its
  stage 2 for 10 epochs whatever the length of stage 1.

  Returns:
    A ConfigDict with `name="none"`.
  """
  return ml_collections.ConfigDict(dict(
      # none | crt | mislas | weight_balancing | disalign
      name="none",
      # Passes of N sampled training examples (N = the training set size).
      # 10 in MiSLAS, weight balancing, DisAlign and cRT. Not scaled by
      # `:EPOCHS` (see above).
      num_epochs=10,
      # MiSLAS CIFAR 128; weight balancing 64; DisAlign ImageNet-LT 256.
      batch_size=128,
      # Peak learning rate, cosine-annealed to 0 by epoch as in the MiSLAS,
      # weight-balancing and DisAlign code (lr of epoch e: lr (1 + cos(pi
      # e / num_epochs)) / 2). MiSLAS 0.1; weight balancing 0.01; DisAlign
      # 0.1; cRT (ltjax.decouple) 0.2.
      lr=0.1,
      # mislas: the kept classifier's learning rate is lr_factor * lr, the
      # per-class scales' is lr (MiSLAS CIFAR-10 rho=100: 0.5; rho=50, 10:
      # 0.2; CIFAR-100: 0.2 / 0.1 / 0.1).
      lr_factor=0.5,
      momentum=0.9,  # SGD momentum (every original: 0.9)
      # Coupled L2 weight decay (torch.optim.SGD). MiSLAS CIFAR 2e-4; weight
      # balancing 0.1 (its tuned stage-2 value); DisAlign 5e-4; cRT 5e-4.
      weight_decay=2e-4,
      # A `ltjax.sampling.SAMPLERS` name. MiSLAS and cRT: class_balanced;
      # weight balancing and DisAlign: instance.
      sampler="class_balanced",
      # Consecutive examples per class draw of a class-balanced sampler
      # (MiSLAS / cRT's ClassAwareSampler: 4).
      group_size=4,
      # The stage-2 seed is config.seed + seed_offset (head init, sampling,
      # augmentation), so stage 2 draws other numbers than stage 1.
      seed_offset=1,
      # cached: the backbone's features are extracted once (evaluation mode,
      # no augmentation) and the classifier trains on them
      # (`ltjax.train.retrain_head`), fast. augmented: the frozen backbone
      # runs on every augmented batch, as every original does.
      features="augmented",
      # BatchNorm of the frozen backbone in train mode during stage 2: its
      # running statistics are updated on the stage-2 (augmented,
      # re-sampled) batches and used at evaluation; its parameters stay
      # frozen. MiSLAS's "shift learning" (`shift_bn`: False for CIFAR-10,
      # True for CIFAR-100 / ImageNet-LT / iNat / Places). Weight balancing
      # and DisAlign keep the model in train mode too (True). Needs
      # features="augmented".
      shift_bn=False,
      # mislas: label-aware smoothing (`ltjax.losses.label_aware_smoothing_
      # loss`); epsilon runs from smooth_tail (smallest class) to
      # smooth_head (largest). CIFAR-10 rho=100: 0.3 / 0.0 (rho=50: 0.2,
      # rho=10: 0.1; CIFAR-100 rho=100: 0.4 / 0.1). The original's shape is
      # concave (its default); smooth_power is used by shape "exp" only.
      smooth_head=0.3,
      smooth_tail=0.0,
      smooth_shape="concave",
      smooth_power=3.0,
      # weight_balancing: MaxNorm's relative threshold, min + position (max
      # - min) of the kept classifier's per-class norms when stage 2 starts
      # (the original's `thresh = 0.1`).
      max_norm_position=0.1,
      # weight_balancing: project after every update ("step") or once per
      # epoch ("epoch", what the original's `train_model` does).
      max_norm_when="step",
      # weight_balancing: beta of the class-balanced (effective number)
      # weights of its loss (the original: 0.9999).
      cb_beta=0.9999,
      # disalign: rho of the generalised re-weighting, w_c ∝ (1 / n_c)^rho
      # (the original's GRW_SCALE for ImageNet-LT: 1.2).
      grw_power=1.2,
  ))


def _require(ok: bool, field: str, message: str) -> None:
  if not ok:
    raise ValueError(f"config.stage2.{field}: {message}")


def validate_stage2_config(config) -> None:
  """Checks `config.stage2`; raises ValueError("config.stage2.<field>: ...").

  Args:
    config: a classification config with a `stage2` section.
  """
  # pylint: disable=g-import-not-at-top
  from ltjax import sampling
  s = config.stage2
  _require(s.name in STAGE2_METHODS, "name",
           f"{s.name!r} is not one of {list(STAGE2_METHODS)}.")
  for field in ("num_epochs", "batch_size", "group_size"):
    _require(isinstance(s[field], int) and s[field] >= 1, field,
             f"must be an integer >= 1, got {s[field]!r}.")
  _require(s.lr > 0, "lr", f"must be > 0, got {s.lr}.")
  _require(s.lr_factor > 0, "lr_factor", f"must be > 0, got {s.lr_factor}.")
  _require(0 <= s.momentum < 1, "momentum",
           f"must be in [0, 1), got {s.momentum}.")
  _require(s.weight_decay >= 0, "weight_decay",
           f"must be >= 0, got {s.weight_decay}.")
  _require(s.sampler in sampling.SAMPLERS, "sampler",
           f"{s.sampler!r} is not one of {list(sampling.SAMPLERS)}.")
  _require(s.features in STAGE2_FEATURES, "features",
           f"{s.features!r} is not one of {list(STAGE2_FEATURES)}.")
  _require(not s.shift_bn or s.features == "augmented", "shift_bn",
           "updating the BatchNorm statistics needs the backbone to run on "
           "every batch: set stage2.features='augmented' (or shift_bn=False).")
  for field in ("smooth_head", "smooth_tail"):
    _require(0 <= s[field] < 1, field, f"must be in [0, 1), got {s[field]}.")
  _require(s.smooth_shape in SMOOTH_SHAPES, "smooth_shape",
           f"{s.smooth_shape!r} is not one of {list(SMOOTH_SHAPES)}.")
  _require(s.smooth_power > 0, "smooth_power",
           f"must be > 0, got {s.smooth_power}.")
  _require(0 <= s.max_norm_position <= 1, "max_norm_position",
           f"must be in [0, 1], got {s.max_norm_position}.")
  _require(s.max_norm_when in MAX_NORM_WHEN, "max_norm_when",
           f"{s.max_norm_when!r} is not one of {list(MAX_NORM_WHEN)}.")
  _require(0 <= s.cb_beta < 1, "cb_beta", f"must be in [0, 1), got "
           f"{s.cb_beta}.")
  _require(s.grw_power >= 0, "grw_power",
           f"must be >= 0, got {s.grw_power}.")
  if s.name == "weight_balancing":
    head = config.model.head
    _require(head == "linear", "name",
             f"MaxNorm bounds a linear classifier's weight norms; model.head "
             f"is {head!r} (a cosine head's norms are 1 already): use "
             f"model.head='linear' or another stage2.name.")


def run_second_stage(run, state, session) -> list[dict]:
  """Runs `config.stage2`; records and returns its evaluation records."""
  name = run.config.stage2.name
  raise NotImplementedError(f"stage2.name={name!r} is not implemented yet.")
