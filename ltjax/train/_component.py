"""Training components: one training-procedure idea each, composed by a task.

A component is one idea of how to train (mixing, GLMC, contrastive
learning, experts, distillation, SAM/ImbSAM, MaxNorm, test-time
augmentation, a second stage ...). A task (`ltjax.train.Task`) owns what
every run of its kind shares (the data, the model, the objective, the
metrics); it makes the components its config enables
(`Component.enabled(config)`), in the order of its registry, and asks each
for the hooks it contributes. A component contributes only the hooks it
overrides; every default below contributes nothing.

| hook | what it contributes | composed as |
| --- | --- | --- |
| `add_defaults(config)`, `validate(config)` | its config section | each |
| `prepare_data(config, dataset)` | the dataset trained on (re-sampling) | chained |
| `model_kwargs(config)` | keyword arguments of the model | merged |
| `init_params(params)` | the trained parameters from the model's | chained |
| `wraps_params` | the trained parameters are `{"model": ..., ...}` | any |
| `optimizer(optimizer)` | a wrapped optimizer | chained |
| `loss(params, outputs, batch, state)` | the objective (role "loss") | one |
| `wrap_loss(value, aux, batch, state)` | a term or wrapper on the loss | chained |
| `gradient()` | the gradient procedure (role "gradient") | one |
| `train_metrics(aux)` | per-step scalars of its own | merged |
| `transforms()` | batch transforms after augmentation | appended |
| `partner()` | the partner sample's kind (role "partner") | one |
| `init_extra(model, sample)` / `advance` | step state and its update | merged |
| `project` | a projection after each update | one |
| `eval_forward(forward)` | the evaluated forward (role "eval_forward") | one |
| `wrap_forward(forward)` | a wrapper of the evaluated forward | chained |
| `logit_scale` | the factor on the evaluated logits | one |
| `evaluated_kernel(params)` | the evaluated classifier's kernel | first |
| `classifier` / `with_classifier` | the classifier MaxNorm bounds | first |
| `pretrained` / `second_stage` | work after the schedule (role "second_stage") | one |

A task may define hooks of its own on a subclass (regression's
`RegressionComponent`: per-bin loss weights, calibrated features).

Roles are exclusive: two enabled components that claim one role (two
gradient procedures, two evaluation forwards, two second stages ...) are
refused when the config is validated (`check_conflicts`), with the config
fields that enable them; `refuses` names further components one cannot run
with. The registry maps a component's name to its class or its
"module:Class" path, so a task's package never imports a component at
start-up (`register_component`).
"""

import importlib
from typing import Any

import jax


class Component:
  """Base class of a training component; every hook contributes nothing.

  Class attributes:
    name: the registry key (its config section where it owns one).
    fields: the config fields that turn it on, the first deciding
      (`enabled`) and all named in error messages.
    roles: the exclusive roles it takes when enabled (`roles_of`).
    refuses: names of components it cannot run with.
    wraps_params: whether the trained parameters are
      `{"model": model params, <own>: ...}` (the model's are trained).
    takes_teacher: whether its loss distils from the teacher itself.
    multi_process: False for a second stage that runs in one process only:
      a multi-process job that enables it is refused when the task is
      made, before the main schedule, not after it.
  """
  name = "component"
  fields: tuple[str, ...] = ()
  roles: frozenset[str] = frozenset()
  refuses: tuple[str, ...] = ()
  wraps_params = False
  takes_teacher = False
  multi_process = True

  def __init__(self, task):
    self.task = task
    self.config = task.config

  # ---- configuration (static: the config alone) ----
  @staticmethod
  def add_defaults(config) -> None:
    """Adds its config section (or fields) with their defaults to the
    task's schema (`default_config`); it is off at its defaults."""
    del config

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    """Checks its section; raises ValueError "config.<field>: ..."."""
    del config, check_data

  @classmethod
  def enabled(cls, config) -> bool:
    """Whether `config` turns it on: its first field is set (not False, 0,
    "" or "none"; a section the config lacks is off)."""
    if not cls.fields:
      return False
    value = config
    for part in cls.fields[0].split("."):
      if not hasattr(value, "get") or part not in value:
        return False
      value = value[part]
    return value not in (False, None, 0, "", "none")

  @classmethod
  def roles_of(cls, config) -> frozenset[str]:
    """The roles it takes under `config` (default: `roles`)."""
    del config
    return cls.roles

  @staticmethod
  def corrects_logits(config) -> bool:
    """Whether its trained logits are already balanced under `config` (no
    post-hoc logit adjustment is reported)."""
    del config
    return False

  @staticmethod
  def prepare_data(config, dataset):
    """The dataset the run trains on (data-level re-sampling); default: as
    given. Called once, before the steps per epoch are counted."""
    del config
    return dataset

  @staticmethod
  def model_kwargs(config) -> dict[str, Any]:
    del config
    return {}

  # ---- parameters and optimizer ----
  def init_params(self, params):
    return params

  def optimizer(self, optimizer):
    return optimizer

  # ---- objective ----
  loss = None  # or (params, outputs, batch, state) -> (scalar, aux)

  def wrap_loss(self, value, aux, batch, state):
    del batch, state
    return value, aux

  gradient = None  # or () -> a gradient procedure (`_step.make_step`)

  def train_metrics(self, aux) -> dict[str, Any]:
    """Per-step scalars of its own, from the loss's aux."""
    del aux
    return {}

  def transforms(self) -> tuple:
    return ()

  partner = None  # or () -> "instance" | "balanced" | "shuffle"

  # ---- step state ----
  def init_extra(self, model, sample) -> dict[str, Any]:
    del model, sample
    return {}

  advance = None  # or (extra, aux, batch, step) -> extra
  project = None  # or (params, extra, previous params) -> (params, extra)

  # ---- evaluation ----
  eval_forward = None  # or (forward) -> forward

  def wrap_forward(self, forward):
    return forward

  logit_scale: float | None = None

  def evaluated_kernel(self, params):
    del params
    return None

  classifier = None  # or (params) -> kernel [D, C]
  with_classifier = None  # or (params, kernel) -> params

  # ---- stages ----
  pretrained = None  # or (like) -> (state, stage name) | None
  second_stage = None  # or (run, state, session) -> records
  final_stage: str | None = None
  writes_predictions = True


REGISTRY: dict[str, dict[str, str | type[Component]]] = {}


def register_component(task: str, name: str,
                       component: str | type[Component]) -> None:
  """Adds (or replaces) `name` among `task`'s components; a new name comes
  last in the composition order."""
  REGISTRY.setdefault(task, {})[name] = component


def component_classes(task: str) -> list[type[Component]]:
  """Every registered component of `task`, in composition order."""
  out = []
  registry = REGISTRY.get(task, {})
  for name, component in list(registry.items()):
    if isinstance(component, str):
      module, _, attr = component.partition(":")
      component = getattr(importlib.import_module(module), attr)
      registry[name] = component
    out.append(component)
  return out


def enabled_classes(task: str, config) -> list[type[Component]]:
  return [c for c in component_classes(task) if c.enabled(config)]


def _describe(component: type[Component]) -> str:
  fields = ", ".join(f"config.{f}" for f in component.fields)
  return f"{component.name} ({fields})" if fields else component.name


def check_conflicts(task: str, config) -> None:
  """Refuses two enabled components with one role, or a refused pair."""
  enabled = enabled_classes(task, config)
  claimed: dict[str, type[Component]] = {}
  for component in enabled:
    for role in sorted(component.roles_of(config)):
      if role in claimed:
        first = claimed[role]
        raise ValueError(
            f"{_describe(first)} and {_describe(component)} each take the "
            f"{role!r} role: a run has one. Turn one of them off.")
      claimed[role] = component
  names = {c.name for c in enabled}
  for component in enabled:
    for other in component.refuses:
      if other in names:
        theirs = next(c for c in enabled if c.name == other)
        raise ValueError(
            f"{_describe(component)} cannot run with {_describe(theirs)}: "
            f"turn one of them off.")


def check_processes(task: str, config, processes: int) -> None:
  """Refuses a single-process second stage in a job of `processes`."""
  if processes <= 1:
    return
  for component in enabled_classes(task, config):
    if ("second_stage" in component.roles_of(config)
        and not component.multi_process):
      raise ValueError(
          f"{_describe(component)}: this second stage runs in a single "
          f"process, and this job has {processes}. Train stage 1 on the "
          f"pod with it off, then run the stage on one host (ltjax-decouple "
          f"on the finished run, or the same config with one process).")


def build(task: str, owner) -> list[Component]:
  """The enabled components of `owner.config`, made for `owner` (a task).

  A second stage that runs in one process only is refused here, in a
  multi-process job (`check_processes`), before any training.
  """
  check_processes(task, owner.config, jax.process_count())
  return [c(owner) for c in enabled_classes(task, owner.config)]


def with_role(components: list[Component], role: str) -> Component | None:
  """The component that takes `role`, or None."""
  for component in components:
    if role in component.roles_of(component.config):
      return component
  return None


class ComposesComponents:
  """The task hooks every task composes from its components the same way.

  A mixin before `Task` in a task's bases; the task sets `self.components`
  (`build`) in its `__init__`.
  """
  components: list[Component] = []

  def _role(self, role: str) -> Component | None:
    return with_role(self.components, role)

  def init_extra(self, model, sample) -> dict[str, Any]:
    """The components' step state, merged."""
    extra = {}
    for component in self.components:
      extra.update(component.init_extra(model, sample))
    return extra

  @property
  def advance(self):
    """The components' state updates, in order, or None."""
    steps = [c.advance for c in self.components if c.advance is not None]
    if len(steps) <= 1:
      return steps[0] if steps else None

    def advance(extra, aux, batch, step):
      for one in steps:
        extra = one(extra, aux, batch, step)
      return extra

    return advance

  def pretrained(self, like):
    """The second stage's stage-1 state (a finished run's), or None."""
    owner = self._role("second_stage")
    if owner is None or owner.pretrained is None:
      return None
    return owner.pretrained(like)

  def second_stage(self, run, state, session) -> list[dict[str, Any]]:
    """The "second_stage" role's work after the schedule, else none."""
    owner = self._role("second_stage")
    if owner is None:
      return []
    return owner.second_stage(run, state, session) or []

  def final_stage(self) -> str:
    for component in self.components:
      if component.final_stage is not None:
        return component.final_stage
    return "train"

  def writes_predictions(self) -> bool:
    return all(c.writes_predictions for c in self.components)
