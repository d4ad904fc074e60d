r"""Sanity of every recipe on the CPU proxies: rules over a results store.

  python -m benchmarks.campaign --plan=benchmarks/plans/sanity.txt \
      --store=benchmarks/results/proxy.jsonl --data_root=../shared/data
  python -m benchmarks.sanity --store=benchmarks/results/proxy.jsonl \
      [--update=benchmarks/RESULTS.md]

The plan runs every classification recipe of `mnist_lt` and every
regression recipe of `abalone_dir` on one seed at the recipe's own length.
Each run is then judged against the plain baseline of its task on the same
seed (`ce`; `vanilla`), by rules that catch a broken method, not a weak one:

Classification (MNIST-LT, final test evaluation, accuracies in points):
  C1  balanced accuracy >= CE's - 1 (every long-tail method should at least
      keep plain CE's balanced accuracy: they all re-balance towards the
      tail classes, which CE under-predicts);
  C2  no shot group collapses: in every group where CE is >= 50 %, the
      run's group accuracy >= CE's - 10 (re-balancing trades a few points of
      the head for the tail; more means over- or under-correction);
  C3  the evaluated classifier trained: the cosine of its weights to their
      initialisation (metrics.json `run.head_cosine_to_init`) <= 0.9.
Regression (abalone, the best-validation epoch as the DIR protocol reports):
  R1  overall MAE <= 1.05 x vanilla's;
  R2  no shot group's MAE > 1.5 x vanilla's in that group (re-weighting
      raises the many-shot error by design, by about a third on abalone).

A recipe that fails a rule for a reason of the method on this proxy, not a
bug, is listed in `EXPECTED` with that reason and a reference; the table
marks it "expected". Any other failure makes the command exit 1.
"""

import sys

from absl import app
from absl import flags

from benchmarks import store
from benchmarks import table


DATASETS = {"mnist_lt": ("classification", "ce"),
            "abalone_dir": ("regression", "vanilla")}
GROUPS = ("many", "medium", "few")

# (dataset, method) -> why failing a rule is the method's behaviour on this
# proxy, with a reference; checked against the rule it fails in the table.
EXPECTED: dict[tuple[str, str], str] = {
    ("mnist_lt", "ace"): (
        "ACE's medium- and few-shot experts train at 21 % and 4 % of the "
        "learning rate (its per-expert rates) and are under-confident after "
        "10 epochs (mean top logit 2.9 and 1.5 against expert 0's 7.0), "
        "more than the weight-norm re-scaling (1.25, 1.58) corrects, so the "
        "per-class mean pulls the tail down; at 30 epochs 87.8, and the "
        "paper trains 400. RESULTS.md 'Right results', benchmarks/"
        "ace_experts.py"),
    ("mnist_lt", "mixup_drw_bs"): (
        "mixup over the first 8 of 10 epochs under-fits the tail classes: "
        "at epoch 8, before the deferred balanced softmax, the seed-0 run "
        "is at 77.9 balanced (medium 14.9 %) where plain CE is at 89.5 "
        "(medium 71 %; seed 1: 82.6); the deferred phase then adds as much "
        "as DRW adds to CE (+8.1 against +6.2), so the gap comes from "
        "mixup's short schedule (Bag-of-Tricks trains 200 epochs), not "
        "from the re-balancing. The runs' history.jsonl"),
}


def _pct(value):
  return None if value is None else 100.0 * value


def classification_checks(run, base) -> list[str]:
  """The rules C1-C3 a classification line fails (as short texts)."""
  test, ref = run["final"]["test"], base["final"]["test"]
  failed = []
  if _pct(test["balanced"]) < _pct(ref["balanced"]) - 1.0:
    failed.append(f"C1 balanced {_pct(test['balanced']):.1f} < CE "
                  f"{_pct(ref['balanced']):.1f} - 1")
  for group in GROUPS:
    mine, theirs = _pct(test.get(group)), _pct(ref.get(group))
    if theirs is None or theirs < 50.0 or mine is None:
      continue
    if mine < theirs - 10.0:
      failed.append(f"C2 {group} {mine:.1f} < CE {theirs:.1f} - 10")
  cosine = run.get("head_cosine_to_init")
  if cosine is not None and cosine > 0.9:
    failed.append(f"C3 head cosine to init {cosine:.2f} > 0.9")
  return failed


def regression_checks(run, base) -> list[str]:
  """The rules R1-R2 a regression line fails."""
  test, ref = run["best_val"]["test"], base["best_val"]["test"]
  failed = []
  if test["mae_all"] > 1.05 * ref["mae_all"]:
    failed.append(f"R1 MAE {test['mae_all']:.3f} > 1.05 x vanilla "
                  f"{ref['mae_all']:.3f}")
  for group in GROUPS:
    mine, theirs = test.get(f"mae_{group}"), ref.get(f"mae_{group}")
    if mine is None or theirs is None:
      continue
    if mine > 1.5 * theirs:
      failed.append(f"R2 {group} MAE {mine:.3f} > 1.5 x vanilla "
                    f"{theirs:.3f}")
  return failed


def judge(lines, seed: int):
  """[(dataset, method, line, failed rules, verdict)] for plain recipes."""
  plain = {}
  for line in lines:
    if (line["kind"] == "run" and line["dataset"] in DATASETS
        and line["seed"] == seed and not line.get("overrides")
        and not line.get("epochs")):
      plain[(line["dataset"], line["method"])] = line  # the newest
  out = []
  for (dataset, method), line in sorted(plain.items()):
    task, baseline = DATASETS[dataset]
    base = plain.get((dataset, baseline))
    if base is None:
      out.append((dataset, method, line, ["no baseline run"], "unjudged"))
      continue
    checks = (classification_checks if task == "classification"
              else regression_checks)(line, base)
    if not checks:
      verdict = "pass"
    elif (dataset, method) in EXPECTED:
      verdict = "expected"
    else:
      verdict = "FAIL"
    out.append((dataset, method, line, checks, verdict))
  return out


def render(judged) -> str:
  out = []
  for dataset in DATASETS:
    rows = [j for j in judged if j[0] == dataset]
    if not rows:
      continue
    task = DATASETS[dataset][0]
    if task == "classification":
      head = ["run", "top-1", "balanced", "many", "medium", "few",
              "head cos", "verdict", "rules failed / why"]
    else:
      head = ["run", "MAE", "MAE many", "MAE medium", "MAE few", "GM",
              "verdict", "rules failed / why"]
    out += [f"{dataset} (seed {rows[0][2]['seed']}, commit(s) "
            f"{', '.join(sorted({r[2]['commit'] for r in rows}))}):", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, method, line, checks, verdict in rows:
      why = "; ".join(checks)
      if verdict == "expected":
        why += f" — {EXPECTED[(dataset, method)]}"
      if task == "classification":
        test = line["final"]["test"]
        cos = line.get("head_cosine_to_init")
        cells = [method] + [
            "–" if test.get(k) is None else f"{100 * test[k]:.2f}"
            for k in ("top1", "balanced", *GROUPS)] + [
                "–" if cos is None else f"{cos:.2f}"]
      else:
        test = line["best_val"]["test"]
        cells = [method] + [
            "–" if test.get(k) is None else f"{test[k]:.3f}"
            for k in ("mae_all", "mae_many", "mae_medium", "mae_few",
                      "gm_all")]
      out.append("| " + " | ".join(cells + [verdict, why or "–"]) + " |")
    out.append("")
  return "\n".join(out).rstrip()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  f = flags.FLAGS
  judged = judge(store.read(f.store), f.seed)
  body = render(judged)
  if f.update:
    table.update_section(f.update, "sanity", body, table.command_line())
  print(body)
  if any(j[4] == "FAIL" for j in judged):
    sys.exit(1)


def define_flags() -> None:
  """The command line's flags (defined only when run as a program)."""
  flags.DEFINE_string("store", None, "The results store.")
  flags.DEFINE_integer("seed", 0, "The seed judged.")
  flags.DEFINE_string(
      "update", None, "Write the table into this Markdown file (section "
      "'sanity').")


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("store")
  app.run(main)
