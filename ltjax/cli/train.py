r"""ltjax-train: trains and evaluates a long-tailed model.

Examples:
  ltjax-train --config=cifar10_lt/ldam_drw --workdir=runs/ldam \
      --config.data.path=PATH/cifar-10-python.tar.gz
  ltjax-train --config=csv_lt/logit_adjusted --workdir=runs/table \
      --config.data.path=my_table.csv --config.data.target=label

`ltjax-train --list` prints the shipped configs (dataset, then its
methods); `--config` also takes a config file of your own
(`path.py[:EPOCHS]`). Override any field with `--config.<field>=VALUE`;
an unknown field is an error naming the closest ones. A workdir with a
checkpoint resumes; a different config or other data there is refused
unless `--overwrite` (which moves the old run aside). Ctrl-C or SIGTERM
saves a checkpoint and exits with code 3; the same command resumes.
Errors in the input print one line and exit with 2 (`--verbose` or
LTJAX_DEBUG=1: the traceback too).

Every task runs through `ltjax.train.train_and_evaluate`; the config's `task`
field ("classification", the default, or "regression") picks the task inside
the library. One job at a time holds a workdir. A run whose loss or
gradient norm becomes NaN / inf stops with exit code 1
(`ltjax.train.DivergenceError`). Several hosts: start the same command on
every host with `--multihost` (TPU pods and SLURM are detected by
`jax.distributed.initialize`; elsewhere pass `--coordinator_address`,
`--num_processes` and `--process_id`). In a checkout,
`python -m experiments.main` is the same command.
"""

import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from ltjax.cli import _configs as _cli
from ltjax.cli import _errors
from ltjax import runtime
from ltjax import train

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to a config file (experiments/configs/...).",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory for checkpoints, metrics and TensorBoard.")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize() before training.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (multi-host).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None,
                                      "Number of processes (multi-host).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None,
                                   "This process's index (multi-host).")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False,
    "If the workdir holds a run made with a different config, move its files "
    "to <workdir>.replaced-<UTC time> (nothing is deleted) and start afresh; "
    "without it such a run is refused with the differing fields listed.")
_HOST_DEVICES = flags.DEFINE_integer(
    "host_devices", None,
    "CPU devices to split each step over (default 1: several virtual CPU "
    "devices are faster but can deadlock, see ltjax.runtime). An explicit "
    "--xla_force_host_platform_device_count in XLA_FLAGS also sets it.",
    lower_bound=1)
_WATCHDOG = flags.DEFINE_float(
    "watchdog_seconds", runtime.DEFAULT_WATCHDOG_SECONDS,
    "Dump all thread stacks and exit non-zero when training makes no "
    "progress and the process is idle for this long (a deadlock); 0: off.",
    lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  runtime.configure_host_devices(_HOST_DEVICES.value)  # before JAX starts
  runtime.set_watchdog_seconds(_WATCHDOG.value)
  train.quiet_library_logs()  # before JAX looks for its backends
  if _MULTIHOST.value:
    # Cross-process collectives on CPU hosts (no effect on GPU/TPU).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                               num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value)
  logging.info("JAX %s, process %d of %d, devices: %s", jax.__version__,
               jax.process_index(), jax.process_count(), jax.devices())
  try:
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value,
                             overwrite=_OVERWRITE.value)
  except train.Interrupted as stopped:
    logging.warning("%s", stopped)
    sys.exit(train.EXIT_INTERRUPTED)


def run():
  """The `ltjax-train` console script; configs also by name (`_cli`)."""
  _errors.guard(lambda: start(sys.argv), "ltjax-train")


def start(argv: list[str]) -> None:
  """Lists, or checks the command line and trains (`run`)."""
  if "--list" in argv:
    print(f"Shipped configs (dataset  methods):\n{_cli.names_table()}")
    return
  flags.mark_flags_as_required(["config", "workdir"])
  _cli.show_flags_in_help(__name__)
  sys.modules["__main__"].__doc__ = __doc__  # what --help shows first
  argv = _cli.resolve_config_flag(_errors.strip_verbose(argv))
  value = config_value(argv)
  if value is not None:
    _cli.check_overrides(argv, value)
  app.run(main, argv=argv)


def config_value(argv: list[str]) -> str | None:
  """The `--config` value of a command line (None if absent)."""
  for i, item in enumerate(argv):
    if item.startswith("--config="):
      return item[len("--config="):]
    if item == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return None


if __name__ == "__main__":
  run()
