r"""Train-step speed of ltjax against PyTorch, and the cost of the LT machinery.

  pip install -e '.[bench]'   # PyTorch (CPU wheel) for the baseline
  python -m benchmarks.step_speed --sections=step,losses,fds,pipeline,epoch \
      --data_path=../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz

Everything is measured in this one process with alternating repetitions;
each figure is the median over `--rounds` rounds of `--steps` steps (after a
compiled warm-up), reported as images/s and as a ratio to a baseline from the
same rounds:
  step      ltjax ResNet-32 train step (CE, SGD 0.1 / 0.9 / 2e-4, on-device
            crop + flip, batch 128; one row per --step_dtypes) vs the
            PyTorch ResNet-32 of benchmarks/torch_resnet32.py (eager; rows
            per --torch_variants: NCHW, channels_last, bf16 autocast "amp");
  losses    the ltjax step with each long-tail loss, as a ratio to CE;
  fds       a ResNet-32 regression step with FDS vs the same step without;
  pipeline  host gather of uint8 batches + on-device augmentation;
  epoch     one epoch of CIFAR-10-LT rho=100 (12,406 images) end to end with
            its evaluation, in a subprocess: wall time, first-step
            (compilation) time, peak RSS.
Like experiments.main, it runs on one CPU device (`ltjax.runtime`); an
explicit --xla_force_host_platform_device_count in XLA_FLAGS overrides that
(benchmarks/host_devices.py compares device counts).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from ltjax import runtime

runtime.configure_host_devices()  # the default of experiments.main

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np

from benchmarks import synthetic_batches
from experiments.configs import common
from ltjax import regression
from ltjax import train
# pylint: enable=g-import-not-at-top,wrong-import-position

_SECTIONS = flags.DEFINE_list("sections", ["step", "losses"],
                              "step, losses, fds, pipeline, epoch")
_DATA_PATH = flags.DEFINE_string("data_path", "", "CIFAR-10 copy (epoch).")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Global batch size.")
_STEPS = flags.DEFINE_integer("steps", 10, "Steps per round.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating rounds.")
_LOSSES = flags.DEFINE_list(
    "losses", ["ce", "ldam_drw", "logit_adjusted", "balanced_softmax",
               "focal"], "Configs of experiments/configs/cifar10_lt.")
_CONV = flags.DEFINE_string("conv", "", "model.conv override for ltjax.")
_DTYPE = flags.DEFINE_string("dtype", "float32", "ltjax compute dtype.")
_TORCH = flags.DEFINE_bool("torch", True, "Include the PyTorch baselines.")
_STEP_DTYPES = flags.DEFINE_list(
    "step_dtypes", [], "step: the ltjax compute dtypes to time, each its own "
    "row ltjax_<dtype> (default: --dtype alone, row ltjax).")
_TORCH_VARIANTS = flags.DEFINE_list(
    "torch_variants", ["f32", "f32_channels_last"],
    "step: the PyTorch baselines (TORCH_VARIANTS), each a row torch_<name> "
    "(f32 is the row torch, the baseline of the ratios).")
_OUT = flags.DEFINE_string("out", "", "Also write the results as JSON here.")

# --torch_variants: (channels_last, AMP: bf16 autocast) of each baseline.
TORCH_VARIANTS = {
    "f32": (False, False),
    "f32_channels_last": (True, False),
    "amp": (False, True),
    "amp_channels_last": (True, True),
}


def classification_stepper(method: str, dataset, dtype: str | None = None):
  config = common.build("cifar10_lt", method)
  config.batch_size = _BATCH.value
  config.model.dtype = dtype or _DTYPE.value
  if _CONV.value:
    config.model.conv = _CONV.value
  run = train.build_run(config, dataset)
  return _stepper(run, synthetic_batches.train_batches(
      run, dataset.train, _STEPS.value, _BATCH.value))


def regression_stepper(fds: bool, dataset):
  config = regression.build_config("agedb_dir", "fds" if fds else "vanilla")
  config.model.name = "resnet32"
  config.model.dtype = _DTYPE.value
  config.batch_size = _BATCH.value
  config.augment.padding = 4
  config.bins.low, config.bins.high, config.bins.width = 0.0, 10.0, 1.0
  split = regression.RegressionSplit(
      inputs=dataset.train.images,
      targets=dataset.train.labels.astype(np.float32))
  reg_data = regression.RegressionDataset(
      name="synthetic", train=split, val=split, test=split, metadata={})
  run = regression.build_run(config, reg_data)
  return _stepper(run, synthetic_batches.train_batches(
      run, split, _STEPS.value, _BATCH.value, regression=True))


def _stepper(run, batches):
  """A callable timing `--steps` steps (state carried across calls)."""
  holder = {"state": run.init_state()}
  holder["state"], metrics = run.train_step(holder["state"], batches[0])
  jax.block_until_ready(metrics)  # compiled

  def timed():
    start = time.perf_counter()
    for batch in batches:
      holder["state"], metrics = run.train_step(holder["state"], batch)
    jax.block_until_ready(metrics)
    return _STEPS.value * _BATCH.value / (time.perf_counter() - start)

  return timed


def torch_stepper(channels_last: bool, amp: bool = False):
  import torch  # pylint: disable=g-import-not-at-top
  from benchmarks import torch_resnet32  # pylint: disable=g-import-not-at-top
  step = torch_resnet32.make_step(_BATCH.value, channels_last=channels_last,
                                  amp=amp)
  step()

  def timed():
    start = time.perf_counter()
    for _ in range(_STEPS.value):
      loss = step()
    loss.item()  # waits for the device
    return _STEPS.value * _BATCH.value / (time.perf_counter() - start)

  del torch
  return timed


def _torch_device() -> str:
  import torch  # pylint: disable=g-import-not-at-top
  if torch.cuda.is_available():
    return f"cuda: {torch.cuda.get_device_name()}"
  return "cpu"


def alternate(steppers: dict, baseline: str) -> dict:
  """Runs the steppers in alternation; medians and ratios to `baseline`."""
  runs = {name: [] for name in steppers}
  for _ in range(_ROUNDS.value):
    for name, timed in steppers.items():
      runs[name].append(timed())
  medians = {name: statistics.median(v) for name, v in runs.items()}
  return {name: {"images_per_s": medians[name],
                 "ratio_to_" + baseline: medians[name] / medians[baseline],
                 "rounds": [round(v, 1) for v in runs[name]]}
          for name in steppers}


def section_pipeline(dataset):
  config = common.build("cifar10_lt", "ce")
  config.batch_size = _BATCH.value
  run = train.build_run(config, dataset)
  augment = jax.jit(run.preprocess)
  key = jax.random.PRNGKey(0)

  def batch(step):
    return synthetic_batches.train_batch(run, dataset.train, step,
                                         _BATCH.value)["image"]

  augment(batch(0), key)

  def pipeline():
    start = time.perf_counter()
    for step in range(_STEPS.value * 4):
      out = augment(batch(step), jax.random.fold_in(key, step))
    jax.block_until_ready(out)
    return _STEPS.value * 4 * _BATCH.value / (time.perf_counter() - start)

  return {"pipeline": pipeline,
          "step_ce": classification_stepper("ce", dataset)}


def section_epoch() -> dict:
  """One real epoch in a subprocess: wall, first step, peak RSS."""
  if not _DATA_PATH.value:
    raise app.UsageError("--data_path is needed for the epoch section.")
  workdir = tempfile.mkdtemp()
  command = [sys.executable, "-m", "experiments.main",
             "--config=experiments/configs/cifar10_lt/ce.py:1",
             f"--workdir={workdir}",
             f"--config.data.path={_DATA_PATH.value}",
             f"--config.model.dtype={_DTYPE.value}",
             "--config.log_every_steps=1000"]
  if _CONV.value:
    command.append(f"--config.model.conv={_CONV.value}")
  start = time.perf_counter()
  subprocess.run(command, check=True, capture_output=True)
  wall = time.perf_counter() - start
  with open(os.path.join(workdir, "metrics.json")) as f:
    run = json.load(f)["run"]
  peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
  return {"wall_s_with_startup_and_eval": wall,
          "train_s": run["train_seconds_this_run"],
          "first_step_s": run["first_step_seconds"],
          "peak_rss_mib": peak_kib / 1024}


def main(argv):
  del argv
  dataset = synthetic_batches.cifar_lt()
  results = {"devices": jax.device_count(),
             "device_kind": jax.devices()[0].device_kind,
             "batch_size": _BATCH.value,
             "steps_per_round": _STEPS.value, "rounds": _ROUNDS.value,
             "dtype": _DTYPE.value, "conv": _CONV.value or "default",
             "xla_flags": os.environ.get("XLA_FLAGS", "")}
  sections = _SECTIONS.value
  if "step" in sections:
    if _STEP_DTYPES.value:
      steppers = {f"ltjax_{dtype}": classification_stepper("ce", dataset, dtype)
                  for dtype in _STEP_DTYPES.value}
    else:
      steppers = {"ltjax": classification_stepper("ce", dataset)}
    if _TORCH.value:
      for variant in _TORCH_VARIANTS.value:
        if variant not in TORCH_VARIANTS:
          raise app.UsageError(f"--torch_variants: {variant!r} is not one of "
                               f"{sorted(TORCH_VARIANTS)}.")
        name = "torch" if variant == "f32" else f"torch_{variant}"
        steppers[name] = torch_stepper(*TORCH_VARIANTS[variant])
      results["torch_device"] = _torch_device()
    torch_rows = [name for name in steppers if name.startswith("torch")]
    baseline = ("torch" if "torch" in steppers
                else (torch_rows or list(steppers))[0])
    results["step"] = alternate(steppers, baseline)
  if "losses" in sections:
    results["losses"] = alternate(
        {m: classification_stepper(m, dataset) for m in _LOSSES.value}, "ce")
  if "fds" in sections:
    results["fds"] = alternate(
        {"regression": regression_stepper(False, dataset),
         "regression_fds": regression_stepper(True, dataset)}, "regression")
  if "pipeline" in sections:
    results["pipeline"] = alternate(section_pipeline(dataset), "step_ce")
  if "epoch" in sections:
    results["epoch"] = section_epoch()
  results["peak_rss_mib_this_process"] = (
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
  text = json.dumps(results, indent=2)
  print(text)
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      f.write(text + "\n")


if __name__ == "__main__":
  app.run(main)
