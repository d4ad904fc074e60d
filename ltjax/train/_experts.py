"""Multi-expert ensembles on the one engine (`config.experts`).

A shared-backbone expert model (`models.build_model("resnet32_experts",
...)`, RIDE's layout) returns per-expert logits [E, B, C] and features
[E, B, D]. The method picks the training loss over the experts and the
aggregation that is evaluated:

  ride: RIDE (Wang et al. 2010.01809; `ltjax.losses.ride_loss`): per expert
    LDAM on s times its cosine logits, plus the diversity KL to the
    (fixed) ensemble mean; DRW's class weights and per-class temperature
    from `loss.drw_start_epoch`. Evaluated: the mean of the experts' logits.
    With `config.teacher`, RIDE's distillation from a teacher ensemble
    (`ltjax.losses.ride_distill_loss`). `experts.router_epochs` > 0 trains
    RIDE's expert-assignment router after the main schedule (a second
    stage, `ltjax.experts.fit_router`) and records its accuracy and the
    average number of experts it consults.
  sade: SADE (Zhang et al. 2107.09249; `ltjax.losses.sade_loss`): experts
    towards the long-tailed, uniform and inverse label distributions.
    Evaluated: the mean of the experts' logits (its test-time
    self-supervised aggregation is an evaluation protocol:
    `experiments.evaluate_shift --tta`).
  ace: ACE (Cai et al. 2108.09035; `ltjax.losses.ace_loss`): experts on
    nested class subsets with linear classifiers, their learning rates
    re-scaled (`ace_lr_scales`, `ace_optimizer`); only expert 0's loss reaches the shared layers (the
    later experts see them under `stop_gradient`); evaluated: `ace_aggregate` of the logits re-scaled
    to expert 0's classifier norm (`ace_logit_scales`, the paper's "average
    over the re-scaled logits in each data split").

The experts' logits of a normalized (cosine) head are multiplied by
`loss.scale` (RIDE's and SADE's s = 30) before the loss and the evaluation,
as the originals' models do.
"""

import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ltjax import experts as ltexperts
from ltjax import losses
from ltjax import metrics as ltmetrics
from ltjax import models
from ltjax.train import _component
from ltjax.train import _config
from ltjax.train import _engine
from ltjax.train import _objectives
from ltjax.train import _retrain

METHODS = ("none", "ride", "sade", "ace")


def method(config) -> str:
  return config.get("experts", {}).get("method", "none")


def enabled(config) -> bool:
  return method(config) != "none"


def is_expert_model(name: str) -> bool:
  return name.endswith("_experts")


def model_kwargs(config) -> dict:
  """The expert model's fields from `config.experts`."""
  if not is_expert_model(config.model.name):
    return {}
  return {"num_experts": int(config.experts.num_experts),
          "reduce_dimension": bool(config.experts.reduce_dimension),
          # ACE: "the loss of expert 1 updates the backbone and expert 1;
          # the losses of the others update only their expert".
          "detach_later_experts": method(config) == "ace"}


def logit_scale(config) -> float:
  """s for a normalized head (the originals' models multiply by it), else 1."""
  return float(config.loss.scale) if config.model.head == "normalized" else 1.0


def aggregate_experts(config, expert_logits, counts, params):
  """The evaluated logits [B, C] of the experts' [E, B, C].

  Args:
    config: the run's config.
    expert_logits: float [E, B, C].
    counts: [C] training class counts.
    params: the expert model's params (ACE re-scales each expert's logits by
      its classifier's weight norms; the other methods do not read them).
  """
  if method(config) == "ace":
    masks = losses.ace_class_masks(counts, expert_logits.shape[0])
    return losses.ace_aggregate(expert_logits, masks,
                                scales=ace_scales(params, masks))
  return models.aggregate_expert_logits(expert_logits)


def ace_scales(params, masks):
  """`ltjax.losses.ace_logit_scales` of the experts' linear classifiers."""
  norms = jnp.stack([jnp.linalg.norm(head["kernel"].astype(jnp.float32),
                                     axis=0)
                     for head in models.expert_heads(params)])
  return losses.ace_logit_scales(norms, masks)


class ExpertLoss:
  """`loss(expert_logits [E, B, C] scaled, labels, step) -> scalar`.

  The method's loss. RIDE's weighted form (DRW's class weights and the
  per-class temperature) switches on inside `ride_loss` once the weights
  `class_weights_at(step)` stop being all equal (DRW's are ones before its
  start step), so the step is compiled once and the loss computed once. `distill(...)` is RIDE's loss with its
  distillation from a teacher ensemble's logits.

  Args:
    config: the run's config.
    counts: [C] training class counts.
    class_weights_at: `step -> [C]` class weights (`loss.reweight`: DRW),
      or None.
  """

  def __init__(self, config, counts, *, class_weights_at):
    self.name = method(config)
    if self.name not in METHODS[1:]:
      raise ValueError(
          f"experts.method {self.name!r} is not one of {METHODS[1:]}.")
    self.config = config
    self.counts = np.asarray(counts, np.float32)
    self.class_weights_at = class_weights_at
    experts = config.experts
    self.ride_kwargs = dict(
        class_counts=self.counts, max_margin=config.loss.max_margin,
        scale=config.loss.scale, diversity_factor=experts.diversity_factor,
        diversity_temperature=experts.diversity_temperature,
        reweight_factor=experts.reweight_factor)

  def _ride(self, fn, step):
    weights_at = self.class_weights_at
    return fn(None if weights_at is None else weights_at(step))

  def __call__(self, expert_logits, labels, step):
    if self.name == "ride":
      return self._ride(lambda w: losses.ride_loss(
          expert_logits, labels, class_weights=w, **self.ride_kwargs), step)
    if self.name == "sade":
      return jnp.mean(losses.sade_loss(expert_logits, labels,
                                       class_counts=self.counts,
                                       tau=self.config.experts.sade_tau))
    return losses.ace_loss(expert_logits, labels, class_counts=self.counts)

  def distill(self, expert_logits, labels, teacher_logits, step):
    """RIDE with distillation from `teacher_logits` [B, C] (`teacher`)."""
    teacher = self.config.teacher
    return self._ride(lambda w: losses.ride_distill_loss(
        expert_logits, labels, teacher_logits, class_weights=w,
        distill_temperature=teacher.temperature,
        distill_weight=teacher.weight, **self.ride_kwargs), step)


def ace_optimizer(config, counts, optimizer):
  """`optimizer` with ACE's per-expert learning rates.

  Expert k's parameters move by its update times `ace_lr_scales[k]`, the
  shared layers' by the plain update: PyTorch's per-group learning rate
  (`torch.optim.SGD` param groups), which scales the whole step, weight
  decay and momentum buffer included. (Scaling the gradient instead would
  leave an expert's weight decay at the full rate while its gradient
  shrinks, e.g. x 0.04 for MNIST-LT's few-shot expert: its weights decay
  towards 0.)
  """
  scales = np.asarray(losses.ace_lr_scales(
      counts, int(config.experts.num_experts)), np.float32)

  def update(updates, state, params=None):
    del params
    return scale_expert_gradients(updates, scales), state

  return optax.chain(optimizer, optax.GradientTransformation(
      lambda params: optax.EmptyState(), update))


def scale_expert_gradients(grads, scales):
  """`grads` (or updates) with each `expert{k}` subtree times `scales[k]`.

  The experts' entries are found at the top of the params (the model's own)
  or under a wrapper (e.g. a `{"model": ...}` entry); the shared layers'
  gradients are returned unchanged.

  Raises:
    ValueError: no `expert{k}` entries, or not one per scale.
  """
  scales = np.asarray(scales, np.float32)

  def scaled(tree):
    if not hasattr(tree, "items"):
      return tree, 0
    keys = [k for k in tree if isinstance(k, str) and k.startswith("expert")
            and k[len("expert"):].isdigit()]
    if keys:
      if sorted(int(k[len("expert"):]) for k in keys) != list(
          range(len(scales))):
        raise ValueError(
            f"ACE: {len(scales)} learning-rate scales for the experts "
            f"{sorted(keys)}; experts.num_experts must match the model.")
      out = dict(tree)
      for k in keys:
        factor = scales[int(k[len("expert"):])]
        out[k] = jax.tree_util.tree_map(lambda g, f=factor: g * f, tree[k])
      return type(tree)(out) if not isinstance(tree, dict) else out, len(keys)
    out, found = {}, 0
    for k, v in tree.items():
      out[k], n = scaled(v)
      found += n
    return (type(tree)(out) if not isinstance(tree, dict) else out), found

  result, found = scaled(grads)
  if not found:
    raise ValueError(
        "ACE's gradient scaling found no 'expert{k}' parameters; ACE needs "
        "an expert model (model.name '<backbone>_experts').")
  return result


class _BatchFirst:
  """An expert model whose outputs are [B, E, ...] (scaled logits, features).

  `extract_features` cuts and joins its outputs along the first axis.
  """

  def __init__(self, model, scale: float):
    self.model = model
    self.scale = scale

  def apply(self, variables, inputs, train=False):
    logits, features = self.model.apply(variables, inputs, train=train)[:2]
    logits = logits.astype(jnp.float32) * self.scale
    return jnp.swapaxes(logits, 0, 1), jnp.swapaxes(features, 0, 1)


def expert_outputs(run, state, split):
  """Evaluation-mode ([E, N, C] scaled logits, [E, N, D] features)."""
  variables = jax.device_get(_engine.model_variables(run.task, state))
  features, logits = _retrain.extract_features(
      _BatchFirst(run.model, logit_scale(run.config)), variables, split,
      preprocess=run.preprocess, mesh=run.mesh,
      batch_size=run.eval_batch_size, with_outputs=True)
  return np.swapaxes(logits, 0, 1), np.swapaxes(features, 0, 1)


def run_router_stage(run, state, session) -> list[dict]:
  """RIDE's expert-assignment router on the frozen experts; records it.

  The training split's evaluation-mode expert logits (times s) and pooled
  features are cached once; `ltjax.experts.fit_router` trains the router
  on them for `experts.router_epochs` epochs (SGD, lr
  `experts.router_lr`, cosine, batch `experts.router_batch_size`, the
  top-`router_top_choices` logits), seeded from `config.seed`. Val and test
  are then routed (`ltjax.experts.route`, `experts.router_threshold`): an
  example consults experts 1..k, stopping at the first the router declines,
  and is scored on their mean. Recorded through `session.record` as
  {"stage": "router", "step": the main schedule's, "val", "test" (the
  task's summaries), "experts_used": {split: mean number of experts}}. The
  run's final metrics stay the full ensemble's ("train").
  """
  config = run.config
  experts = config.experts
  if method(config) != "ride" or int(experts.router_epochs) <= 0:
    return []
  if jax.process_count() > 1:
    raise ValueError("experts.router_epochs: the router stage runs in a "
                     "single process; run it on one host.")
  started = time.perf_counter()
  logits, features = expert_outputs(run, state, run.dataset.train)
  num_classes = logits.shape[-1]
  params = ltexperts.fit_router(
      logits, np.asarray(run.dataset.train.labels),
      key=jax.random.PRNGKey(int(config.seed) + 104_729),
      num_epochs=int(experts.router_epochs),
      batch_size=int(experts.router_batch_size),
      learning_rate=float(experts.router_lr), features=features,
      top_choices_num=min(int(experts.router_top_choices), num_classes))
  record = {"epoch": int(state.step) / run.steps_per_epoch,
            "step": int(state.step), "stage": "router",
            "experts_used": {}}
  for name in ("val", "test"):
    split = getattr(run.dataset, name, None)
    if split is None or not len(split):
      continue
    logits, features = expert_outputs(run, state, split)
    routed, used = ltexperts.route(params, logits, features=features,
                                   threshold=float(experts.router_threshold))
    counts = ltmetrics.ClassificationCounts.from_logits(
        np.asarray(routed), np.asarray(split.labels))
    record[name] = run.task.summaries({"plain": counts})[""]
    record["experts_used"][name] = float(np.mean(np.asarray(used)))
  logging.info("router: %d epochs, %.1f s; experts used %s.",
               int(experts.router_epochs), time.perf_counter() - started,
               record["experts_used"])
  session.record(record)
  return [record]


def validate_experts(config) -> None:
  """Checks `config.experts` against the model and the fields it replaces."""
  experts, name = config.experts, config.model.name
  _config.require_known(experts.method, METHODS, "experts.method")
  expert_model = name.endswith("_experts")
  if experts.method == "none":
    _config.require_field(not expert_model, "experts.method",
                  f"model {name!r} has several experts: set experts.method "
                  f"to one of {list(METHODS[1:])} (their loss and "
                  f"aggregation), or use the single model "
                  f"{name[:-len('_experts')]!r}.")
    return
  _config.require_field(expert_model, "model.name",
                f"experts.method {experts.method!r} needs an expert model "
                f"(one of {[m for m in models.MODELS if m.endswith('_experts')]}"
                f"), got {name!r}.")
  _config.require_field(experts.num_experts >= 1, "experts.num_experts",
                f"must be >= 1, got {experts.num_experts}.")
  if experts.method == "sade":
    _config.require_field(experts.num_experts == 3, "experts.num_experts",
                  f"SADE has 3 experts (long-tailed, uniform, inverse), got "
                  f"{experts.num_experts}.")
  if experts.method == "ace":
    _config.require_field(experts.num_experts >= 2, "experts.num_experts",
                  f"ACE needs >= 2 experts, got {experts.num_experts}.")
  if experts.method == "ride":
    _config.require_field(config.loss.name == "ldam", "loss.name",
                  "RIDE's per-expert loss is LDAM (loss.max_margin, "
                  "loss.scale): set loss.name='ldam'.")
    _config.require_known(config.loss.reweight, ("default", "none", "drw"),
                  "loss.reweight")
  else:
    _config.require_field(config.loss.name == "ce" and config.loss.reweight in (
        "default", "none"), "loss.name",
                  f"the {experts.method.upper()} loss replaces config.loss: "
                  f"leave loss.name='ce' and loss.reweight='default'.")
  if experts.method == "ace":
    _config.require_field(config.model.head == "linear", "model.head",
                  "ACE averages its experts' logits per class after "
                  "re-scaling them by the ratio of their linear classifiers' "
                  "weight norms (cosine heads have unit norms, so nothing "
                  "would re-scale them): set model.head='linear'.")
  _config.require_field(experts.diversity_temperature > 0,
                "experts.diversity_temperature",
                f"must be > 0, got {experts.diversity_temperature}.")
  _config.require_field(0 <= experts.reweight_factor <= 1, "experts.reweight_factor",
                f"must be in [0, 1], got {experts.reweight_factor}.")
  _config.require_field(experts.sade_tau >= 0, "experts.sade_tau",
                f"must be >= 0, got {experts.sade_tau}.")
  _config.require_field(experts.router_epochs >= 0, "experts.router_epochs",
                f"must be >= 0, got {experts.router_epochs}.")
  _config.require_field(experts.router_epochs == 0 or experts.method == "ride",
                "experts.router_epochs", "the expert-assignment router is "
                "RIDE's: set experts.router_epochs=0 for "
                f"{experts.method!r}.")
  _config.require_field(experts.router_lr > 0, "experts.router_lr",
                f"must be > 0, got {experts.router_lr}.")
  _config.require_field(experts.router_batch_size >= 1, "experts.router_batch_size",
                f"must be >= 1, got {experts.router_batch_size}.")
  _config.require_field(0 < experts.router_threshold < 1, "experts.router_threshold",
                f"must be in (0, 1), got {experts.router_threshold}.")
  _config.require_field(experts.router_top_choices >= 1,
                "experts.router_top_choices",
                f"must be >= 1, got {experts.router_top_choices}.")
  for field, off in (("mixing.name", config.mixing.name == "none"),
                     ("max_norm.mode", config.max_norm.mode == "none"),
                     ("glmc.enabled", not config.get("glmc", {}).get(
                         "enabled", False)),
                     ("stage2.name", config.get("stage2", {}).get(
                         "name", "none") == "none"),
                     ("optim.sam_rho", config.optim.sam_rho == 0)):
    _config.require_field(off, field, f"is not supported with experts.method "
                  f"{experts.method!r} (the experts' own loss and "
                  f"classifiers): turn it off.")


class Experts(_component.Component):
  """RIDE / SADE / ACE as a training component (`config.experts`).

  The model has several experts (`model_kwargs`); their loss replaces the
  objective (with RIDE's distillation from the teacher when one is set),
  evaluation scores their aggregate (ACE: re-scaled per-class averages),
  ACE's optimizer scales each expert's step, and RIDE's router is a second
  stage (`experts.router_epochs`). The aggregate is not adjusted post hoc.
  """
  name = "experts"
  fields = ("experts.method",)
  roles = frozenset({"loss", "eval_forward"})
  multi_process = False
  takes_teacher = True

  @staticmethod
  def add_defaults(config) -> None:
    # Multi-expert ensembles on a shared backbone (`ltjax.train._experts`):
    # model.name an expert model ("resnet32_experts", "resnet50_experts",
    # "mnist_cnn_experts") with experts.method ride | sade | ace.
    config.experts = ml_collections.ConfigDict(dict(
        method="none",  # none | ride | sade | ace
        num_experts=3,
        reduce_dimension=False,  # RIDE's reduced expert widths
        # ride (RIDE's loss; loss.max_margin / loss.scale its LDAM part):
        diversity_factor=-0.2,  # RIDE's CIFAR config: -0.45
        diversity_temperature=1.0,
        reweight_factor=0.05,  # the per-class temperature under DRW
        sade_tau=2.0,  # sade: the inverse expert's -tau log pi_inv
        # ride: > 0 trains the expert-assignment router for this many epochs
        # after the main schedule (a second stage on the frozen experts).
        router_epochs=0,
        router_lr=0.01,
        router_batch_size=128,
        router_threshold=0.5,
        # the router's top-k logits per expert (original: 30 on CIFAR-100,
        # 50 on ImageNet-LT); min(k, C) is used
        router_top_choices=30,
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    if "experts" in config:
      validate_experts(config)

  @classmethod
  def roles_of(cls, config):
    if method(config) == "ride" and int(config.experts.router_epochs) > 0:
      return cls.roles | {"second_stage"}
    return cls.roles

  @staticmethod
  def corrects_logits(config) -> bool:
    del config
    return True

  @staticmethod
  def model_kwargs(config) -> dict:
    return model_kwargs(config)

  def __init__(self, task):
    super().__init__(task)
    config = self.config
    self.logit_scale = logit_scale(config)
    counts = _objectives.check_counts(task.counts).astype(np.float32)
    drw_start = config.loss.drw_start_epoch * task.steps_per_epoch
    weights_at = _objectives.class_weights(
        _objectives.resolve_reweight(config.loss), config.loss, counts,
        drw_start)
    self._loss = ExpertLoss(config, counts, class_weights_at=weights_at)

  def optimizer(self, optimizer):
    if method(self.config) == "ace":
      return ace_optimizer(self.config, self.task.counts, optimizer)
    return optimizer

  def loss(self, params, outputs, batch, state):  # pylint: disable=method-hidden
    """The experts' loss on s times their logits; aux: the aggregate."""
    expert_logits = outputs[0].astype(jnp.float32) * self.logit_scale
    teacher = _component.with_role(self.task.components, "teacher")
    if teacher is not None:  # RIDE's distillation (validated: ride)
      value = self._loss.distill(
          expert_logits, batch["label"], teacher.logits(batch, state),
          state.step)
    else:
      value = self._loss(expert_logits, batch["label"], state.step)
    logits = aggregate_experts(self.config, outputs[0], self.task.counts,
                               params)
    return value, {"logits": logits}

  def eval_forward(self, forward):  # pylint: disable=method-hidden
    config, counts = self.config, self.task.counts

    def aggregated(state, batch):
      expert_logits, features = forward(state, batch)[:2]
      return (aggregate_experts(config, expert_logits, counts, state.params),
              features)

    return aggregated

  def evaluated_kernel(self, params):
    """The experts' heads, concatenated."""
    return jnp.concatenate([h["kernel"] for h in
                            models.expert_heads(params)], axis=-1)

  def second_stage(self, run, state, session):  # pylint: disable=method-hidden
    return run_router_stage(run, state, session)
