r"""Host-side cost of ltjax at scale: N examples of C classes.

  python -m benchmarks.scale --parts=plan --repeats=3

Parts (`--parts`, comma-separated; each prints its own markdown table):
  plan  `sampling.epoch_plan` at every C x N of --sizes, for each of
        --samplers, against `per_class_scan_plan`, the plan as it was
        before it sorted the labels (one `labels == c` scan per class and
        one per drawn class: O(N C)). The reference runs only where
        N <= --reference_max_examples (it takes minutes at 10M x 8,142);
        where it runs, the two plans must be identical. Medians over
        --repeats epochs (epoch r in repeat r; the two alternate).

Labels: one example per class plus an exponential long tail of the rest,
n_c - 1 proportional to --imbalance^(-c / (C - 1)) (500 is iNaturalist
2018's ratio, 1,000 ... 2 images over 8,142 classes), rounded, the rounding
remainder added to class 0, shuffled with seed 0; int64 as `ltjax.data`
gives them.

Another part is added as a function `part(sizes) -> list[str]` of markdown
lines and an entry of `PARTS`.
"""

import functools
import statistics
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

from ltjax import sampling

_PARTS = flags.DEFINE_list("parts", ["plan"], "Parts to run: see PARTS.")
_SIZES = flags.DEFINE_list(
    "sizes", ["1000x1000000", "8142x1000000", "1000x10000000",
              "8142x10000000"], "CxN: classes x examples.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (median).")
_IMBALANCE = flags.DEFINE_float("imbalance", 500.0,
                                "n_max / n_min of the labels' long tail.")
_SAMPLERS = flags.DEFINE_list(
    "samplers", ["class_balanced"],
    "plan: sampling.SAMPLERS names (probabilities of epoch 0 of 2).")
_REFERENCE_MAX = flags.DEFINE_integer(
    "reference_max_examples", 1_000_000,
    "plan: time the pre-change plan only where N <= this (0: never).")


def parse_sizes(sizes: list[str]) -> list[tuple[int, int]]:
  """[(C, N)] of "CxN" strings."""
  out = []
  for size in sizes:
    classes, examples = size.lower().split("x")
    out.append((int(classes), int(examples)))
  return out


def long_tail_labels(num_classes: int, num_examples: int, *,
                     imbalance: float, seed: int = 0) -> np.ndarray:
  """int64 [N] shuffled labels of an exponential long tail (module doc)."""
  shape = imbalance ** (-np.arange(num_classes) / max(1, num_classes - 1))
  spare = num_examples - num_classes
  counts = 1 + np.round(shape * spare / shape.sum()).astype(np.int64)
  counts[0] += num_examples - counts.sum()
  if spare < 0 or counts[0] < 1:
    raise ValueError(f"{num_examples} examples cannot fill {num_classes} "
                     f"classes.")
  labels = np.repeat(np.arange(num_classes, dtype=np.int64), counts)
  return np.random.default_rng(seed).permutation(labels)


def per_class_scan_plan(labels, *, seed, epoch, class_probabilities=None,
                        num_samples=None, group_size=1):
  """`sampling.epoch_plan` before the sort (ltjax 073cf09), verbatim.

  Argument checks left out; tests/sampling_scale_test.py holds the full
  copy and checks the two agree bit for bit.
  """
  labels = np.asarray(labels)
  num_examples = labels.shape[0]
  num_samples = num_examples if num_samples is None else num_samples
  rng = np.random.Generator(np.random.PCG64([seed, epoch]))

  def cycled_permutations(items, length):
    reps = max(1, -(-length // items.size))
    return np.concatenate([rng.permutation(items)
                           for _ in range(reps)])[:length].astype(np.int64)

  if class_probabilities is None:
    return cycled_permutations(np.arange(num_examples), num_samples)
  probs = np.asarray(class_probabilities, np.float64)
  num_classes = probs.shape[0]
  members = [np.flatnonzero(labels == c) for c in range(num_classes)]
  num_draws = -(-num_samples // group_size)
  drawn_classes = rng.choice(num_classes, size=num_draws, p=probs)
  plan = np.empty(num_draws * group_size, np.int64)
  for c in np.unique(drawn_classes):
    slots = np.flatnonzero(drawn_classes == c)
    queue = cycled_permutations(members[c], slots.size * group_size)
    positions = (slots[:, None] * group_size
                 + np.arange(group_size)[None, :]).reshape(-1)
    plan[positions] = queue
  return plan[:num_samples]


def _seconds(fn) -> tuple[float, object]:
  start = time.perf_counter()
  out = fn()
  return time.perf_counter() - start, out


def plan_part(sizes: list[tuple[int, int]]) -> list[str]:
  """Markdown rows: the epoch plan against the per-class scan."""
  lines = ["| classes | examples | sampler | per-class scan (s) | "
           "sorted (s) | speed-up | identical |",
           "|---|---|---|---|---|---|---|"]
  for num_classes, num_examples in sizes:
    labels = long_tail_labels(num_classes, num_examples,
                              imbalance=_IMBALANCE.value)
    counts = np.bincount(labels, minlength=num_classes)
    with_reference = num_examples <= _REFERENCE_MAX.value
    for sampler in _SAMPLERS.value:
      probs = sampling.sampling_probabilities(sampler, counts, epoch=0,
                                              num_epochs=2)
      plan_fns = {"sorted": sampling.epoch_plan}
      if with_reference:
        plan_fns["scan"] = per_class_scan_plan
      times = {name: [] for name in plan_fns}
      same = True
      for r in range(_REPEATS.value):
        names = list(plan_fns) if r % 2 == 0 else list(plan_fns)[::-1]
        plans = {}
        for name in names:
          seconds, plans[name] = _seconds(functools.partial(
              plan_fns[name], labels, seed=0, epoch=r,
              class_probabilities=probs))
          times[name].append(seconds)
        same = same and all(np.array_equal(plan, plans["sorted"])
                            for plan in plans.values())
      t_new = statistics.median(times["sorted"])
      if with_reference:
        t_old = statistics.median(times["scan"])
        cells = (f"{t_old:.3g}", f"{t_new:.3g}", f"{t_old / t_new:.1f}x",
                 "yes" if same else "NO")
      else:
        cells = ("not run", f"{t_new:.3g}", "", "")
      lines.append(f"| {num_classes:,} | {num_examples:,} | {sampler} | "
                   + " | ".join(cells) + " |")
      logging.info("%s", lines[-1])
  return lines


PARTS = {
    "plan": plan_part,
}


def main(argv):
  del argv
  unknown = [p for p in _PARTS.value if p not in PARTS]
  if unknown:
    raise app.UsageError(f"unknown parts {unknown}; known: {list(PARTS)}.")
  sizes = parse_sizes(_SIZES.value)
  print(f"NumPy {np.__version__}; {_REPEATS.value} repeats; labels: "
        f"exponential tail, imbalance {_IMBALANCE.value:g}")
  for part in _PARTS.value:
    lines = PARTS[part](sizes)
    print(f"\n### {part}\n")
    print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
