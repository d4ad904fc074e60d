"""MaxNorm as a training component (`config.max_norm`).

Weight balancing's projected gradient descent (Alshammari et al., CVPR
2022): after every update, each class's weight vector of the evaluated
linear classifier is scaled back into a ball of radius `threshold`
(`ltjax.posthoc.max_norm`). "relative" sets the radius once, at the first
step, from the classifier's norms (`ltjax.posthoc
.relative_max_norm_threshold` at `max_norm.position`) and keeps it in the
step state.
"""

import jax.numpy as jnp
import ml_collections

from ltjax import posthoc
from ltjax.train import _component
from ltjax.train import _config

MAX_NORM_MODES = ("none", "relative", "absolute")


def validate_max_norm(config) -> None:
  """Checks `config.max_norm`."""
  max_norm = config.max_norm
  _config.require_known(max_norm.mode, MAX_NORM_MODES, "max_norm.mode")
  _config.require_field(0 <= max_norm.position <= 1, "max_norm.position",
                f"must be in [0, 1], got {max_norm.position}.")
  _config.require_field(max_norm.threshold > 0, "max_norm.threshold",
                f"must be > 0, got {max_norm.threshold}.")
  _config.require_field(max_norm.mode == "none" or config.model.head == "linear",
                "max_norm.mode", f"MaxNorm bounds a linear classifier's "
                f"weight norms; model.head is {config.model.head!r} (a "
                f"cosine head's norms are 1 already): use max_norm.mode="
                f"'none' or model.head='linear'.")


class MaxNorm(_component.Component):
  name = "max_norm"
  fields = ("max_norm.mode",)
  roles = frozenset({"project"})

  @staticmethod
  def add_defaults(config) -> None:
    # Weight balancing's MaxNorm (Alshammari et al. 2203.14197): the
    # classifier's per-class weight norms are projected onto a ball after
    # every update. relative: radius min + position (max - min) of the norms
    # when training starts, then frozen; absolute: radius `threshold`.
    config.max_norm = ml_collections.ConfigDict(dict(
        mode="none",  # none | relative | absolute
        position=0.1,
        threshold=1.0,
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    validate_max_norm(config)

  def init_extra(self, model, sample):
    del model, sample
    if self.config.max_norm.mode == "relative":
      # Set from the classifier when projection starts (the first step).
      return {"max_norm_threshold": jnp.asarray(-1.0, jnp.float32)}
    return {}

  @property
  def project(self):  # pylint: disable=invalid-overridden-method
    max_norm, task = self.config.max_norm, self.task

    def project(params, extra, previous):
      if max_norm.mode == "relative":
        threshold = extra["max_norm_threshold"]
        threshold = jnp.where(
            threshold < 0, posthoc.relative_max_norm_threshold(
                task.classifier(previous), position=max_norm.position),
            threshold)
        extra = {**extra, "max_norm_threshold": threshold}
      else:
        threshold = jnp.asarray(max_norm.threshold, jnp.float32)
      return task.with_classifier(params, posthoc.max_norm(
          task.classifier(params), threshold=threshold)), extra

    return project
