"""`load_model(workdir)`: a trained run's model, on any device count."""

import json
import os
from typing import Any

from absl import logging
import ml_collections

from ltjax.train import _average
from ltjax.train import _checkpoint
from ltjax.train import _task


def _merge(config: ml_collections.ConfigDict, values: dict) -> None:
  """Writes `values` (nested dicts) into `config`, adding unknown keys."""
  with config.unlocked():
    for key, value in values.items():
      if isinstance(value, dict) and key in config and isinstance(
          config[key], ml_collections.ConfigDict):
        _merge(config[key], value)
      else:
        config[key] = value


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The run's config.json over the current defaults of its task's schema.

  Fields added to the schema after the run was made take their defaults.

  Args:
    workdir: the workdir of a classification or regression run.

  Returns:
    The run's config, over a classification or regression schema as
    its "task" field says.
  """
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"{path} not found: the workdir must be that of an ltjax training run "
        f"(it holds config.json and checkpoints/).")
  with open(path) as f:
    saved = json.load(f)
  config = _task.get_task(saved.get("task", "classification")).default_config()
  _merge(config, saved)
  return config


def require_finished(workdir: str, field: str, *,
                     allow_unfinished: bool = False) -> None:
  """Refuses a run that has not finished as the input of another run.

  A run is finished when it wrote `metrics.json` (its last step and final
  evaluation). An unfinished run's newest checkpoint is a mid-schedule
  model (a job still running, or stopped): a teacher, a stage-2 backbone,
  an RRT encoder or a decoupling input made from it silently gives a
  result of another model than the one named.

  Args:
    workdir: the input run's workdir.
    field: the config field that names it, for the message.
    allow_unfinished: accept it anyway (`config.allow_unfinished`), with a
      warning naming the checkpoint's step.

  Raises:
    ValueError: no metrics.json and not `allow_unfinished`.
  """
  if os.path.exists(os.path.join(workdir, "metrics.json")):
    return
  steps = sorted(int(n) for n in (
      os.listdir(os.path.join(workdir, "checkpoints"))
      if os.path.isdir(os.path.join(workdir, "checkpoints")) else [])
                 if n.isdigit())
  newest = (f"its newest checkpoint is at step {steps[-1]}" if steps
            else "it has no checkpoint")
  if allow_unfinished and steps:
    logging.warning(
        "%s: %s has not finished (no metrics.json); using its newest "
        "checkpoint, step %d, as config.allow_unfinished=True asks.", field,
        workdir, steps[-1])
    return
  raise ValueError(
      f"{field}: {workdir} is not a finished run (no metrics.json; "
      f"{newest}). Finish it first (its own command again resumes it)"
      + (", or set config.allow_unfinished=True to use its newest "
         "checkpoint anyway." if steps else "."))


def load_model(workdir: str) -> tuple[Any, dict[str, Any], Any]:
  """Loads a run's model and its newest checkpoint's variables.

  Works on any number of devices, whatever the saving job had: the arrays
  are restored onto this process's first device.

  The model takes preprocessed inputs, as in training: images as
  `(x / 255 - mean) / std` with the run's normalisation (`config.augment`,
  or the dataset's standard), features as float32.

  Example:
    model, variables, config = ltjax.train.load_model("/tmp/ltjax/ce")
    logits, features = model.apply(variables, x, train=False)

  Args:
    workdir: the workdir of a classification or regression run.

  Returns:
    (the Flax model, {"params": ..., ["batch_stats": ...]}, the run's
    config over the current defaults).
  """
  config = load_config(workdir)
  tree, step = _checkpoint.read_checkpoint(workdir)
  task = _task.get_task(config.get("task", "classification"))
  # With weight averaging, the averaged weights (what the run evaluated).
  params, batch_stats = _average.averaged(
      tree["params"], tree.get("batch_stats"), tree.get("extra"))
  model, params = task.restore_model(config, params)
  batch_stats = batch_stats or {}
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  logging.info("load_model: %s at step %d.", workdir, step)
  return model, variables, config
