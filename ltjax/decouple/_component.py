"""The second stage as a training component (`config.stage2.name`).

After the main schedule, `ltjax.decouple.run_second_stage` re-trains the
classifier on the frozen backbone (cRT, LWS, MiSLAS, weight balancing's
stage 2, DisAlign, SMOTE / feature-augmentation cRT); its last record is the
run's final one, and it writes the predictions. With
`stage2.backbone_workdir`, the main schedule is skipped: stage 1 is that
finished run's model.
"""

import json
import os

from absl import logging

from ltjax import train
from ltjax.decouple import _second_stage





class SecondStage(train.Component):
  name = "stage2"
  fields = ("stage2.name",)
  roles = frozenset({"second_stage"})
  multi_process = False
  final_stage = "stage2"
  writes_predictions = False

  @staticmethod
  def add_defaults(config) -> None:
    # A second stage on the frozen backbone after the main schedule (cRT,
    # MiSLAS, weight balancing, DisAlign; `ltjax.decouple.run_second_stage`).
    config.stage2 = _second_stage.default_stage2_config()

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    if "stage2" in config:
      _second_stage.validate_stage2_config(config)

  def pretrained(self, like):  # pylint: disable=method-hidden
    """`stage2.backbone_workdir`'s model as the stage-1 state, or None."""
    config = self.config
    workdir = config.stage2.get("backbone_workdir", "")
    if not workdir:
      return None
    field = "config.stage2.backbone_workdir"
    train.require_finished(
        workdir, field, allow_unfinished=config.get("allow_unfinished", False))
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
      raise ValueError(f"{field}: {workdir!r} is not a finished ltjax run "
                       f"(no config.json): train the stage-1 model first.")
    with open(path) as f:
      name = json.load(f).get("data", {}).get("name")
    if name != config.data.name:
      raise ValueError(f"{field}: the run at {workdir} was trained on "
                       f"{name!r}, this config's data is "
                       f"{config.data.name!r}.")
    try:
      state, step = train.read_checkpoint(workdir, like)
    except (FileNotFoundError, train.CheckpointMismatchError) as error:
      raise ValueError(
          f"{field}: {error} (the backbone must be a run of the same model "
          f"and method family: a plain CE run for smote_crt / "
          f"feature_aug_crt).") from None
    logging.info("stage 2 on the backbone of %s (step %d).", workdir, step)
    return state, "backbone"

  def second_stage(self, run, state, session):  # pylint: disable=method-hidden
    return _second_stage.run_second_stage(run, state, session)
