"""The one engine: `train_and_evaluate(config, workdir)` for every task.

See `_task` for the task contract (classification and regression are two
`Task`s), `_component` for the training components a task composes, and
`_step` for the one compiled step and its extension points
(batch transforms, multi-output models, extra state, frozen auxiliary
parameters, the gradient procedure); README "Architecture" has the map and
"Adding a method" an example.
"""

from ltjax.train._checkpoint import Checkpointer
from ltjax.train._checkpoint import CheckpointMismatchError
from ltjax.train._checkpoint import DivergenceError
from ltjax.train._checkpoint import non_finite_leaves
from ltjax.train._checkpoint import read_checkpoint
from ltjax.train._classification import ClassificationTask
from ltjax.train._component import build as build_components
from ltjax.train._component import check_conflicts as check_component_conflicts
from ltjax.train._component import Component
from ltjax.train._component import component_classes
from ltjax.train._component import ComposesComponents
from ltjax.train._component import enabled_classes as enabled_components
from ltjax.train._component import register_component
from ltjax.train._component import with_role as component_with_role
from ltjax.train._classification import make_eval_step
from ltjax.train._classification import make_predict_step
from ltjax.train._classification import normalization
from ltjax.train._config import compute_dtype
from ltjax.train._config import default_config
from ltjax.train._config import default_run_fields
from ltjax.train._config import epoch_fields
from ltjax.train._config import epochs_argument
from ltjax.train._config import require_field
from ltjax.train._config import require_known
from ltjax.train._config import scale_schedule
from ltjax.train._config import validate_config
from ltjax.train._config import validate_run_fields
from ltjax.train._driver import best_record
from ltjax.train._driver import MAX_STEPS_IN_FLIGHT
from ltjax.train._engine import build_run
from ltjax.train._experts import ace_scales
from ltjax.train._experts import aggregate_experts
from ltjax.train._engine import evaluate
from ltjax.train._engine import make_schedule
from ltjax.train._engine import model_variables
from ltjax.train._engine import Run
from ltjax.train._engine import train_and_evaluate
from ltjax.train._engine import device_plans
from ltjax.train._engine import epoch_plans
from ltjax.train._engine import train_batch
from ltjax.train._interrupt import EXIT_INTERRUPTED
from ltjax.train._interrupt import Interrupted
from ltjax.train._load import load_config
from ltjax.train._predict import IMAGE_SUFFIXES
from ltjax.train._predict import predict
from ltjax.train._predict import read_inference_info
from ltjax.train._predict import Predictions
from ltjax.train._predict import write_predictions_csv
from ltjax.train._load import load_model
from ltjax.train._load import require_finished
from ltjax.train._objectives import LOSSES
from ltjax.train._objectives import LossSpec
from ltjax.train._objectives import make_objective
from ltjax.train._objectives import Objective
from ltjax.train._objectives import REWEIGHTS
from ltjax.train._optim import adam
from ltjax.train._optim import cosine_schedule
from ltjax.train._optim import make_optimizer
from ltjax.train._optim import sgd
from ltjax.train._optim import warmup_step_schedule
from ltjax.train._tricks import alternating_flip
from ltjax.train._tricks import linear_decay_schedule
from ltjax.train._tricks import one_cycle_schedule
from ltjax.train._tricks import scaled_learning_rate
from ltjax.train._tricks import smoothed_loss
from ltjax.train._tricks import tta_logits
from ltjax.train._tricks import whitening_kernel
from ltjax.train._parallel import data_mesh
from ltjax.train._parallel import global_batch
from ltjax.train._report import is_writer
from ltjax.train._report import load_run
from ltjax.train._report import quiet_library_logs
from ltjax.train._report import write_json
from ltjax.train._retrain import extract_features
from ltjax.train._retrain import retrain_head
from ltjax.train._state import create_train_state
from ltjax.train._state import TrainState
from ltjax.train._step import augmentation
from ltjax.train._step import make_step
from ltjax.train._step import make_train_step
from ltjax.train._step import imbsam_gradient
from ltjax.train._step import sam_gradient
from ltjax.train._step import value_and_grad
from ltjax.train._task import get_task
from ltjax.train._task import register_task
from ltjax.train._task import Task
from ltjax.train._task import TASKS
from ltjax.train._workdir import check_data
from ltjax.train._workdir import ConfigMismatchError
from ltjax.train._workdir import DataMismatchError
from ltjax.train._workdir import WorkdirLockedError
from ltjax.train._workdir import WorkdirNotSharedError

__all__ = (
    "ace_scales",
    "aggregate_experts",
    "CheckpointMismatchError",
    "Checkpointer",
    "ClassificationTask",
    "check_data",
    "ConfigMismatchError",
    "DataMismatchError",
    "DivergenceError",
    "EXIT_INTERRUPTED",
    "Interrupted",
    "IMAGE_SUFFIXES",
    "LOSSES",
    "Predictions",
    "LossSpec",
    "MAX_STEPS_IN_FLIGHT",
    "Objective",
    "REWEIGHTS",
    "Run",
    "TASKS",
    "Task",
    "TrainState",
    "WorkdirLockedError",
    "WorkdirNotSharedError",
    "adam",
    "augmentation",
    "best_record",
    "build_run",
    "cosine_schedule",
    "create_train_state",
    "data_mesh",
    "default_config",
    "default_run_fields",
    "epoch_fields",
    "epoch_plans",
    "compute_dtype",
    "whitening_kernel",
    "tta_logits",
    "smoothed_loss",
    "scaled_learning_rate",
    "one_cycle_schedule",
    "linear_decay_schedule",
    "alternating_flip",
    "device_plans",
    "epochs_argument",
    "evaluate",
    "extract_features",
    "get_task",
    "global_batch",
    "imbsam_gradient",
    "is_writer",
    "load_config",
    "load_model",
    "write_predictions_csv",
    "predict",
    "read_inference_info",
    "load_run",
    "make_eval_step",
    "make_objective",
    "make_optimizer",
    "make_predict_step",
    "normalization",
    "make_schedule",
    "make_step",
    "make_train_step",
    "model_variables",
    "non_finite_leaves",
    "quiet_library_logs",
    "read_checkpoint",
    "require_finished",
    "register_task",
    "register_component",
    "Component",
    "build_components",
    "check_component_conflicts",
    "component_classes",
    "ComposesComponents",
    "component_with_role",
    "enabled_components",
    "require_field",
    "require_known",
    "retrain_head",
    "sam_gradient",
    "scale_schedule",
    "sgd",
    "train_and_evaluate",
    "train_batch",
    "validate_config",
    "validate_run_fields",
    "value_and_grad",
    "warmup_step_schedule",
    "write_json",
)
