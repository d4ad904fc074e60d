"""Config names and `--config.<field>` overrides, checked before absl.

`--config` takes a config file path as ml_collections' `DEFINE_config_file`
does, or the name of a config shipped with the package
(`ltjax/configs/<dataset>/<method>.py`; in a checkout also
`experiments/configs/...`), so all of these work from any directory:

  ltjax-train --config=cifar10_lt/ldam_drw --workdir=runs/ldam
  ltjax-train --config=cifar10_lt/ldam_drw.py:30 --workdir=runs/ldam30
  ltjax-train --config=experiments/configs/cifar10_lt/ldam_drw.py ...

An unknown config name, or an override of a field the config does not
have, is a `ValueError` naming the closest names (and, for a field another
dataset's configs have, the configs to start from), which the entry points
print as one line (`_errors`).
"""

import difflib
import importlib.util
import os
import sys

from absl import flags
import ml_collections

from ltjax import configs as _shipped

CONFIG_DIR = os.path.dirname(os.path.abspath(_shipped.__file__))
_PREFIXES = ("experiments/configs/", "ltjax/configs/")


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


def names_table() -> str:
  """The shipped configs, one dataset a line, its methods after it."""
  by_dataset = {}
  for name in config_names():
    dataset, method = name.split("/")
    by_dataset.setdefault(dataset, []).append(method)
  width = max(len(d) for d in by_dataset)
  return "\n".join(f"  {d.ljust(width)}  {' '.join(m)}"
                   for d, m in by_dataset.items())


def resolve_config(value: str) -> str:
  """A `--config` value -> an existing file path (the `:arg` suffix kept).

  Raises:
    ValueError: the file exists neither as given nor among the shipped
      configs; the message names the closest shipped names.
  """
  path, colon, arg = value.partition(":")
  if os.path.exists(path):
    return value
  name = path.replace(os.sep, "/")
  for prefix in _PREFIXES:
    if name.startswith(prefix):
      name = name[len(prefix):]
  if name.endswith(".py"):
    name = name[:-3]
  shipped = os.path.join(CONFIG_DIR, *name.split("/")) + ".py"
  if os.path.isfile(shipped):
    return shipped + colon + arg
  close = difflib.get_close_matches(name, config_names(), n=3, cutoff=0.5)
  hint = (f"did you mean {' or '.join(close)}?" if close else
          "list them with --list.")
  raise ValueError(
      f"--config={value}: no such file, and no shipped config {name!r}; "
      f"{hint}\nShipped configs (dataset  methods):\n{names_table()}")


def show_flags_in_help(module_name: str) -> None:
  """Lists `module_name`'s flags in `--help` of a console script.

  absl's `--help` shows the flags of the program's main module, found by
  `sys.argv[0]`: for `python -m ltjax.cli.train` that is the entry point,
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


def load_config_file(value: str) -> ml_collections.ConfigDict:
  """`get_config(arg)` of a resolved `path[:arg]` config value."""
  path, _, arg = value.partition(":")
  spec = importlib.util.spec_from_file_location("_ltjax_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg or None)


def fields(config, prefix: str = "") -> list[str]:
  """Every leaf field of `config` as a dotted name."""
  out = []
  for key in config.keys():
    value = config[key]
    name = f"{prefix}{key}"
    if isinstance(value, ml_collections.ConfigDict):
      out += fields(value, name + ".")
    else:
      out.append(name)
  return out


def has_field(config, name: str) -> bool:
  node = config
  for part in name.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return False
    node = node[part]
  return True


def _configs_with(field: str, skip: str, method: str = "") -> list[str]:
  """One shipped config per dataset that has `field` (not `skip`'s): the
  dataset's `method` config where it has one, else its first."""
  found = []
  for dataset in sorted(os.listdir(CONFIG_DIR)):
    folder = os.path.join(CONFIG_DIR, dataset)
    if (dataset == skip or not os.path.isdir(folder)
        or dataset.startswith("_") or dataset == "decouple"):
      continue
    methods = sorted(f for f in os.listdir(folder)
                     if f.endswith(".py") and not f.startswith("_"))
    if not methods:
      continue
    pick = f"{method}.py" if f"{method}.py" in methods else methods[0]
    try:
      config = load_config_file(os.path.join(folder, pick))
    except Exception:  # pylint: disable=broad-except
      continue
    if has_field(config, field):
      found.append(f"{dataset}/{pick[:-3]}")
  return found


# Names users reach for, and the field ltjax calls them.
_ALIASES = {"learning_rate": "lr", "wd": "weight_decay",
            "epochs": "num_epochs", "bs": "batch_size",
            "eval_batch": "eval_batch_size", "steps": "max_steps"}


def _closest(name: str, known: list[str]) -> list[str]:
  """The fields `name` most likely meant (same section first)."""
  parent, _, leaf = name.rpartition(".")
  siblings = [k for k in known if k.rpartition(".")[0] == parent]
  leaves = [k.rpartition(".")[2] for k in siblings]
  picks = []
  if _ALIASES.get(leaf) in leaves:
    picks.append(siblings[leaves.index(_ALIASES[leaf])])
  picks += [siblings[leaves.index(m)] for m in
            difflib.get_close_matches(leaf, leaves, n=3, cutoff=0.6)]
  picks += difflib.get_close_matches(name, known, n=3, cutoff=0.7)
  return list(dict.fromkeys(picks))[:3]


def check_overrides(argv: list[str], config_value: str) -> None:
  """Refuses `--config.<field>=...` flags for fields the config lacks.

  Args:
    argv: the command line.
    config_value: the resolved `--config` value (`path[:arg]`).

  Raises:
    ValueError: naming the field, the config file, the closest fields,
      and the shipped configs of other datasets that have the field; or
      the config file's own error for a bad `:arg` (e.g. `:0` epochs).
  """
  overrides = [a[len("--config."):].split("=", 1)[0] for a in argv
               if a.startswith("--config.")]
  if not overrides and not config_value.partition(":")[2]:
    return
  # Loaded here also for a `:arg` suffix, so that a bad one (`:0`, `:x`) is
  # the config's one-line error, not a flag-parsing traceback.
  config = load_config_file(config_value)
  known = fields(config)
  for name in overrides:
    if has_field(config, name):
      continue
    path = config_value.partition(":")[0]
    close = _closest(name, known)
    said = f"config.{name}: unknown field of {path}"
    if close:
      said += "; did you mean " + " or ".join(f"config.{c}" for c in close)
      said += "?"
    dataset = os.path.basename(os.path.dirname(path))
    method = os.path.splitext(os.path.basename(path))[0]
    others = _configs_with(name, skip=dataset, method=method)
    if others:
      said += (f"\nconfig.{name} is a field of other datasets' configs: "
               f"start from one of {', '.join(others)}.")
    raise ValueError(said)
