r"""Test accuracy of finished runs under shifted test label distributions.

  python -m experiments.evaluate_shift \
      --runs=/tmp/ltjax/cifar100_lt/sade,/tmp/ltjax/cifar100_lt/ce \
      --output=/tmp/ltjax/shift.md --tta --posthoc

One table, a row per run (named by its workdir's basename, with its method),
a column per test distribution: SADE's forward-LT 50 ... 2, uniform,
backward-LT 2 ... 50 (`ltjax.data.SHIFT_PROTOCOL`) and "train-prior" (the
test set imbalanced like the training set, LDAM's known-imbalanced test),
each a seeded sub-sample of the run's balanced test set
(`ltjax.data.shifted_test_indices`). The accuracy is plain top-1 on the
sub-sample, as SADE reports it. Every run is evaluated once on the whole
test set; the sets are index sub-samples of those logits.

An expert run (logits [E, B, C]) is scored on its evaluated aggregation
(`ltjax.train.aggregate_experts`: the mean of its experts' logits, ACE's
own aggregation for ACE); with `--tta` also with SADE's test-time self-supervised aggregation
(a row "+ TTA"): the expert weights are fitted on each shifted set's
unlabelled images from two views of the run's own training augmentation
(evaluated once for the whole test set), then applied to its clean logits.
A single-model run with `--posthoc` gets a row "+ post-hoc": its logits
moved to the set's known label prior (`ltjax.posthoc.adjust_logits` with
`target_priors`, tau = 1): z - log pi_train + log pi_test for a plain
cross-entropy run, z + log pi_test for a run trained to be balanced (any
other loss, re-weighting or sampler). A normalized (cosine) head's logits
are multiplied by the run's loss.scale, as in training.

Writes the table as Markdown to `--output`, and beside it the same numbers
as CSV and JSON (with the seed, each set's class counts and the fitted
weights).
"""

import csv
import glob
import json
import os
import sys
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import data as ltdata
from ltjax import posthoc
from ltjax import experts
from ltjax import train

DISTRIBUTIONS = tuple(ltdata.SHIFT_PROTOCOL) + (("train-prior", "train",
                                                  None),)

_RUNS = flags.DEFINE_list(
    "runs", [], "Workdirs of finished runs (comma-separated).")
_RUNS_GLOB = flags.DEFINE_string(
    "runs_glob", None, "Also every directory matching this pattern that "
    "holds a finished run (config.json and metrics.json), e.g. 'runs/*'.")
_OUTPUT = flags.DEFINE_string(
    "output", None, "The Markdown table (.md); .csv and .json go beside it.")
_TTA = flags.DEFINE_bool(
    "tta", False, "Expert runs: also SADE's test-time aggregation.")
_POSTHOC = flags.DEFINE_bool(
    "posthoc", False,
    "Single-model runs: also logits adjusted to each set's known prior.")
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the sub-samples (0: SADE's) and of the TTA views.")
_TTA_EPOCHS = flags.DEFINE_integer("tta_epochs", 5, "TTA epochs (SADE: 5).",
                                   lower_bound=1)
_TTA_BATCH = flags.DEFINE_integer("tta_batch_size", 128,
                                  "TTA batch size (SADE: 128).", lower_bound=1)
_TTA_PADDING = flags.DEFINE_integer(
    "tta_padding", -1, "TTA views: random crops with this zero padding "
    "(-1: the run's own training augmentation; for a run trained without "
    "augmentation, e.g. MNIST-LT, whose two views would be equal).",
    lower_bound=-1)
_TTA_LR = flags.DEFINE_float(
    "tta_learning_rate", 0.1,
    "TTA SGD learning rate (SADE: 0.1 CIFAR, 0.025 ImageNet-LT).",
    lower_bound=0.0)


def find_runs(runs, runs_glob: str | None = None) -> list[str]:
  """The workdirs of `runs` and of the finished runs matching `runs_glob`."""
  found = []
  for workdir in runs:
    if not os.path.exists(os.path.join(workdir, "config.json")):
      raise ValueError(
          f"--runs: {workdir} holds no config.json; give workdirs of ltjax "
          f"training runs.")
    found.append(workdir)
  for workdir in sorted(glob.glob(runs_glob or "")):
    if all(os.path.exists(os.path.join(workdir, name))
           for name in ("config.json", "metrics.json")):
      found.append(workdir)
  unique = list(dict.fromkeys(os.path.normpath(w) for w in found))
  if not unique:
    raise ValueError("no runs: give --runs or a --runs_glob matching "
                     "finished runs.")
  return unique


def method_name(config) -> str:
  """A short description of the run's method, from its config."""
  experts = config.get("experts", {}).get("method", "none")
  if experts != "none":
    return experts
  name = config.loss.name
  reweight = _reweight(config)
  if reweight != "none":
    name += f"+{reweight}"
  if config.sampler.name != "instance":
    name += f"+{config.sampler.name}"
  return name


def _reweight(config) -> str:
  reweight = config.loss.reweight
  return (train.LOSSES[config.loss.name].default_reweight
          if reweight == "default" else reweight)


def is_plain_erm(config) -> bool:
  """Plain cross-entropy: softmax estimates the long-tailed p(y | x)."""
  return (config.loss.name == "ce" and _reweight(config) == "none"
          and config.sampler.name == "instance")


def test_logits(model, variables, split, preprocess, *, batch_size: int,
                scale: float = 1.0, key: jax.Array | None = None
                ) -> np.ndarray:
  """The model's logits on every example of `split`, as [E, N, C].

  A plain model's [B, C] are [1, B, C]. `key` None: the evaluation
  transform; a key: the training augmentation (`preprocess(x, key)`), one
  key per batch folded from it. The last batch is padded to `batch_size`
  (one compilation) and the padding dropped.
  """
  augmented = key is not None

  @jax.jit
  def forward(variables, images, batch_key):
    x = preprocess(images, batch_key if augmented else None)
    logits = model.apply(variables, x, train=False)[0]
    logits = logits.astype(jnp.float32) * scale
    return logits[None] if logits.ndim == 2 else logits

  n = len(split)
  out = []
  for number, start in enumerate(range(0, n, batch_size)):
    indices = np.arange(start, start + batch_size)
    valid = int(min(batch_size, n - start))
    indices[valid:] = start
    images, _ = split.get_batch(indices)
    batch_key = (jax.random.fold_in(key, number) if augmented
                 else jax.random.PRNGKey(0))
    out.append(np.asarray(forward(variables, images, batch_key))[:, :valid])
  return np.concatenate(out, axis=1)


def _accuracy(logits, labels) -> float:
  return float(np.mean(np.argmax(np.asarray(logits), -1) == labels))


def evaluate_run(workdir: str, *, seed: int = 0, tta: bool = False,
                 posthoc_shift: bool = False,
                 tta_options: dict[str, Any] | None = None,
                 tta_padding: int = -1) -> dict[str, Any]:
  """Accuracy of one finished run on every test distribution.

  `tta_padding` >= 0: the TTA views are random crops with that zero padding
  (and the run's flip) instead of the run's own training augmentation, for
  a run trained without augmentation (e.g. MNIST-LT), whose two views would
  be equal.

  Returns:
    {"workdir", "name", "method", "num_experts", "dataset", "seed",
     "sets": {set: {"kind", "ratio", "class_counts", "num_examples"}},
     "rows": {"plain" | "tta" | "posthoc": {set: top-1}},
     "tta_weights": {set: [E]}, "run_test_top1", "notes"}.
  """
  model, variables, config = train.load_model(workdir)
  if config.get("task", "classification") != "classification":
    raise ValueError(f"{workdir} is a {config.task} run; shifted label "
                     f"distributions need a classification run.")
  dataset = ltdata.load_dataset(config.data)
  run = train.build_run(config, dataset)
  scale = (float(config.loss.scale) if config.model.head == "normalized"
           else 1.0)
  batch_size = int(config.eval_batch_size)
  labels = np.asarray(dataset.test.labels)
  train_counts = np.asarray(dataset.train_class_counts)
  num_classes = len(train_counts)
  clean = test_logits(model, variables, dataset.test, run.preprocess,
                      batch_size=batch_size, scale=scale)
  num_experts = clean.shape[0]
  key = jax.random.PRNGKey(seed)
  notes = []
  rows = {"plain": {}}
  expert_method = config.get("experts", {}).get("method", "none")
  do_tta = tta and num_experts > 1 and expert_method != "ace"
  do_posthoc = posthoc_shift and num_experts == 1
  if tta and not do_tta:
    notes.append("TTA skipped: ACE's experts see nested class subsets (its "
                 "own aggregation is evaluated)." if expert_method == "ace"
                 else "TTA skipped: a single model (no experts to weigh).")
  if posthoc_shift and not do_posthoc:
    notes.append("post-hoc skipped: an expert run (see TTA).")
  if do_tta:
    view_key1, view_key2 = jax.random.split(jax.random.fold_in(key, 1))
    view_preprocess = run.preprocess
    if tta_padding >= 0:
      task = run.task

      def view_preprocess(images, view_key):
        return ltdata.augment(images, view_key, mean=task.mean, std=task.std,
                              padding=tta_padding, flip=config.augment.flip,
                              dtype=task.dtype)
      notes.append(f"TTA views: random crops with padding {tta_padding}.")
    views = [test_logits(model, variables, dataset.test, view_preprocess,
                         batch_size=batch_size, scale=scale, key=k)
             for k in (view_key1, view_key2)]
    if np.array_equal(views[0], views[1]):
      notes.append("TTA: the run's augmentation is the identity (two equal "
                   "views), so the weights stay uniform.")
    rows["tta"] = {}
  if do_posthoc:
    rows["posthoc"] = {}
    source_priors = (train_counts / train_counts.sum() if is_plain_erm(config)
                     else np.ones(num_classes))
  sets, weights = {}, {}
  evaluated = (np.asarray(train.aggregate_experts(
      config, clean, train_counts, variables["params"]))
               if num_experts > 1 else clean[0])
  for number, (name, kind, ratio) in enumerate(DISTRIBUTIONS):
    idx = ltdata.shifted_test_indices(
        labels, kind=kind, ratio=ratio, seed=seed,
        train_class_counts=train_counts, num_classes=num_classes)
    counts = np.bincount(labels[idx], minlength=num_classes)
    sets[name] = {"kind": kind, "ratio": ratio, "num_examples": len(idx),
                  "class_counts": counts.tolist()}
    rows["plain"][name] = _accuracy(evaluated[idx], labels[idx])
    if do_tta:
      # On the set's examples only, through a mask: one compilation.
      w = experts.fit_aggregation_weights(
          views[0], views[1], mask=np.isin(np.arange(len(labels)), idx),
          key=jax.random.fold_in(key, 100 + number), **(tta_options or {}))
      weights[name] = np.asarray(w).tolist()
      rows["tta"][name] = _accuracy(experts.aggregate(clean[:, idx], w),
                                    labels[idx])
    if do_posthoc:
      target = ltdata.shifted_class_weights(
          num_classes, kind=kind, ratio=ratio,
          train_class_counts=train_counts)
      adjusted = posthoc.adjust_logits(
          clean[0, idx], class_priors=source_priors, tau=1.0,
          target_priors=target / target.sum())
      rows["posthoc"][name] = _accuracy(adjusted, labels[idx])
  run_top1 = None
  metrics_path = os.path.join(workdir, "metrics.json")
  if os.path.exists(metrics_path):
    with open(metrics_path) as f:
      run_top1 = json.load(f).get("final", {}).get("test", {}).get("top1")
  return {
      "workdir": os.path.abspath(workdir),
      "name": os.path.basename(os.path.normpath(workdir)),
      "method": method_name(config),
      "num_experts": int(num_experts),
      "dataset": config.data.name,
      "seed": seed,
      "sets": sets,
      "rows": rows,
      "tta_weights": weights,
      "tta_options": tta_options or {},
      "tta_padding": tta_padding,
      "run_test_top1": run_top1,
      "notes": notes,
  }


_VARIANTS = {"plain": "", "tta": " + TTA", "posthoc": " + post-hoc"}


def markdown_table(records) -> str:
  """The table: a row per run (and variant), test top-1 in %."""
  names = [name for name, _, _ in DISTRIBUTIONS]
  lines = ["| run | method | " + " | ".join(names) + " |",
           "|---|---|" + "---|" * len(names)]
  for record in records:
    for variant, row in record["rows"].items():
      cells = " | ".join(f"{100 * row[n]:.2f}" for n in names)
      lines.append(f"| {record['name']}{_VARIANTS[variant]} | "
                   f"{record['method']} | {cells} |")
  notes = [f"{r['name']}: {note}" for r in records for note in r["notes"]]
  if notes:
    lines += [""] + notes
  return "\n".join(lines)


def write_outputs(records, output: str) -> dict[str, str]:
  """Writes `output` (Markdown) and its .csv / .json; returns the paths."""
  base = os.path.splitext(output)[0]
  paths = {"md": output, "csv": base + ".csv", "json": base + ".json"}
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(paths["md"], "w") as f:
    f.write(markdown_table(records) + "\n")
  names = [name for name, _, _ in DISTRIBUTIONS]
  with open(paths["csv"], "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["run", "method", "variant", "seed", *names])
    for record in records:
      for variant, row in record["rows"].items():
        writer.writerow([record["name"], record["method"], variant,
                         record["seed"], *[row[n] for n in names]])
  with open(paths["json"], "w") as f:
    json.dump({"distributions": names, "runs": records}, f, indent=2)
  return paths


def evaluate_shift(workdirs, output: str, *, seed: int = 0,
                   tta: bool = False, posthoc_shift: bool = False,
                   tta_options: dict[str, Any] | None = None,
                   tta_padding: int = -1) -> list[dict]:
  """Evaluates every run; writes the table. Returns the records."""
  train.quiet_library_logs()
  records = [evaluate_run(w, seed=seed, tta=tta, posthoc_shift=posthoc_shift,
                          tta_options=tta_options, tta_padding=tta_padding)
             for w in workdirs]
  write_outputs(records, output)
  logging.info("\n%s", markdown_table(records))
  return records


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    workdirs = find_runs(_RUNS.value, _RUNS_GLOB.value)
  except ValueError as error:
    raise app.UsageError(str(error)) from None
  evaluate_shift(workdirs, _OUTPUT.value, seed=_SEED.value, tta=_TTA.value,
                 posthoc_shift=_POSTHOC.value, tta_padding=_TTA_PADDING.value,
                 tta_options={"num_epochs": _TTA_EPOCHS.value,
                              "batch_size": _TTA_BATCH.value,
                              "learning_rate": _TTA_LR.value})


def run():
  flags.mark_flags_as_required(["output"])
  app.run(main, argv=sys.argv)


if __name__ == "__main__":
  run()
