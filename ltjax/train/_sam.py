"""SAM and ImbSAM as a training component (`config.optim.sam_rho` > 0).

SAM (Foret et al., 2021) takes the gradient at the loss's sharpest point
within `optim.sam_rho`; ImbSAM (`optim.sam_kind` "imbsam", Zhou et al.,
2023) sharpens only the tail classes' part of the loss: the classes with
fewer than `imbsam_tail_count` training examples, whose part the loss
weighs by `imbsam_tail_weight` (the original's tail loss is sum / B * 2).
"""

import numpy as np

from ltjax.train import _component
from ltjax.train import _config
from ltjax.train import _step


def check_tail_classes(tail, counts, tail_count) -> None:
  """Refuses an ImbSAM run whose tail set is empty or every class.

  With no class under `imbsam_tail_count` the ascent has no loss to
  sharpen and the run is plain SGD (its tail loss is 0); with every class
  under it, ImbSAM is SAM on the whole loss.
  """
  counts = np.asarray(counts)
  if not np.any(tail):
    raise ValueError(
        f"config.imbsam_tail_count={tail_count}: no class has fewer "
        f"training examples (the smallest has {int(counts.min())}), so "
        f"ImbSAM's tail set is empty and the run would be plain SGD. Set "
        f"config.imbsam_tail_count above {int(counts.min())} (e.g. 100, "
        f"the classes below the many-shot threshold).")
  if np.all(tail):
    raise ValueError(
        f"config.imbsam_tail_count={tail_count}: every class has fewer "
        f"training examples (the largest has {int(counts.max())}), so "
        f"ImbSAM would be SAM on the whole loss; set it at most "
        f"{int(counts.max())} or use optim.sam_kind='sam'.")


def is_imbsam(config) -> bool:
  optim = config.optim
  return optim.sam_rho > 0 and optim.get("sam_kind", "sam") == "imbsam"





class SharpnessAware(_component.Component):
  """SAM's gradient; ImbSAM's also splits the task's objective (its loss).

  ImbSAM's loss is the task's objective with the tail classes' part
  re-weighted: head part + `imbsam_tail_weight` * tail part (aux
  "tail_loss", the part its ascent sharpens).
  """
  name = "sam"
  fields = ("optim.sam_rho", "optim.sam_kind")
  roles = frozenset({"gradient"})

  @staticmethod
  def add_defaults(config) -> None:
    # ImbSAM (optim.sam_kind = "imbsam"): its tail classes are those with
    # fewer than imbsam_tail_count training examples (the original's eta,
    # 20), and their share of the loss is multiplied by imbsam_tail_weight
    # (the original's hard-coded 2; 1 leaves the loss as it is).
    config.imbsam_tail_count = 20
    config.imbsam_tail_weight = 2.0

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    _config.require_field(
        config.imbsam_tail_count >= 1, "imbsam_tail_count",
        f"must be >= 1, got {config.imbsam_tail_count}.")
    _config.require_field(
        config.imbsam_tail_weight > 0, "imbsam_tail_weight",
        f"must be > 0, got {config.imbsam_tail_weight}.")

  @classmethod
  def roles_of(cls, config):
    return cls.roles | ({"loss"} if is_imbsam(config) else set())

  def __init__(self, task):
    super().__init__(task)
    config = self.config
    self.tail_classes = task.counts < config.imbsam_tail_count
    if is_imbsam(config):
      check_tail_classes(self.tail_classes, task.counts,
                         config.imbsam_tail_count)

  def gradient(self):  # pylint: disable=method-hidden
    rho = float(self.config.optim.sam_rho)
    if is_imbsam(self.config):
      return _step.imbsam_gradient(rho, part=lambda aux: aux["tail_loss"])
    return _step.sam_gradient(rho)

  @property
  def loss(self):  # pylint: disable=invalid-overridden-method
    return self._imbsam_loss if is_imbsam(self.config) else None

  def _imbsam_loss(self, params, outputs, batch, state):
    del params
    task = self.task
    objective = task.objective_for(batch)
    targets = task.mixed_targets(batch)
    logits = outputs[0]
    value = objective(logits, batch["label"], state.step, **targets)
    tail = objective.part(logits, batch["label"], state.step,
                          classes=self.tail_classes, **targets)
    weight = self.config.imbsam_tail_weight
    return (value + (weight - 1.0) * tail,
            {"logits": logits, "tail_loss": weight * tail})
