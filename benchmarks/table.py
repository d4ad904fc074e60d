r"""Renders a results store (`benchmarks.store`) as a Markdown table.

  python -m benchmarks.table --store=benchmarks/results/cifar10_lt_30.jsonl \
      --filter=dataset=cifar10_lt,epochs=30
  python -m benchmarks.table --store=... --update=benchmarks/RESULTS.md \
      --section=cifar10_lt_30

One row per run configuration (dataset, method, length, overrides), over its
seeds: n, and mean ± std (sample std; "–" for one seed) of each metric of the
final test evaluation (`--record=best_val` for the best-validation epoch's,
`--split=val` for the validation split's),
plus the published number from the config file's docstring ("Published
top-1: ..."; "≈" where the docstring says "about"). A row with lines from
more than one commit is marked †, and every commit is listed under the
table; failed runs are listed after it with their error's last line.

`--update=FILE --section=NAME` replaces the text between
`<!-- generated: NAME -->` and `<!-- end generated: NAME -->` in FILE (the
markers are added at the end of FILE the first time), with the command that
made it: RESULTS.md's campaign tables are generated, never typed.
"""

import os
import re
import statistics
import sys

from absl import app
from absl import flags

from benchmarks import store


CLASSIFICATION = ("top1", "balanced", "many", "medium", "few", "ece")
REGRESSION = ("mae_all", "mae_many", "mae_medium", "mae_few", "mse_all",
              "gm_all")


def matches(line, conditions: dict[str, str]) -> bool:
  """Whether `line` meets every `field=value` condition."""
  for field, wanted in conditions.items():
    value = line.get(field)
    if field == "commit":
      if not str(value).startswith(wanted):
        return False
    elif str(value) != wanted and not (value is None and wanted == "None"):
      return False
  return True


def parse_filter(text: str) -> dict[str, str]:
  out = {}
  for item in filter(None, text.split(",")):
    field, eq, value = item.partition("=")
    if not eq:
      raise ValueError(f"--filter: expected field=value, got {item!r}.")
    out[field.strip()] = value.strip()
  return out


# The benchmarks whose config docstrings quote a paper's own number (the
# proxies' docstrings quote a CIFAR row at most).
PAPER_BENCHMARKS = ("cifar10_lt", "cifar100_lt")


def published(dataset: str, method: str) -> str:
  """The first number after "Published top-1" in the config's docstring."""
  if dataset not in PAPER_BENCHMARKS:
    return ""
  path = os.path.join(store.ROOT, "ltjax", "configs", dataset,
                      f"{method}.py")
  if not os.path.exists(path):
    return ""
  with open(path) as f:
    text = f.read()
  found = re.search(r"Published top-1[^:]*:\s*([^\n]*)", text)
  if not found:
    return ""
  number = re.search(r"\d+\.\d+", found.group(1))
  if not number:
    return ""
  about = "about" in found.group(1)[:number.start()]
  return ("≈" if about else "") + number.group(0)


def metric_names(lines, record: str) -> tuple[str, ...]:
  keys = set()
  for line in lines:
    keys |= set((line.get(record) or {}).get("test", {}))
  if "balanced" in keys:
    return CLASSIFICATION
  return tuple(k for k in REGRESSION if k in keys) or tuple(sorted(keys))


def _cell(values: list[float], scale: float) -> str:
  values = [v * scale for v in values if v is not None]
  if not values:
    return "–"
  mean = statistics.fmean(values)
  if len(values) == 1:
    return f"{mean:.2f}"
  return f"{mean:.2f} ± {statistics.stdev(values):.2f}"


def row_name(line) -> str:
  name = line["method"] + (f":{line['epochs']}" if line.get("epochs") else "")
  extra = " ".join(f"{k}={store._text(v)}"  # pylint: disable=protected-access
                   for k, v in sorted(line.get("overrides", {}).items()))
  return f"{name} {extra}".strip()


def render(lines, *, record: str = "final", split: str = "test") -> str:
  """The Markdown table (and notes) of store lines."""
  runs = [l for l in lines if l["kind"] == "run"]
  failures = [l for l in lines if l["kind"] == "failure"]
  # The newest line of each key (a rerun at a later commit replaces it).
  newest = {}
  for line in runs:
    newest[line["key"]] = line
  groups = {}
  for line in newest.values():
    groups.setdefault((line["dataset"], row_name(line)), []).append(line)
  metrics = metric_names(newest.values(), record)
  percent = metrics == CLASSIFICATION
  header = (["dataset", "run", "n"] + list(metrics)
            + (["published"] if percent else []) + ["steps/s"])
  out = ["| " + " | ".join(header) + " |",
         "|" + "---|" * len(header)]
  commits = set()
  for (dataset, name), group in sorted(groups.items()):
    group_commits = {l["commit"] for l in group}
    commits |= group_commits
    mark = " †" if len(group_commits) > 1 else ""
    cells = [dataset, name + mark, str(len(group))]
    for metric in metrics:
      scale = 100.0 if percent and metric != "ece" else 1.0
      cells.append(_cell([((l.get(record) or {}).get(split) or {}).get(
          metric) for l in group], scale))
    if percent:
      cells.append(published(dataset, group[0]["method"]) or "–")
    rates = [l["steps_per_second"] for l in group if l.get("steps_per_second")]
    cells.append(f"{statistics.median(rates):.2f}" if rates else "–")
    out.append("| " + " | ".join(cells) + " |")
  devices = sorted({f"{(l.get('device') or {}).get('count')} × "
                    f"{(l.get('device') or {}).get('kind')}"
                    for l in newest.values()})
  out.append("")
  out.append(f"{split.capitalize()} metrics of the "
             f"{record.replace('_', '-')} evaluation "
             f"(mean ± std over seeds; accuracies in %). Commits: "
             f"{', '.join(sorted(commits)) or '–'}; devices: "
             f"{', '.join(devices) or '–'}."
             + (" † lines from more than one commit." if any(
                 len({l['commit'] for l in g}) > 1
                 for g in groups.values()) else ""))
  failed = [f for f in failures if f["key"] not in newest]
  if failed:
    out.append("")
    out.append("Failed:")
    for line in failed:
      last = [t for t in line.get("error", "").splitlines() if t.strip()]
      out.append(f"- {line['key']} ({line['commit']}): "
                 f"{last[-1][:200] if last else 'no message'}")
  return "\n".join(out)


def update_section(path: str, section: str, body: str, command: str) -> None:
  """Replaces (or appends) `section`'s generated block in `path`."""
  begin = f"<!-- generated: {section} -->"
  end = f"<!-- end generated: {section} -->"
  block = (f"{begin}\n_Generated by `{command}`; do not edit by hand._\n\n"
           f"{body}\n{end}")
  text = open(path).read() if os.path.exists(path) else ""
  if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
  else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
  with open(path, "w") as f:
    f.write(text)


def command_line() -> str:
  return "python -m benchmarks." + " ".join(
      [os.path.splitext(os.path.basename(sys.argv[0]))[0]] + sys.argv[1:])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  conditions = parse_filter(f.filter)
  lines = [l for path in f.store for l in store.read(path)
           if matches(l, conditions)]
  body = render(lines, record=f.record, split=f.split)
  if f.update:
    if not f.section:
      raise app.UsageError("--update needs --section.")
    update_section(f.update, f.section, body, command_line())
  print(body)


def define_flags() -> None:
  """The command line's flags (defined only when run as a program)."""
  flags.DEFINE_multi_string("store", None, "Store file(s).")
  flags.DEFINE_string(
      "filter", "", "field=value[,field=value...] over the lines' dataset, "
      "method, epochs, seed, commit (prefix), kind.")
  flags.DEFINE_enum("record", "final", ["final", "best_val"],
                              "Which evaluation of each run to show.")
  flags.DEFINE_string("split", "test", "The split shown (test, val).")
  flags.DEFINE_string("update", None, "A Markdown file to update.")
  flags.DEFINE_string("section", None, "The generated section.")


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("store")
  app.run(main)
