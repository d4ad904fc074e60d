"""`load_model(workdir)`: a trained run's model, on any device count."""

import json
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import orbax.checkpoint as ocp

from ltjax import models
from ltjax.train import _config


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
  """The run's config.json over the schema's defaults (either task)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"{path} not found: the workdir must be that of an ltjax training run "
        f"(it holds config.json and checkpoints/).")
  with open(path) as f:
    saved = json.load(f)
  if saved.get("task", "classification") == "regression":
    from ltjax import regression  # pylint: disable=g-import-not-at-top
    config = regression.default_config()
  else:
    config = _config.default_config()
  # Fields added to the schema after the run was made take their defaults.
  _merge(config, saved)
  return config


def _restore_on_one_device(directory: str) -> tuple[dict[str, Any], int]:
  """The newest readable checkpoint as a dict of single-device arrays."""
  manager = ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(read_only=True),
      item_handlers=ocp.StandardCheckpointHandler())
  device = jax.local_devices()[0]
  sharding = jax.sharding.SingleDeviceSharding(device)
  try:
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
      raise FileNotFoundError(f"no checkpoint in {directory}.")
    for step in steps:
      try:
        metadata = manager.item_metadata(step)
        metadata = getattr(metadata, "tree", metadata)
        # The saved sharding names the devices of the saving job; restoring
        # into one local device works on any topology.
        abstract = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype,
                                           sharding=sharding),
            dict(metadata), is_leaf=lambda m: hasattr(m, "shape"))
        tree = manager.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as error:  # pylint: disable=broad-except
        logging.warning("load_model: checkpoint at step %d in %s cannot be "
                        "read (%s: %s); trying the previous one.", step,
                        directory, type(error).__name__, str(error)[:300])
        continue
      return tree, step
  finally:
    manager.close()
  raise ValueError(f"no readable checkpoint in {directory}.")


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
  tree, step = _restore_on_one_device(
      os.path.join(os.path.abspath(workdir), "checkpoints"))
  params, batch_stats = tree["params"], tree.get("batch_stats") or {}
  if config.get("task", "classification") == "regression":
    from ltjax.regression import _loop as regression_loop  # pylint: disable=g-import-not-at-top
    model = regression_loop.build_model(config)
    params = params["model"]
  else:
    model_kwargs = {}
    if models.has_convolutions(config.model.name):
      model_kwargs["conv"] = models.conv_for(config.model.conv)
    num_classes = int(params["head"]["kernel"].shape[-1])
    model = models.build_model(
        config.model.name, num_classes=num_classes, head=config.model.head,
        dtype=jnp.dtype(config.model.dtype), **model_kwargs)
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  logging.info("load_model: %s at step %d.", workdir, step)
  return model, variables, config
