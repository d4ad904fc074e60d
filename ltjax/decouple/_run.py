"""`decouple_and_evaluate`: every decoupled / post-hoc classifier of a run.

From a stage-1 workdir (its `config.json` and newest checkpoint) it extracts
the backbone's features once and reports, side by side, the joint classifier,
NCM, cRT, tau-normalisation, LWS and post-hoc logit adjustment, with tau
chosen on the validation split, plus the analysis the notebooks plot: weight
norms against class counts and accuracy-against-tau curves.
"""

import dataclasses
import os
from typing import Any

from absl import logging
import jax
import ml_collections
import numpy as np
import scipy.stats

from ltjax import _watchdog
from ltjax import data as ltdata
from ltjax import metrics
from ltjax import posthoc
from ltjax import train
from ltjax.decouple import _ncm
from ltjax.decouple import _stage2

METHODS = ("joint", "ncm", "crt", "tau_norm", "lws", "posthoc_la")
FEATURE_MODES = ("cached", "augmented")


def default_config() -> ml_collections.ConfigDict:
  """Stage-2 settings; the model and data come from the stage-1 workdir."""
  config = ml_collections.ConfigDict()
  config.methods = METHODS
  # Non-empty fields replace the stage-1 data config (e.g. a moved copy).
  config.data = ml_collections.ConfigDict({"path": "", "data_dir": ""})
  # Expectations checked against the checkpoint ("" / -1: not checked).
  config.expect_model = ""
  config.expect_num_classes = -1
  config.features = "cached"  # cached | augmented (re-run the backbone)
  config.bn_train = False  # augmented only: BatchNorm in train mode
  config.crt = ml_collections.ConfigDict(dataclasses.asdict(
      _stage2.Stage2Options(epochs=10, batch_size=512, lr=0.2,
                            weight_decay=5e-4)))
  config.lws = ml_collections.ConfigDict(dataclasses.asdict(
      _stage2.Stage2Options(epochs=5, batch_size=512, lr=0.2,
                            weight_decay=0.0)))
  config.ncm_metric = "euclidean"
  config.tau_grid = posthoc.DEFAULT_TAU_GRID
  config.select_metric = "balanced"
  config.eval_batch_size = 500
  config.seed = 0
  # Decouple a run that has not finished (no metrics.json): its newest
  # checkpoint, with a warning.
  config.allow_unfinished = False
  return config


def validate_config(config) -> None:
  def require(ok, field, message):
    if not ok:
      raise ValueError(f"config.{field}: {message}")

  unknown = [m for m in config.methods if m not in METHODS]
  require(not unknown, "methods", f"unknown {unknown}; known: {list(METHODS)}.")
  require(config.features in FEATURE_MODES, "features",
          f"{config.features!r} is not one of {list(FEATURE_MODES)}.")
  require(not config.bn_train or config.features == "augmented", "bn_train",
          "BatchNorm in train mode needs features='augmented' (cached "
          "features are extracted once, with frozen statistics).")
  require(config.ncm_metric in _ncm.NCM_METRICS, "ncm_metric",
          f"{config.ncm_metric!r} is not one of {list(_ncm.NCM_METRICS)}.")
  require(config.select_metric in ("balanced", "top1"), "select_metric",
          f"{config.select_metric!r} is not 'balanced' or 'top1'.")
  require(len(config.tau_grid) > 0 and min(config.tau_grid) >= 0,
          "tau_grid", "must be a non-empty list of taus >= 0.")
  for name in ("crt", "lws"):
    try:
      _stage2.Stage2Options(**config[name])
    except (TypeError, ValueError) as e:
      raise ValueError(f"config.{name}: {e}") from e


def load_stage1_config(checkpoint_dir: str, data_overrides) -> Any:
  """The stage-1 run's config (`ltjax.train.load_config`), data overridden."""
  stage1 = train.load_config(checkpoint_dir)
  if stage1.get("task", "classification") != "classification":
    raise ValueError(
        f"--checkpoint: {checkpoint_dir} is a {stage1.task} run; decoupling "
        f"needs a classification run (a regression run re-trains its "
        f"regressor with config.rrt).")
  for key, value in data_overrides.items():
    if value:
      stage1.data[key] = value
  return stage1


def _model_part(params):
  """The model's parameters of a run's (GLMC / contrastive: {"model", ...})."""
  return params["model"] if "model" in params else params


def _check_checkpoint(saved, step, expected, stage1, checkpoint_dir,
                      config) -> None:
  """Checks the expectations; explains a checkpoint that does not fit.

  Args:
    saved: the checkpoint's pytree of parameter shapes.
    step: its step.
    expected: the stage-1 model's pytree of parameter shapes.
    stage1: the stage-1 config.
    checkpoint_dir: the stage-1 workdir.
    config: the decoupling config (`expect_model`, `expect_num_classes`).
  """
  model = stage1.model.name
  if config.expect_model and config.expect_model != model:
    raise ValueError(
        f"config.expect_model: the checkpoint in {checkpoint_dir} was trained "
        f"with model {model!r}, not {config.expect_model!r}.")
  num_classes = _model_part(expected)["head"]["kernel"][1]
  saved_classes = _model_part(saved).get("head", {}).get(
      "kernel", (None, None))[1]
  if config.expect_num_classes not in (-1, saved_classes):
    raise ValueError(
        f"config.expect_num_classes: the checkpoint in {checkpoint_dir} has "
        f"{saved_classes} classes, not {config.expect_num_classes}.")
  flat_expected = dict(jax.tree_util.tree_flatten_with_path(
      expected, is_leaf=lambda x: isinstance(x, tuple))[0])
  flat_saved = dict(jax.tree_util.tree_flatten_with_path(
      saved, is_leaf=lambda x: isinstance(x, tuple))[0])
  if flat_expected != flat_saved:
    names = lambda tree: {jax.tree_util.keystr(k) for k in tree}  # pylint: disable=g-long-lambda
    diff = sorted(names(flat_expected) ^ names(flat_saved))[:3]
    if not diff:
      diff = [f"{jax.tree_util.keystr(k)}: checkpoint {flat_saved[k]} vs "
              f"model {flat_expected[k]}" for k in flat_expected
              if flat_saved.get(k) != flat_expected[k]][:3]
    raise ValueError(
        f"the checkpoint at step {step} in {checkpoint_dir} does not fit "
        f"model {model!r} with {num_classes} classes (the data "
        f"{stage1.data.name!r} gives {num_classes}); checkpoint has "
        f"{saved_classes} classes. First differences: {diff}.")


def restore_stage1(checkpoint_dir: str, config, dataset=None):
  """(stage-1 config, dataset, run, state, step) of a stage-1 workdir.

  The checkpoint is opened read-only (`ltjax.train.read_checkpoint`):
  nothing in the stage-1 workdir is moved or written. `dataset`: the data
  of a run trained on data given in memory (`train_and_evaluate(...,
  dataset=...)`), which must be the same (its split digests).
  """
  stage1 = load_stage1_config(checkpoint_dir, config.data)
  train.require_finished(
      checkpoint_dir, "--checkpoint",
      allow_unfinished=config.get("allow_unfinished", False))
  if dataset is None:
    if _trained_in_memory(checkpoint_dir):
      raise ValueError(
          f"{checkpoint_dir} was trained on data given in memory "
          f"(train_and_evaluate(..., dataset=...)), which its config cannot "
          f"load again: call ltjax.decouple.decouple_and_evaluate(config, "
          f"{checkpoint_dir!r}, dataset=THE_SAME_DATASET).")
    where = f"the stage-1 data, data.path={stage1.data.get('path', '')!r}"
    _watchdog.beat(f"loading {where}", _watchdog.blocked_read_hint(where))
    dataset = ltdata.load_dataset(stage1.data)
  else:
    train.check_data(checkpoint_dir, ltdata.dataset_digests(dataset))
  run = train.build_run(stage1, dataset)
  like = run.init_state()
  expected = jax.tree.map(lambda x: tuple(x.shape), like.params)
  try:
    state, step = train.read_checkpoint(checkpoint_dir, like)
  except train.CheckpointMismatchError as error:
    _check_checkpoint(error.saved_shapes["params"], error.step, expected,
                      stage1, checkpoint_dir, config)
    raise
  _check_checkpoint(expected, step, expected, stage1, checkpoint_dir, config)
  variables = train.model_variables(run.task, state)
  where = train.non_finite_leaves(variables)
  if where:
    raise ValueError(
        f"the checkpoint at step {step} in {checkpoint_dir} has non-finite "
        f"parameters ({', '.join(where)}): the stage-1 run diverged. Retrain "
        f"it with a lower config.optim.lr; decoupling it would report "
        f"meaningless numbers.")
  return stage1, dataset, run, state, step


def _trained_in_memory(workdir: str) -> bool:
  """Whether the run's metrics.json records in-memory arrays as its data."""
  import json  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "metrics.json")
  if not os.path.exists(path):
    return False
  with open(path) as f:
    source = json.load(f).get("data", {}).get("source", {})
  return isinstance(source, dict) and source.get("format") == "arrays"


def extract(run, variables, split, *, batch_size: int):
  """(features [N, D], logits [N, C]) of the frozen model on `split`."""
  return train.extract_features(run.model, variables, split,
                                preprocess=run.preprocess, mesh=run.mesh,
                                batch_size=batch_size, with_outputs=True)


def _scores(logits, labels, train_counts, many, few) -> dict[str, float]:
  counts = metrics.ClassificationCounts.from_logits(logits, labels)
  summary = metrics.classification_summary(counts, train_counts, many=many,
                                           few=few)
  summary.pop("ece")
  return summary


def _spearman(norms, counts) -> float:
  return float(scipy.stats.spearmanr(np.asarray(norms),
                                     np.asarray(counts)).statistic)


@_watchdog.watched  # a hang in loading, extraction or a stage dumps stacks
def decouple_and_evaluate(config, checkpoint_dir: str,
                          workdir: str | None = None, *,
                          dataset=None) -> dict[str, Any]:
  """Runs every configured method on a stage-1 checkpoint; writes the table.

  Args:
    config: `default_config()` fields.
    checkpoint_dir: the stage-1 workdir.
    workdir: where decouple.json / decouple.md go (default checkpoint_dir).
    dataset: for a run trained on data given in memory, the same data
      (checked against the run's split digests); else loaded from its
      config.

  Returns:
    The content of decouple.json.
  """
  train.quiet_library_logs()
  validate_config(config)
  if jax.process_count() > 1:
    raise ValueError("decoupling runs in a single process; features of a "
                     "CIFAR/ImageNet-LT model fit one host.")
  workdir = workdir or checkpoint_dir
  os.makedirs(workdir, exist_ok=True)
  stage1, dataset, run, state, step = restore_stage1(checkpoint_dir, config,
                                                     dataset)
  if dataset.val is None:
    raise ValueError(
        "decoupling chooses tau on the validation split, but this dataset "
        "has none: set data.val_per_class > 0 in the stage-1 config.")
  many, few = stage1.shot_many, stage1.shot_few
  train_counts = np.asarray(dataset.train_class_counts)
  num_classes = dataset.num_classes
  # The model's variables (a GLMC or contrastive run trains heads beside
  # the model's: {"model", "glmc" | "contrast"}).
  variables = train.model_variables(run.task, state)
  head_kind = stage1.model.head
  head_params = jax.device_get(variables["params"]["head"])

  splits = {"train": dataset.train, "val": dataset.val, "test": dataset.test}
  feats, logits = {}, {}
  for name, split in splits.items():
    feats[name], logits[name] = extract(run, variables, split,
                                        batch_size=config.eval_batch_size)
  for name in splits:
    for what, values in (("features", feats[name]), ("logits", logits[name])):
      bad = ~np.all(np.isfinite(values), axis=1)
      if bad.any():
        raise ValueError(
            f"the stage-1 model of {checkpoint_dir} (step {step}) gives "
            f"non-finite {what} for {int(bad.sum())} of {len(bad)} {name} "
            f"examples (first: index {int(np.flatnonzero(bad)[0])}); its "
            f"weights are finite but overflow. Retrain it with a lower "
            f"config.optim.lr (or weight decay) before decoupling.")
  labels = {name: np.asarray(split.labels) for name, split in splits.items()}
  logging.info("Extracted features: %s", {k: v.shape for k, v in feats.items()})

  results, curves, norms, notes = {}, {}, {}, {}

  def record(name, val_logits, test_logits, **extra):
    results[name] = {
        "val": _scores(val_logits, labels["val"], train_counts, many, few),
        "test": _scores(test_logits, labels["test"], train_counts, many, few),
        **extra}

  methods = list(config.methods)
  if "joint" in methods:
    record("joint", logits["val"], logits["test"])
    norms["joint"] = posthoc.weight_norms(head_params["kernel"])
  if "ncm" in methods:
    means, center = _ncm.fit_ncm(feats["train"], labels["train"],
                                 num_classes=num_classes)
    ncm = lambda f: _ncm.ncm_logits(f, means, metric=config.ncm_metric,  # pylint: disable=g-long-lambda
                                    center=center)
    record("ncm", ncm(feats["val"]), ncm(feats["test"]))
  key = jax.random.PRNGKey(config.seed)
  if "crt" in methods:
    crt_params, crt_logits = _stage2.crt_init(num_classes,
                                              feats["train"].shape[1], key)
    crt_params, eval_feats = _fit(config, config.crt, crt_params, crt_logits,
                                  run, dataset, variables, feats, labels,
                                  train_counts)
    record("crt", crt_logits(crt_params, eval_feats["val"]),
           crt_logits(crt_params, eval_feats["test"]))
    norms["crt"] = posthoc.weight_norms(crt_params["kernel"])
  if "lws" in methods:
    lws_params, lws_logits = _stage2.lws_init(head_params, head_kind,
                                              num_classes)
    lws_params, eval_feats = _fit(config, config.lws, lws_params, lws_logits,
                                  run, dataset, variables, feats, labels,
                                  train_counts)
    record("lws", lws_logits(lws_params, eval_feats["val"]),
           lws_logits(lws_params, eval_feats["test"]),
           scales=np.asarray(lws_params["scales"]).tolist())
    norms["lws"] = (posthoc.weight_norms(head_params["kernel"])
                    * np.abs(np.asarray(lws_params["scales"])))
  cosine = head_kind == "normalized"
  for name in ("tau_norm", "posthoc_la"):
    if name not in methods:
      continue
    if cosine:
      notes[name] = ("skipped: the stage-1 head is normalized (cosine), so "
                     "tau-normalisation is the identity and the logits are "
                     "unscaled cosines that a log-prior offset would swamp.")
      continue
    if name == "tau_norm":
      inputs = feats
      kw = {"kernel": head_params["kernel"]}
    else:
      inputs = logits
      kw = {"class_priors": train_counts / train_counts.sum()}
    selection = posthoc.select_tau(inputs["val"], labels["val"],
                                   grid=config.tau_grid,
                                   metric=config.select_metric,
                                   train_counts=train_counts, many=many,
                                   few=few, **kw)
    tau = selection.tau
    if name == "tau_norm":
      kernel = posthoc.tau_normalize(head_params["kernel"], tau=tau)
      apply = lambda f: f @ kernel  # pylint: disable=g-long-lambda,cell-var-from-loop
      norms["tau_norm"] = posthoc.weight_norms(kernel)
    else:
      apply = lambda z: posthoc.adjust_logits(  # pylint: disable=g-long-lambda
          z, class_priors=kw["class_priors"], tau=tau)  # pylint: disable=cell-var-from-loop
    record(name, apply(inputs["val"]), apply(inputs["test"]), tau=tau)
    curves[name] = {
        "val": selection.curve.as_dict(),
        "test": posthoc.tau_curve(inputs["test"], labels["test"],
                                  grid=config.tau_grid,
                                  train_counts=train_counts, many=many,
                                  few=few, **kw).as_dict()}

  result = {
      "checkpoint_dir": os.path.abspath(checkpoint_dir),
      "checkpoint_step": step,
      "stage1": {"loss": stage1.loss.name, "model": stage1.model.name,
                 "head": head_kind, "data": dataset.metadata},
      "train_class_counts": train_counts.tolist(),
      "select_metric": config.select_metric,
      "methods": results,
      "tau_curves": curves,
      "weight_norms": {k: np.asarray(v).tolist() for k, v in norms.items()},
      "norm_count_spearman": {k: _spearman(v, train_counts)
                              for k, v in norms.items()},
      # Spearman keeps the ranking tau-norm preserves; the spread shows
      # how much of the norm gap is left.
      "norm_max_min_ratio": {k: float(np.max(v) / np.min(v))
                             for k, v in norms.items()},
      "notes": notes,
      "config": config.to_dict(),
  }
  train.write_json(os.path.join(workdir, "decouple.json"), result)
  with open(os.path.join(workdir, "decouple.md"), "w") as f:
    f.write(markdown_table(result) + "\n")
  logging.info("\n%s", markdown_table(result))
  return result


def _fit(config, options_cfg, params, logits_fn, run, dataset, variables,
         feats, labels, train_counts):
  """Trains a stage-2 classifier; returns it and the eval features to use."""
  options = _stage2.Stage2Options(**options_cfg)
  if config.features == "cached":
    params = _stage2.fit_on_features(params, logits_fn, feats["train"],
                                     labels["train"], train_counts, options)
    return params, feats
  params, drifted = _stage2.fit_with_backbone(
      params, logits_fn, run.model, variables, dataset.train,
      run.preprocess, train_counts, options, bn_train=config.bn_train)
  if not config.bn_train:
    return params, feats
  # The original evaluates with the drifted BatchNorm statistics.
  eval_feats = {name: extract(run, drifted, getattr(dataset, name),
                              batch_size=config.eval_batch_size)[0]
                for name in ("val", "test")}
  return params, eval_feats


def markdown_table(result: dict[str, Any]) -> str:
  """The side-by-side table of decouple.json, test accuracy in %."""
  def pct(x):
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.2f}"

  lines = ["| method | tau | top-1 | balanced | many | medium | few | "
           "val balanced |", "|---|---|---|---|---|---|---|---|"]
  for name, r in result["methods"].items():
    t = r["test"]
    tau = f"{r['tau']:.1f}" if "tau" in r else ""
    lines.append(
        f"| {name} | {tau} | {pct(t['top1'])} | {pct(t['balanced'])} | "
        f"{pct(t['many'])} | {pct(t['medium'])} | {pct(t['few'])} | "
        f"{pct(r['val']['balanced'])} |")
  for name, note in result.get("notes", {}).items():
    lines.append(f"\n{name}: {note}")
  return "\n".join(lines)
