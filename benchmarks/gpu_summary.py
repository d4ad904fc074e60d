r"""Writes $OUT/summary.md of a gpu_session.sh run (its last step).

  python -m benchmarks.gpu_summary --work=/tmp/ltjax_gpu --out=$OUT

Reads what the parts left in --work (env.txt, parts.tsv, feed.json,
step.json, torch.txt, tta.json, resume.txt) and the store --out/gpu.jsonl;
a part that failed or ran out of time is listed with its exit code and log,
its numbers left out.
"""

import json
import os

from absl import app
from absl import flags

_WORK = flags.DEFINE_string("work", "/tmp/ltjax_gpu", "The session's work "
                            "folder.")
_OUT = flags.DEFINE_string("out", None, "The session's $OUT.")
_COMMAND = flags.DEFINE_string("command", "", "The command that ran.")


def _load(path):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError:
      return None


def _text(path):
  if not os.path.exists(path):
    return ""
  with open(path) as f:
    return f.read()


def _parts(work):
  rows = []
  for line in _text(os.path.join(work, "parts.tsv")).splitlines():
    name, budget, seconds, code, note = (line.split("\t") + [""] * 5)[:5]
    rows.append(f"| {name} | {budget} | {seconds} | {code} | {note} |")
  return ["| part | budget s | took s | exit | note |", "|---|---|---|---|---|",
          *rows]


def _rates(section, title):
  if not section:
    return [f"{title}: no result (see its log)."]
  lines = [f"{title}:", "", "| row | images/s (median) | ratio | rounds |",
           "|---|---|---|---|"]
  for name, row in section.items():
    if not isinstance(row, dict):
      continue
    ratio = next((v for k, v in row.items() if k.startswith("ratio_to")),
                 None)
    lines.append(f"| {name} | {row['images_per_s']:.1f} | "
                 f"{'' if ratio is None else f'{ratio:.2f}'} | "
                 f"{row.get('rounds')} |")
  return lines


def _store(path):
  if not os.path.exists(path):
    return ["No store lines (no run finished)."]
  lines = ["| key | kind | test balanced | wall s | steps/s |",
           "|---|---|---|---|---|"]
  with open(path) as f:
    for text in f:
      if not text.strip():
        continue
      line = json.loads(text)
      test = ((line.get("final") or {}).get("test") or {})
      balanced = test.get("balanced")
      rate = line.get("steps_per_second")
      lines.append(
          f"| {line['key']} | {line['kind']} | "
          f"{'' if balanced is None else f'{100 * balanced:.2f}'} | "
          f"{line.get('wall_seconds')} | "
          f"{'' if rate is None else f'{rate:.2f}'} |")
  return lines


def _tta(tta):
  if not tta:
    return ["No result (see the log of part d)."]
  answer = tta.get("time_to_target")
  lines = [f"Target: {tta['metric']} >= {tta['target']}; lengths planned "
           f"{tta['lengths_planned']}. Time to target: "
           + (f"**{answer['seconds']} s** (fast:{answer['length']}, seconds "
              f"from the runner's start, start-up and compilation included)"
              if answer else "not reached in this session") + ".", ""]
  for run in tta.get("runs", []):
    points = ", ".join(
        f"{p['seconds']} s ep {p['epoch']}: {p.get('balanced')}"
        for p in run["timeline"])
    lines.append(f"- fast:{run['length']}: finished={run['finished']}, "
                 f"stopped by budget={run['stopped_by_budget']}, "
                 f"{run['seconds']} s, first step "
                 f"{run.get('first_step_seconds')} s; timeline: "
                 f"{points or 'no evaluation'}")
  return lines


def summary(work: str, out: str, command: str = "") -> str:
  feed = _load(os.path.join(work, "feed.json"))
  step = _load(os.path.join(work, "step.json")) or {}
  lines = ["# GPU session (benchmarks/gpu_session.sh)", ""]
  if command:
    lines += [f"Command: `{command}`", ""]
  lines += ["## Environment", "", "```", _text(os.path.join(
      work, "env.txt")).strip(), "```", "", "## Parts", "", *_parts(work), "",
            "## (a) Feed: host-fed against on-device data", "",
            *_rates(feed, "time_to_accuracy --mode=feed"), "",
            "## (b) Train step: ltjax against PyTorch", ""]
  torch_note = _text(os.path.join(work, "torch.txt")).strip()
  if torch_note:
    lines += [f"PyTorch: {torch_note}", ""]
  if step.get("torch_device"):
    lines += [f"PyTorch device: {step['torch_device']}.", ""]
  lines += [*_rates(step.get("step"), "step_speed --sections=step"), "",
            "## (c) 200-epoch LDAM-DRW and LA, 3 replicas each", "",
            _text(os.path.join(work, "resume.txt")).strip()
            or "No resume archive.", "",
            "## (d) The fast recipe's time to the target", "",
            *_tta(_load(os.path.join(work, "tta.json"))), "",
            "## Store lines ($OUT/gpu.jsonl)", "",
            *_store(os.path.join(out, "gpu.jsonl")), ""]
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  text = summary(_WORK.value, _OUT.value, _COMMAND.value)
  with open(os.path.join(_OUT.value, "summary.md"), "w") as f:
    f.write(text)
  print(text)


if __name__ == "__main__":
  app.run(main)
