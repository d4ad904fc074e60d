r"""Decoupled and post-hoc classifiers of a trained model, side by side.

  python -m experiments.decouple \
      --config=experiments/configs/decouple/default.py \
      --checkpoint=/tmp/ltjax/cifar10_lt/ce

Loads the stage-1 run in `--checkpoint` (its config.json and newest
checkpoint), extracts features once, and reports joint / NCM / cRT / tau-norm
/ LWS / post-hoc logit adjustment (top-1, balanced, many, medium, few), with
tau chosen on the validation split; writes decouple.json and decouple.md to
`--workdir` (default: the checkpoint's workdir).
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from ltjax import decouple

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Stage-2 config (experiments/configs/decouple/...).",
    lock_config=True)
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Workdir of the stage-1 run to decouple.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where to write decouple.json/.md (default: checkpoint).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  decouple.decouple_and_evaluate(_CONFIG.value, _CHECKPOINT.value,
                                 _WORKDIR.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "checkpoint"])
  app.run(main)
