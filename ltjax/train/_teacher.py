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

import jax
import jax.numpy as jnp
import numpy as np

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
