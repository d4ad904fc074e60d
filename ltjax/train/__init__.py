"""Training long-tailed classifiers: state, objectives, compiled steps, loop."""

from ltjax.train._checkpoint import CheckpointMismatchError
from ltjax.train._checkpoint import Checkpointer
from ltjax.train._checkpoint import DivergenceError
from ltjax.train._config import default_config
from ltjax.train._config import default_run_fields
from ltjax.train._config import epoch_fields
from ltjax.train._config import epochs_argument
from ltjax.train._config import require_field
from ltjax.train._config import require_known
from ltjax.train._config import scale_schedule
from ltjax.train._config import validate_config
from ltjax.train._config import validate_run_fields
from ltjax.train._load import load_model
from ltjax.train._loop import build_run
from ltjax.train._loop import train_and_evaluate
from ltjax.train._objectives import LOSSES
from ltjax.train._objectives import make_objective
from ltjax.train._objectives import REWEIGHTS
from ltjax.train._optim import adam
from ltjax.train._optim import cosine_schedule
from ltjax.train._optim import make_optimizer
from ltjax.train._optim import sgd
from ltjax.train._optim import warmup_step_schedule
from ltjax.train._parallel import data_mesh
from ltjax.train._parallel import global_batch
from ltjax.train._report import load_run
from ltjax.train._state import create_train_state
from ltjax.train._state import TrainState
from ltjax.train._step import make_eval_step
from ltjax.train._step import make_train_step
from ltjax.train._workdir import ConfigMismatchError
from ltjax.train._workdir import WorkdirLockedError

__all__ = (
    "CheckpointMismatchError",
    "Checkpointer",
    "ConfigMismatchError",
    "DivergenceError",
    "LOSSES",
    "REWEIGHTS",
    "TrainState",
    "WorkdirLockedError",
    "build_run",
    "cosine_schedule",
    "create_train_state",
    "data_mesh",
    "adam",
    "default_config",
    "default_run_fields",
    "epoch_fields",
    "epochs_argument",
    "global_batch",
    "load_model",
    "load_run",
    "make_eval_step",
    "make_optimizer",
    "make_objective",
    "make_train_step",
    "require_field",
    "require_known",
    "scale_schedule",
    "sgd",
    "train_and_evaluate",
    "validate_config",
    "validate_run_fields",
    "warmup_step_schedule",
)
