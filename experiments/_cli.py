"""Config paths that work in a checkout and in an installed package.

`--config` takes a config file path (`experiments/configs/cifar10_lt/ce.py`)
as ml_collections' `DEFINE_config_file` does. When that file does not exist
relative to the working directory (the console scripts `ltjax-train` and
`ltjax-decouple` run anywhere), the name is looked up among the configs
shipped with the package, so all of these work from any directory:

  ltjax-train --config=cifar10_lt/ldam_drw --workdir=runs/ldam
  ltjax-train --config=cifar10_lt/ldam_drw.py:30 --workdir=runs/ldam30
  ltjax-train --config=experiments/configs/cifar10_lt/ldam_drw.py ...
"""

import os
import sys

from absl import flags

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "configs")
_PREFIX = "experiments/configs/"


def config_names() -> list[str]:
  """The shipped configs as `dataset/method` names."""
  names = []
  for dataset in sorted(os.listdir(CONFIG_DIR)):
    folder = os.path.join(CONFIG_DIR, dataset)
    if not os.path.isdir(folder) or dataset.startswith("_"):
      continue
    names += [f"{dataset}/{f[:-3]}" for f in sorted(os.listdir(folder))
              if f.endswith(".py") and not f.startswith("_")]
  return names


def resolve_config(value: str) -> str:
  """A `--config` value -> an existing file path (the `:arg` suffix kept).

  Raises:
    ValueError: the file exists neither as given nor among the shipped
      configs; the message lists the shipped names.
  """
  path, colon, arg = value.partition(":")
  if os.path.exists(path):
    return value
  name = path.replace(os.sep, "/")
  if name.startswith(_PREFIX):
    name = name[len(_PREFIX):]
  if not name.endswith(".py"):
    name += ".py"
  shipped = os.path.join(CONFIG_DIR, *name.split("/"))
  if os.path.isfile(shipped):
    return shipped + colon + arg
  raise ValueError(
      f"--config={value}: no such file here, and no shipped config "
      f"{name[:-3]!r}. Give a config file path, or one of: "
      f"{', '.join(config_names())}.")


def show_flags_in_help(module_name: str) -> None:
  """Lists `module_name`'s flags in `--help` of a console script.

  absl's `--help` shows the flags of the program's main module, found by
  `sys.argv[0]`: for `python -m experiments.main` that is the entry point,
  for the `ltjax-train` script it is the script stub.
  """
  for flag in flags.FLAGS.get_key_flags_for_module(module_name):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def resolve_config_flag(argv: list[str]) -> list[str]:
  """`argv` with its `--config` value resolved by `resolve_config`."""
  out = list(argv)
  for i, item in enumerate(out):
    if item.startswith("--config="):
      out[i] = "--config=" + resolve_config(item[len("--config="):])
    elif item == "--config" and i + 1 < len(out):
      out[i + 1] = resolve_config(out[i + 1])
  return out
