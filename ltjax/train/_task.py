"""The task contract: what differs between classification and regression.

The engine (`ltjax.train.train_and_evaluate`) owns everything a run shares:
the workdir and its config check, the mesh, the schedule and optimizer, the
one compiled step (`make_step`), checkpoints, the schedule driver,
evaluation cadence, history, TensorBoard and the output files. A task
supplies the rest through a `Task` subclass, made once per run as
`Task(config, dataset, steps_per_epoch=...)`:

| what | attribute / method |
| --- | --- |
| config schema and data | `default_config`, `validate`, `load_data` |
| a saved model | `restore_model` (`ltjax.train.load_model`) |
| the model and its input | `build_model`, `preprocess`, `sample_input` |
| what is trained | `init_params`, `trainable`, `optimizer` |
| the objective | `loss`, `train_metrics`, `transforms`, `gradient`, `project` |
| extra state in the step | `init_extra`, `advance` |
| the epoch plan / batch | `epoch_plan`, `partner_plan`, `train_arrays`, batch keys |
| evaluation | `make_eval_step` -> a mergeable metric (`merge`), `summaries` |
| outputs | `predict_arrays` (predictions.npz), `report_fields`, `csv_rows` |
| a second stage | `second_stage` (e.g. regression's RRT) |

The registry `TASKS` maps `config.task` to the class ("classification" when
the field is absent). A task defined outside `ltjax.train` is registered by
its import path, so this package never imports it at start-up.
"""

import importlib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ltjax import sampling
from ltjax.train import _step


class Task:
  """Base class of a task; the defaults are those of classification.

  Class attributes:
    name: the `config.task` value.
    input_key, target_key: the batch entries of the inputs and targets.
    target_dtype: numpy dtype of the targets in a batch.
    select_mode: "max" if a higher validation `select_metric` is better.
    per_item_key: the list entry of a summary dropped from metrics.json
      (per class / per bin; it goes to the CSV).
    csv_name: the per-class / per-bin CSV file.
  """
  name = "task"
  input_key = "image"
  target_key = "label"
  target_dtype = np.int32
  select_mode = "max"
  per_item_key = "per_class"
  csv_name = "per_class.csv"

  def __init__(self, config, dataset, *, steps_per_epoch: int):
    self.config = config
    self.dataset = dataset
    self.steps_per_epoch = steps_per_epoch
    self.model = None  # set by the engine once `build_model` made it

  # ---- schema and data (class level: static functions) ----
  # default_config() -> every field (`_config.default_run_fields` + the
  # task's sections); validate(config, *, check_data=True) checks the task's
  # sections (`_config.validate_config` checks the run fields, then calls
  # it) and raises ValueError naming `config.<field>`; load_data(data_config)
  # -> the dataset.
  default_config = validate = load_data = None

  @staticmethod
  def prepare_data(config, dataset):
    """The dataset the run trains on (default: `dataset`); called once by
    `build_run` before the steps per epoch are counted (data-level
    re-sampling, e.g. regression's SMOGN). Must be idempotent."""
    del config
    return dataset

  @classmethod
  def resume_neutral(cls, config, neutral: tuple[str, ...]
                     ) -> tuple[str, ...]:
    """Config fields a resumed run may change (default: `neutral`)."""
    del config
    return neutral

  @classmethod
  def restore_model(cls, config, params) -> tuple[Any, Any]:
    """(model, model params) from a checkpoint's trained `params`."""
    raise NotImplementedError

  # ---- model, parameters, objective ----
  def build_model(self):
    raise NotImplementedError

  def preprocess(self, inputs, key):
    """`(host inputs, key or None) -> model input` (augmentation if key)."""
    raise NotImplementedError

  def sample_input(self) -> jax.Array:
    """An input batch of one example for `model.init` (values unused)."""
    raise NotImplementedError

  def init_params(self, model_params) -> Any:
    """The trained parameters from the model's (default: the same)."""
    return model_params

  def trainable(self, params) -> Any:
    """The model's parameters out of the trained ones (default: same)."""
    return params

  def optimizer(self, schedule):
    raise NotImplementedError

  def scale_updates(self, updates, factor) -> Any:
    """`optimizer`'s updates at `factor` times the schedule's learning rate
    (an `optim.lr` sweep, `_replicas`): every update is linear in it
    (`make_optimizer`), so all of them times factor."""
    return _step.scale_all_updates(updates, factor)

  def loss(self, params, outputs, batch, state) -> tuple[jax.Array, Any]:
    """`(params, model outputs, batch, state) -> (scalar, aux)`."""
    raise NotImplementedError

  def train_metrics(self, aux, batch) -> dict[str, jax.Array]:
    """Per-step scalars besides loss / lr / grad_norm."""
    del aux, batch
    return {}

  def transforms(self) -> tuple[Callable, ...]:
    """Batch transforms of the step; the first writes the model input."""
    input_key = self.input_key

    def augment(batch, key):
      return {**batch, "input": self.preprocess(batch[input_key], key)}

    return (augment,)

  def gradient(self):
    """The gradient procedure: SAM with `optim.sam_rho` > 0, else plain."""
    rho = float(self.config.optim.get("sam_rho", 0.0))
    return _step.sam_gradient(rho) if rho > 0 else None

  # ---- method state ----
  def init_extra(self, model, sample) -> dict[str, Any]:
    del model, sample
    return {}

  # Whether training batches carry the examples' dataset "index" (int32
  # [B]; e.g. a derandomised flip that depends on the example).
  batch_index = False

  advance = None  # or a method (extra, aux, batch, step) -> extra
  # or a method (params, extra, previous params) -> (params, extra), applied
  # after every update (projected gradient descent: MaxNorm).
  project = None

  # ---- data order ----
  def epoch_plan(self, epoch: int) -> np.ndarray:
    """The epoch's example order (a seeded permutation by default)."""
    return sampling.epoch_plan(np.zeros(len(self.dataset.train), np.int64),
                               seed=self.config.seed, epoch=epoch)

  def partner_plan(self, epoch: int) -> np.ndarray | None:
    """A second plan whose examples join each batch as `<key>_b`, or None.

    E.g. a class-balanced sample to mix the batch with (GLMC's re-balanced
    mixing). Same length as `epoch_plan`'s.
    """
    del epoch
    return None

  def train_arrays(self, inputs, targets, fresh) -> dict[str, np.ndarray]:
    """The host arrays of a training batch."""
    del fresh
    return {self.input_key: inputs,
            self.target_key: np.asarray(targets).astype(self.target_dtype)}

  # ---- evaluation and outputs ----
  def make_eval_step(self, forward):
    """`forward(state, batch) -> outputs` -> `eval(state, batch) -> metric`.

    The metric is a mergeable pytree (`merge`, as CLU's `Metric`).
    """
    raise NotImplementedError

  def make_predict_step(self, forward):
    """-> `predict(state, batch) -> {name: [B, ...]}` with "mask"."""
    raise NotImplementedError

  def summaries(self, metric) -> dict[str, dict[str, Any]]:
    """{split-name suffix ("" or "_posthoc"): summary dict}."""
    raise NotImplementedError

  def record_fields(self) -> dict[str, Any]:
    """Fields every evaluation record of the main stage carries."""
    return {}

  def predict_arrays(self, outputs: dict[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """predictions.npz's arrays from the test split's predict outputs."""
    raise NotImplementedError

  def inference_fields(self) -> dict[str, Any]:
    """What `ltjax.predict` needs to score raw inputs (inference.json).

    Everything the model's input pipeline and output mapping take from the
    training data: normalisation, class names, a CSV's column encoding,
    target standardisation.
    """
    return {"task": self.name}

  def evaluated_kernel(self, params) -> Any:
    """The kernel of the classifier that is evaluated, or None.

    `metrics.json` reports its cosine to its initialisation
    (`run.head_cosine_to_init`): near 1, the evaluated head barely trained.
    """
    del params
    return None

  def report_fields(self, stage: str) -> dict[str, Any]:
    """Task entries of metrics.json (besides final / best_val / run)."""
    del stage
    return {}

  def csv_rows(self, final, best) -> list[dict[str, Any]]:
    raise NotImplementedError

  def describe(self, run) -> str:
    """The start-up log line."""
    raise NotImplementedError

  # ---- stages ----
  def pretrained(self, like):
    """(state, stage name) to start from instead of training, or None."""
    del like
    return None

  def second_stage(self, run, state, session) -> list[dict[str, Any]]:
    """Work after the main schedule; returns its evaluation records.

    `session` has `record(record)` (log, TensorBoard, history.jsonl),
    `write_predictions(arrays)` and `workdir`.
    """
    del run, state, session
    return []

  def final_stage(self) -> str:
    """The stage whose last record is metrics.json's "final"."""
    return "train"

  def writes_predictions(self) -> bool:
    """Whether the main stage's model writes predictions.npz."""
    return True


TASKS: dict[str, str | type[Task]] = {
    "classification": "ltjax.train._classification:ClassificationTask",
    "regression": "ltjax.regression._task:RegressionTask",
}


def register_task(name: str, task: str | type[Task]) -> None:
  """Adds a task: a `Task` subclass or its "module:Class" path."""
  TASKS[name] = task


def task_name(config) -> str:
  return config.get("task", "classification")


def get_task(name: str) -> type[Task]:
  """The task class of `config.task`; a ValueError lists the known ones."""
  if name not in TASKS:
    raise ValueError(
        f"config.task: {name!r} is not one of {sorted(TASKS)}.")
  task = TASKS[name]
  if isinstance(task, str):
    module, _, attr = task.partition(":")
    task = getattr(importlib.import_module(module), attr)
    TASKS[name] = task
  return task


def stack_outputs(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Concatenates per-batch predict outputs, dropping masked rows."""
  keep = np.concatenate([p["mask"] for p in parts])
  return {name: np.concatenate([p[name] for p in parts])[keep]
          for name in parts[0] if name != "mask"}
