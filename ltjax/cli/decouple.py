r"""Decoupled and post-hoc classifiers of a trained model, side by side.

  ltjax-decouple --config=decouple/default \
      --checkpoint=/tmp/ltjax/cifar10_lt/ce

(in a checkout also `python -m experiments.decouple`).

Loads the stage-1 run in `--checkpoint` (its config.json and newest
checkpoint), extracts features once, and reports joint / NCM / cRT / tau-norm
/ LWS / post-hoc logit adjustment (top-1, balanced, many, medium, few), with
tau chosen on the validation split; writes decouple.json and decouple.md to
`--workdir` (default: the checkpoint's workdir).
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from ltjax.cli import _configs as _cli
from ltjax.cli import _errors
from ltjax import decouple
from ltjax import runtime

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Stage-2 config (decouple/default, or a file).",
    lock_config=True)
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Workdir of the stage-1 run to decouple.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where to write decouple.json/.md (default: checkpoint).")
_HOST_DEVICES = flags.DEFINE_integer(
    "host_devices", None,
    "CPU devices to split batches over (default 1; see ltjax-train).",
    lower_bound=1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  runtime.configure_host_devices(_HOST_DEVICES.value)  # before JAX starts
  decouple.decouple_and_evaluate(_CONFIG.value, _CHECKPOINT.value,
                                 _WORKDIR.value)


def run():
  """The `ltjax-decouple` console script; configs also by name (`_cli`)."""
  _errors.guard(_start, "ltjax-decouple")


def _start():
  flags.mark_flags_as_required(["config", "checkpoint"])
  _cli.show_flags_in_help(__name__)
  argv = _cli.resolve_config_flag(_errors.strip_verbose(sys.argv))
  value = next((a[len("--config="):] for a in argv
                if a.startswith("--config=")), None)
  if value is not None:
    # A bad `:arg` or an unknown override: one line, not a flag-parsing
    # error.
    _cli.check_overrides(argv, value)
  app.run(main, argv=argv)


if __name__ == "__main__":
  run()
