"""benchmarks/gpu_session.sh runs end to end at toy size on the CPU.

The script is what the first session lent a GPU runs (9 minutes of device
time, no second try), so every part is exercised here first: the feed
benchmark, the ltjax / PyTorch step throughput (PyTorch's rows when torch
is importable, else the "torch not installed" note), the fast recipe's
time-to-target ladder, the two 3-replica campaign runs side by side, the
resume archive, the store lines and the summary, in the files and the
layout the device tool brings back.

Duration: one toy session is six Python processes that each compile a
ResNet-32 step (two of them vmapped over 3 replicas), about 2-3 minutes on
the 2-core CI machine, more when it is loaded; the ~90 s aim is out of
reach without shrinking the model, which would no longer run the recipes
the script measures. It is one test, run once.
"""

import importlib.util
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

from absl.testing import absltest

from benchmarks import gpu_prepare

ROOT = pathlib.Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec("torch") is not None


class GpuSessionTest(absltest.TestCase):

  def test_toy_session_end_to_end(self):
    tmp = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
    data = os.path.join(tmp, "data")
    gpu_prepare.write_toy_cifar10(data, per_class=100, test_per_class=4)
    out, work = os.path.join(tmp, "out"), os.path.join(tmp, "work")
    env = dict(os.environ, JAX_PLATFORMS="cpu", OUT=out,
               LTJAX_GPU_WORK=work, LTJAX_GPU_DATA=data,
               LTJAX_GPU_WHEELS=os.path.join(tmp, "no_wheels"),
               LTJAX_GPU_RESUME=os.path.join(tmp, "no_resume"),
               PYTHON=sys.executable,
               # One CPU device, fast compiles (conftest's 8 devices would
               # split the toy batches 8 ways).
               XLA_FLAGS="--xla_backend_optimization_level=0")
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_session.sh"), "--toy"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=1200,
        check=False)
    self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    # Every part ran to the end within its budget.
    with open(os.path.join(work, "parts.tsv")) as f:
      parts = [line.rstrip("\n").split("\t") for line in f]
    self.assertEqual([p[0] for p in parts],
                     ["a_feed", "b_step", "d_tta", "c_campaign"])
    logs = {name: pathlib.Path(out, "logs", f"{name}.log").read_text()
            for name, *_ in parts}
    for name, _, _, code, note in parts:
      self.assertEqual((code, note), ("0", "ok"), f"{name}: {logs[name]}")

    # What comes back: <= 8 files, <= 16 MiB, two folders deep, plain names.
    files = [p for p in pathlib.Path(out).rglob("*") if p.is_file()]
    self.assertLessEqual(len(files), 8, files)
    for path in files:
      rel = path.relative_to(out)
      self.assertLessEqual(len(rel.parts), 3, rel)
      self.assertTrue(all(re.fullmatch(r"[A-Za-z0-9._-]+", part)
                          for part in rel.parts), rel)
      self.assertLessEqual(path.stat().st_size, 16 << 20, rel)

    # (a) the feed: the host path and the device path, images/s.
    with open(os.path.join(work, "feed.json")) as f:
      feed = json.load(f)
    self.assertIn("host", feed)
    self.assertIn("device_1", feed)
    for row in feed.values():
      self.assertGreater(row["images_per_s"], 0)

    # (b) the step: ltjax, and PyTorch or the note that it is missing.
    with open(os.path.join(work, "step.json")) as f:
      step = json.load(f)["step"]
    self.assertGreater(step["ltjax_float32"]["images_per_s"], 0)
    summary = pathlib.Path(out, "summary.md").read_text()
    if HAS_TORCH:
      for row in ("torch", "torch_f32_channels_last", "torch_amp",
                  "torch_amp_channels_last"):
        self.assertGreater(step[row]["images_per_s"], 0, row)
        self.assertIn(f"| {row} |", summary)
    else:
      self.assertNotIn("torch", step)
      self.assertIn("torch not installed", logs["b_step"])
      self.assertIn("torch not installed", summary)

    # (d) the time-to-target ladder: a timeline stamped in seconds.
    with open(os.path.join(work, "tta.json")) as f:
      tta = json.load(f)
    (run,) = tta["runs"]
    self.assertTrue(run["finished"])
    self.assertNotEmpty(run["timeline"])
    self.assertGreater(run["timeline"][0]["seconds"], 0)
    self.assertEqual(tta["time_to_target"],
                     {"length": 1, "seconds": run["timeline"][0]["seconds"]})
    self.assertIn("Time to target: **", summary)

    # (c) and (d): one store line per finished run, one per replica.
    with open(os.path.join(out, "gpu.jsonl")) as f:
      lines = [json.loads(line) for line in f]
    self.assertTrue(all(line["kind"] == "run" for line in lines), lines)
    got = sorted((l["method"], l["seed"], l["overrides"].get("num_replicas"))
                 for l in lines)
    self.assertEqual(got, [("fast", 0, None),
                           ("ldam_drw", 0, 3), ("ldam_drw", 1, 3),
                           ("ldam_drw", 2, 3),
                           ("logit_adjusted", 0, 3), ("logit_adjusted", 1, 3),
                           ("logit_adjusted", 2, 3)])
    for method in ("ldam_drw", "logit_adjusted"):
      self.assertIn(f"cifar10_lt/{method}:1 seed=2", summary)

    # The resume archive: parts that concatenate to the runs' workdirs.
    archive = b"".join(
        p.read_bytes() for p in sorted(pathlib.Path(out, "resume").glob(
            "workdirs.tar.gz.part-*")))
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
      names = tar.getnames()
    for method in ("ldam_drw", "logit_adjusted"):
      self.assertTrue(any(re.search(
          rf"^gpu/cifar10_lt/{method}_e1_s0_.*num_replicas=3/history\.jsonl$",
          n) for n in names), names)
    self.assertIn("Workdirs archived for resuming", summary)


if __name__ == "__main__":
  absltest.main()
