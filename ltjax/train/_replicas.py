"""K seeds of one recipe as one compiled program (`config.num_replicas`).

Replica k is the run of `config` with seed `config.seed + k`: its own
initialisation, data order and augmentation. Their train states are stacked
along a leading replica axis and one `jax.vmap` of the step trains them all
(the batches stacked the same way); evaluations are one vmapped evaluation
step per batch. On a CPU this saves only compilation and start-up; on an
accelerator a small model (ResNet-32 at batch 128) leaves most of the chip
idle, so K replicas cost far less than K runs.

A sweep (`config.sweep`) varies one scalar over the replicas instead of the
seed: with `sweep.field` F and `sweep.grid` (v_0, ..., v_K-1), replica k
is the run of `config` with F = v_k and the seed `config.seed`, e.g.

  --config.num_replicas=3 --config.sweep.field=optim.lr \
  --config.sweep.grid=0.05,0.1,0.2

(the field is `grid`: a ConfigDict's `values` is its method). The value is
data of the one compiled step, a vmapped argument (`sweep_inputs`), not K
step functions: optim.lr as the factor v_k / v_0 on the updates of the
first replica's optimizer (every optimizer of `make_optimizer` is linear in
the learning rate), loss.tau as the traced tau of the objective
(`Objective.at_tau`; the logit-adjusted and the logit-adjusted
pairwise-margin losses). Replica k's config (replica_<k>/config.json, what
`load_model` and `predict` read) holds F = v_k, no sweep and one replica;
the campaign's store line of replica k carries F = v_k among its overrides.

Workdir: the stacked checkpoint (`checkpoints/`, what a resume restores),
config.json with `num_replicas` (and the `sweep`), and the mean of the
replicas' metrics at each evaluation in history.jsonl; each replica's own
run in `replica_<k>/`: its config (seed + k or the swept value,
`num_replicas` 1), history.jsonl, metrics.json, per-class CSV,
predictions.npz and its final checkpoint, so `load_model`, `predict` and the
results store read a replica as any run.

Replica k equals the single run with seed k (or value v_k) to float
tolerance: the vmapped step batches the replicas' convolutions and
reductions, which XLA may compute in another order, and a max-pool window of
tied values may pass its gradient to another of the tied positions (MNIST's
saturated pixels make such ties); tests/replicas_test.py states the
tolerance. Over a run the trajectories drift apart as with another device
count, so compare replicas with replicas, not with single runs, to the last
digit. Second stages, SMOGN's re-sampling (seeded data), the derandomised
flip (seeded in the step), several processes and the on-device data path are
not supported with replicas (refused at start-up).
"""

import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.train import _checkpoint
from ltjax.train import _driver
from ltjax.train import _parallel
from ltjax.train import _report
from ltjax.train import _workdir


def replica_dir(workdir: str, k: int) -> str:
  return os.path.join(workdir, f"replica_{k}")


def sweep_field(config) -> str:
  """The swept field ("" without a sweep)."""
  return config.get("sweep", {}).get("field", "")


def replica_config(config, k: int):
  """Replica k's own config: seed + k (in a sweep: the seed, and the swept
  field at grid[k]), one replica, host-fed data."""
  field = sweep_field(config)
  out = config.copy_and_resolve_references()
  with out.unlocked():
    out.seed = int(config.seed) + (0 if field else k)
    out.num_replicas = 1
    out.data_on_device = "off"
    if field:
      section, name = field.split(".")
      out[section][name] = float(config.sweep.grid[k])
      out.sweep.field, out.sweep.grid = "", ()
  return out


def sweep_inputs(config) -> dict[str, jax.Array] | None:
  """The sweep's per-replica scalars, the step's `hyper` ([K] each), or None.

  optim.lr: "lr_scale" = grid[k] / grid[0]: replica 0's optimizer is
  built with lr = grid[0] and every optimizer `make_optimizer` builds
  (SGD with momentum, Adam; coupled L2 decay; ACE's per-expert factors) has
  updates linear in the learning rate, so replica k's are replica 0's
  times the ratio (regression scales the model's part only, its loss
  parameters having a constant rate: `Task.scale_updates`). loss.tau:
  "tau" = grid[k], which the objective reads (`Objective.at_tau`).
  """
  field = sweep_field(config)
  if not field:
    return None
  values = np.asarray(config.sweep.grid, np.float64)
  if field == "optim.lr":
    return {"lr_scale": jnp.asarray(values / values[0], jnp.float32)}
  return {"tau": jnp.asarray(values, jnp.float32)}


def saved_config(config, lead_config, count: int) -> dict[str, Any]:
  """The replicas' workdir config.json: the lead replica's, with the
  replica count, the first seed and the sweep as `config` has them (what
  a resume compares with)."""
  saved = lead_config.to_dict() | {"num_replicas": count,
                                   "seed": int(config.seed)}
  field = sweep_field(config)
  if field:
    section, name = field.split(".")
    saved["sweep"] = config.sweep.to_dict()
    saved[section] = saved[section] | {name: config[section][name]}
  return saved


def check_replicas(config) -> None:
  """Refuses what replicas do not support, naming the field."""
  count = int(config.get("num_replicas", 1))
  if count == 1:
    return
  problems = []
  if config.get("stage2", {}).get("name", "none") != "none":
    problems.append("stage2.name (a second stage)")
  if config.get("rrt", {}).get("enabled", False):
    problems.append("rrt.enabled (a second stage)")
  if int(config.get("experts", {}).get("router_epochs", 0)):
    problems.append("experts.router_epochs (a second stage)")
  if config.get("resample", {}).get("name", "none") != "none":
    problems.append("resample.name (seeded re-sampling of the data)")
  if config.get("augment", {}).get("flip_mode", "random") == "alternating":
    problems.append("augment.flip_mode='alternating' (seeded in the step)")
  if config.get("data_on_device", "auto") == "on":
    problems.append("data_on_device='on'")
  if jax.process_count() > 1:
    problems.append("several processes")
  if problems:
    raise ValueError(
        f"config.num_replicas={count}: replicas do not support "
        f"{', '.join(problems)}; run the seeds as separate runs "
        f"(num_replicas=1, --config.seed=K).")


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _take(tree, k: int):
  return jax.tree.map(lambda x: x[k], tree)


def _mean_record(records):
  """The replicas' mean of every numeric metric of each split."""
  out = {k: v for k, v in records[0].items() if not isinstance(v, dict)}
  for split, summary in records[0].items():
    if not isinstance(summary, dict):
      continue
    out[split] = {}
    for name, value in summary.items():
      values = [r[split].get(name) for r in records]
      if all(isinstance(x, (int, float)) for x in values):
        out[split][name] = float(np.mean(values))
  return out


def train_replicas(runs, workdir: str, digests: dict[str, Any],
                   engine, *, config=None) -> list[dict[str, Any]]:
  """Trains the replica runs `runs` (one per seed) as one vmapped program.

  Args:
    runs: `Run`s of `replica_config(config, k)`, k = 0..K-1 (built, not
      compiled).
    workdir: the held workdir.
    digests: the data's split digests.
    engine: the `_engine` module (its evaluation and report helpers).
    config: the config the replicas were made from (its `sweep`); None:
      the first replica's (no sweep).

  Returns:
    Each replica's metrics.json content.
  """
  lead = runs[0]
  root = lead.config if config is None else config
  config, mesh = lead.config, lead.mesh
  count = len(runs)
  replicated = _parallel.replicated(mesh)
  stacked_batch = jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec(None, "data"))
  hyper = sweep_inputs(root)
  if hyper is None:
    step = jax.jit(jax.vmap(lead.step_fn), in_shardings=(replicated,
                                                        stacked_batch),
                   out_shardings=(replicated, replicated), donate_argnums=0)
  else:  # the swept values: a vmapped argument of the one compiled step
    swept = jax.jit(jax.vmap(lead.step_fn),
                    in_shardings=(replicated, stacked_batch, replicated),
                    out_shardings=(replicated, replicated),
                    donate_argnums=0)
    hyper = jax.device_put(hyper, replicated)
    step = lambda state, batch: swept(state, batch, hyper)
  evaluate_step = jax.jit(jax.vmap(lead.eval_fn, in_axes=(0, None)),
                          out_shardings=replicated)
  logging.info("%s; %d replicas (seeds %d..%d%s) of %d steps in one "
               "program on %d devices.", lead.task.describe(lead), count,
               int(runs[0].config.seed), int(runs[-1].config.seed),
               f"; {sweep_field(root)} = {tuple(root.sweep.grid)}"
               if hyper is not None else "",
               lead.total_steps, mesh.devices.size)
  states = _stack([run.init_state() for run in runs])
  init_kernels = [engine.host_kernel(run.task, _take(states, k))
                  for k, run in enumerate(runs)]
  checkpointer, state = _driver.resume(workdir, config, states)
  first_step = int(np.asarray(state.step)[0])
  history = _report.resume_history(workdir, first_step)
  histories = []
  for k, run in enumerate(runs):
    folder = replica_dir(workdir, k)
    os.makedirs(folder, exist_ok=True)
    histories.append(_report.resume_history(folder, first_step))
    _report.write_config(folder, run.config.to_dict())
    _report.write_json(os.path.join(folder, _workdir.DATA_FILE), digests)
    _report.write_json(os.path.join(folder, engine.INFERENCE_FILE),
                       run.task.inference_fields())

  def plan(epoch):
    return [engine.epoch_plans(run.task, epoch) for run in runs]

  def batch(step_index, plans):
    batches = [engine.train_batch(run, step_index, p)
               for run, p in zip(runs, plans)]
    return jax.device_put(_stack(batches), stacked_batch)

  def evaluate(stacked, step_index):
    records = []
    totals = {}
    for name in ("val", "test"):
      split = getattr(lead.dataset, name, None)
      if split is None or not len(split):
        continue
      total = None
      for i, b in enumerate(engine.eval_batches(lead, split)):
        value = evaluate_step(stacked, b)
        total = value if total is None else engine.merge(total, value)
        _driver.keep_up(i, total)
      totals[name] = jax.device_get(total)
    for k, run in enumerate(runs):
      record = {"epoch": step_index / lead.steps_per_epoch,
                "step": step_index, **run.task.record_fields()}
      for name, total in totals.items():
        for suffix, summary in run.task.summaries(_take(total, k)).items():
          record[name + suffix] = summary
      _report.append_history(replica_dir(workdir, k), record)
      histories[k].append(record)
      records.append(record)
    return _mean_record(records)

  _report.write_config(workdir, saved_config(root, config, count))
  _report.write_json(os.path.join(workdir, _workdir.DATA_FILE), digests)
  writer = _report.MetricWriter(os.path.join(workdir, "tb"))
  vrun = _replace(lead, train_step=step, train_chunk=None)
  try:
    state, compile_seconds, train_seconds = _driver.run_schedule(
        vrun, state, first_step=first_step, last_step=lead.total_steps,
        config=config, workdir=workdir, writer=writer,
        checkpointer=checkpointer, history=history,
        hooks=_driver.Hooks(plan=plan, batch=batch, evaluate=evaluate))
    last = int(np.asarray(state.step)[0])
    if not history or history[-1]["step"] != last:
      history.append(evaluate(state, last))
    checkpointer.maybe_save(last, state, force=True)
    checkpointer.close()
    checkpointer = None
  finally:
    if checkpointer is not None:
      checkpointer.close()
    writer.close()
  results = []
  for k, run in enumerate(runs):
    folder, state_k = replica_dir(workdir, k), _take(state, k)
    own = _checkpoint.Checkpointer(os.path.join(folder, "checkpoints"),
                                   every_steps=1, keep=1)
    own.maybe_save(last, state_k, force=True)
    own.close()
    if run.task.writes_predictions():
      outputs = engine.predict_split(run, state_k, run.dataset.test)
      engine.write_predictions(folder, run.task.predict_arrays(outputs))
    head_cosine = engine.head_cosine(run.task, state_k, init_kernels[k])
    results.append(engine.final_report(run, histories[k], folder, {
        "total_steps": run.total_steps,
        "steps_this_run": last - first_step,
        "train_seconds_this_run": train_seconds,
        "first_step_seconds": compile_seconds,
        "devices": int(mesh.devices.size),
        "device_kind": mesh.devices.flat[0].device_kind,
        "platform": mesh.devices.flat[0].platform,
        "processes": jax.process_count(),
        "replica": k, "replicas": count,
        **({} if head_cosine is None else
           {"head_cosine_to_init": head_cosine}),
    }))
  return results


def _replace(run, **fields):
  import dataclasses  # pylint: disable=g-import-not-at-top
  return dataclasses.replace(run, **fields)
