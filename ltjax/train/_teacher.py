"""A frozen teacher for knowledge distillation (`config.teacher`).

`config.teacher.workdir` names a finished run; its newest checkpoint's
variables are loaded once at start-up (`load_model`) and kept in the train
state as `extra["teacher"]`: frozen parameters, checkpointed and restored
with the state, never updated (the step carries the extra entries it does
not advance as they are). A resumed student restores the teacher's
parameters from its own checkpoint; the teacher's workdir is still read at
start-up for its config (the model to apply them with).

Each step runs the teacher in evaluation mode on the student's input batch
(the same augmented, or mixed, images) under `stop_gradient`, and returns
its logits on the teacher's softmax scale: a normalized head's cosines times
the teacher run's `loss.scale`, an expert teacher's aggregated logits (an
ensemble teacher, RIDE's distillation).
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import losses
from ltjax.train import _component
from ltjax.train import _config
from ltjax.train import _experts
from ltjax.train import _load


def enabled(config) -> bool:
  return bool(config.get("teacher", {}).get("workdir", ""))


class Teacher:
  """A finished run's model, its logit scale and aggregation."""

  def __init__(self, workdir: str, *, student_config, counts):
    model, variables, config = _load.load_model(workdir)
    _load.require_finished(
        workdir, "config.teacher.workdir",
        allow_unfinished=student_config.get("allow_unfinished", False))
    self.workdir = workdir
    self.model = model
    self.variables = variables
    self.config = config
    self.counts = np.asarray(counts)
    _check_compatible(config, student_config, workdir)
    self.scale = _experts.logit_scale(config)

  def logits(self, variables, inputs) -> jax.Array:
    """The teacher's logits [B, C] on `inputs` (no gradient)."""
    variables = jax.lax.stop_gradient(variables)
    outputs = self.model.apply(variables, inputs, train=False)
    logits = outputs[0].astype(jnp.float32) * self.scale
    if logits.ndim == 3:  # an expert teacher: its evaluated ensemble
      logits = _experts.aggregate_experts(self.config, logits, self.counts,
                                          variables["params"])
    return jax.lax.stop_gradient(logits)


def _check_compatible(teacher, student, workdir: str) -> None:
  """The teacher must see the student's inputs as it was trained on them."""
  problems = []
  if teacher.data.name != student.data.name:
    problems.append(f"dataset {teacher.data.name!r} (the student's: "
                    f"{student.data.name!r})")
  for field in ("mean", "std"):
    if tuple(teacher.augment[field]) != tuple(student.augment[field]):
      problems.append(f"augment.{field} {tuple(teacher.augment[field])} "
                      f"(the student's: {tuple(student.augment[field])})")
  if problems:
    raise ValueError(
        f"config.teacher.workdir: the run at {workdir} was trained on other "
        f"inputs: {'; '.join(problems)}. Distil from a run on the same "
        f"dataset and normalisation.")


def validate_teacher(config, *, check_files: bool = True) -> None:
  """Checks `config.teacher` (the workdir is read at start-up).

  `check_files` False (a config checked without its data, e.g. a recipe
  table) skips the teacher's workdir: its presence and its config.json.
  """
  teacher = config.teacher
  if not teacher.workdir:
    _config.require_field(not check_files or not teacher.get("recipe", ""),
                  "teacher.workdir",
                  f"this recipe distils from a teacher: train the "
                  f"{teacher.recipe!r} recipe on the same dataset first and "
                  f"pass its workdir, --config.teacher.workdir=DIR.")
    if not teacher.get("recipe", ""):
      return
  elif check_files:
    _config.require_field(
        os.path.exists(os.path.join(teacher.workdir, "config.json")),
        "teacher.workdir",
        f"{teacher.workdir!r} is not a finished ltjax run (no config.json "
        f"there): train the teacher first and pass its workdir.")
  _config.require_field(0 <= teacher.weight <= 1, "teacher.weight",
                f"must be in [0, 1], got {teacher.weight}.")
  _config.require_field(teacher.temperature > 0, "teacher.temperature",
                f"must be > 0, got {teacher.temperature}.")
  _config.require_field(teacher.power > 0, "teacher.power",
                f"must be > 0, got {teacher.power}.")
  method = config.get("experts", {}).get("method", "none")
  _config.require_field(method in ("none", "ride"), "teacher.workdir",
                f"distillation is RIDE's with experts; experts.method "
                f"{method!r} has no distillation: clear teacher.workdir.")
  _config.require_field(not config.get("glmc", {}).get("enabled", False),
                "teacher.workdir", "GLMC replaces the loss: clear "
                "teacher.workdir or glmc.enabled.")


class Distillation(_component.Component):
  """Knowledge distillation from a finished run (`config.teacher.workdir`).

  Keeps the frozen teacher in the step state and makes the loss
  (1 - w) * loss + w * distillation loss, on the student's logits times
  the task's logit scale (LDAM's s on a cosine head) and the teacher's on
  its own scale. A component whose loss distils itself (`takes_teacher`:
  RIDE's experts) reads `logits` instead.
  """
  name = "teacher"
  fields = ("teacher.workdir",)
  roles = frozenset({"teacher"})

  @staticmethod
  def add_defaults(config) -> None:
    # Knowledge distillation from a finished run (`ltjax.train._teacher`):
    # the loss is (1 - weight) * the run's loss + weight * T^2 KL(q || p_s),
    # q = softmax(t / T)^power normalised (power < 1: DiVE's flattening);
    # with experts.method = "ride", RIDE's distillation (weight: its factor).
    config.teacher = ml_collections.ConfigDict(dict(
        workdir="",  # "" = no teacher
        # The recipe whose finished run the teacher must be (a distillation
        # recipe sets it; "" = none required); only named in the error when
        # teacher.workdir is missing.
        recipe="",
        weight=0.5,
        temperature=2.0,
        power=1.0,
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    if "teacher" in config:
      validate_teacher(config, check_files=check_data)

  def __init__(self, task):
    super().__init__(task)
    self.teacher = Teacher(self.config.teacher.workdir,
                           student_config=self.config, counts=task.counts)

  def init_extra(self, model, sample):
    del model, sample
    return {"teacher": self.teacher.variables}  # frozen: never advanced

  def logits(self, batch, state):
    """The teacher's logits on the batch's model input."""
    return self.teacher.logits(state.extra["teacher"], batch["input"])

  def wrap_loss(self, value, aux, batch, state):
    owner = _component.with_role(self.task.components, "loss")
    if owner is not None and owner.takes_teacher:
      return value, aux
    teacher = self.config.teacher
    student = aux["logits"].astype(jnp.float32) * self.task.logit_scale
    distill = jnp.mean(losses.distillation_loss(
        student, self.logits(batch, state),
        temperature=teacher.temperature, teacher_power=teacher.power))
    return (1.0 - teacher.weight) * value + teacher.weight * distill, aux
