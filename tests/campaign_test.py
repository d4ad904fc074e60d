"""The results store, its tables, the sanity rules and the campaign runner.

The runner's end-to-end test trains tiny MNIST-LT runs in child processes:
killed with SIGKILL mid-run and started again, it writes the same store
line as an uninterrupted campaign.
"""

import json
import os
import signal
import subprocess
import sys
import time

from absl.testing import absltest

from benchmarks import campaign
from benchmarks import sanity
from benchmarks import store
from benchmarks import table
import testdata

ROOT = testdata.ROOT


def _line(method, seed=0, *, kind="run", balanced=0.9, groups=None,
          commit="abc", epochs=None, overrides=None, dataset="mnist_lt",
          cosine=None, **extra):
  groups = groups or {"many": balanced, "medium": balanced, "few": None}
  line = {"kind": kind, "dataset": dataset, "method": method,
          "epochs": epochs, "seed": seed, "overrides": overrides or {},
          "key": store.run_key(dataset, method, epochs, seed, overrides),
          "commit": commit, "wall_seconds": 10.0, "steps_per_second": 2.0,
          "device": {"kind": "cpu", "count": 1},
          "final": {"test": {"top1": balanced, "balanced": balanced,
                             "ece": 0.05, **groups}},
          "best_val": {"epoch": 3, "test": {"top1": balanced,
                                            "balanced": balanced}}}
  if cosine is not None:
    line["head_cosine_to_init"] = cosine
  line.update(extra)
  return line


class PlanTest(absltest.TestCase):

  def test_entries_and_keys(self):
    entries = campaign.parse_plan(
        "# comment\n"
        "cifar10_lt/ldam_drw:30 1\n"
        "mnist_lt/vs 0 loss.vs_gamma=0.1 optim.decay_epochs=(8,9)  # x\n")
    self.assertLen(entries, 2)
    self.assertEqual(entries[0].key, "cifar10_lt/ldam_drw:30 seed=1")
    self.assertEqual(entries[1].overrides,
                     (("loss.vs_gamma", 0.1), ("optim.decay_epochs", (8, 9))))
    self.assertEqual(entries[1].key, "mnist_lt/vs seed=0 loss.vs_gamma=0.1 "
                     "optim.decay_epochs=[8,9]")
    entry, = campaign.parse_plan("mnist_lt/ce:2 0 --host_devices=2 "
                                 "loss.tau=1.5")
    self.assertEqual(entry.key, "mnist_lt/ce:2 seed=0 --host_devices=2 "
                     "loss.tau=1.5")
    command = campaign.command(entry, "/runs", [], campaign.Options(
        data_root="/data"))
    self.assertIn("--host_devices=2", command)
    self.assertIn("--config.loss.tau=1.5", command)
    self.assertIn("--config.data.path=/data/mnist", command)

  def test_errors_name_the_line(self):
    for text, message in (("mnist_lt/cee 0", "plan:1: unknown method"),
                          ("mnist_lt/ce", "plan:1: expected"),
                          ("mnist_lt/ce:0 0", "positive integer"),
                          ("mnist_lt/ce x", "seed"),
                          ("mnist_lt/ce 0 loss.tau", "field=value"),
                          ("mnist_lt/ce 0 --overwrite=1", "flags a plan"),
                          ("mnist_lt/ce 0\nmnist_lt/ce 0", "plan:2: .*twice"),
                          ("mnist_lt/ce 0 num_replicas=3\n"
                           "mnist_lt/ce 2 num_replicas=3",
                           "plan:2: .*seed=2.*twice .replica seeds overlap"),
                          ("mnist_lt/ce 0 num_replicas=0", "num_replicas")):
      with self.assertRaisesRegex(ValueError, message):
        campaign.parse_plan(text)

  def test_status_counts_and_eta(self):
    entries = campaign.parse_plan("mnist_lt/ce 0\nmnist_lt/ce 1\n"
                                  "mnist_lt/ldam 0\nmnist_lt/focal 0\n")
    lines = [_line("ce"), _line("ldam", kind="failure")]
    report = campaign.status_lines(entries, lines, "/nonexistent", "x")
    self.assertEqual(report[:4], ["done     mnist_lt/ce seed=0",
                                  "left     mnist_lt/ce seed=1",
                                  "failed   mnist_lt/ldam seed=0",
                                  "left     mnist_lt/focal seed=0"])
    # ce seed 1 is estimated from ce seed 0's 10 s; focal from the other
    # runs of the same length (median 10 s).
    self.assertEqual(report[-1], "1 done, 1 failed, 0 running, 2 left; "
                     "ETA 0.0 h.")
    self.assertEqual(campaign.estimate_seconds(entries[3], lines), 10.0)


class StoreTest(absltest.TestCase):

  def test_append_once_per_key_and_commit(self):
    path = os.path.join(testdata.make_tempdir(self), "s.jsonl")
    self.assertTrue(store.append(path, _line("ce")))
    self.assertFalse(store.append(path, _line("ce")))
    self.assertTrue(store.append(path, _line("ce", commit="def")))
    lines = store.read(path)
    self.assertEqual([l["commit"] for l in lines], ["abc", "def"])

  def test_scalars_keep_numbers_only(self):
    record = {"epoch": 2.0, "step": 10, "test": {"top1": 0.5, "per_class":
                                                 [0.1], "few": None},
              "val": {"top1": 0.4}}
    self.assertEqual(store.scalars(record),
                     {"epoch": 2.0, "step": 10,
                      "test": {"top1": 0.5, "few": None},
                      "val": {"top1": 0.4}})

  def test_changed_fields_against_the_recipe(self):
    from ltjax import recipes  # pylint: disable=g-import-not-at-top
    config = recipes.build("mnist_lt", "ce", "2").to_dict()
    config["seed"] = 3
    config["loss"]["tau"] = 2.0
    self.assertEqual(store.changed_fields(config, "mnist_lt", "ce", 2),
                     {"loss.tau": 2.0, "seed": 3})


class TableTest(absltest.TestCase):

  def test_mean_std_n_and_published(self):
    lines = [_line("ldam_drw", 0, balanced=0.70, dataset="cifar10_lt",
                   epochs=30),
             _line("ldam_drw", 1, balanced=0.72, dataset="cifar10_lt",
                   epochs=30, commit="def"),
             _line("ce", 0, kind="failure", dataset="cifar10_lt", epochs=30,
                   error="Traceback\nDivergenceError: diverged")]
    text = table.render(lines)
    row = [l for l in text.splitlines() if "ldam_drw" in l][0]
    self.assertIn("ldam_drw:30 †", row)
    self.assertIn("| 2 | 71.00 ± 1.41 |", row)
    self.assertIn("77.03", row)  # the config file's published top-1
    self.assertIn("cifar10_lt/ce:30 seed=0 (abc): DivergenceError", text)

  def test_filter_and_section_update(self):
    conditions = table.parse_filter("dataset=cifar10_lt,epochs=30")
    self.assertTrue(table.matches(_line("ce", dataset="cifar10_lt",
                                        epochs=30), conditions))
    self.assertFalse(table.matches(_line("ce", epochs=30), conditions))
    path = os.path.join(testdata.make_tempdir(self), "R.md")
    with open(path, "w") as f:
      f.write("# Results\n\nkept\n")
    table.update_section(path, "x", "| a |", "python -m benchmarks.table")
    table.update_section(path, "x", "| b |", "python -m benchmarks.table")
    text = open(path).read()
    self.assertIn("kept", text)
    self.assertIn("| b |", text)
    self.assertNotIn("| a |", text)
    self.assertEqual(text.count("<!-- generated: x -->"), 1)


class SanityRulesTest(absltest.TestCase):

  def test_rules(self):
    ce = _line("ce", balanced=0.90, groups={"many": 0.96, "medium": 0.68,
                                            "few": None})
    good = _line("logit_adjusted", balanced=0.955,
                 groups={"many": 0.96, "medium": 0.93, "few": None},
                 cosine=0.3)
    worse = _line("focal", balanced=0.885)
    collapsed = _line("glmc", balanced=0.91, groups={
        "many": 0.33, "medium": 0.89, "few": None}, cosine=0.97)
    other_seed = _line("vs", seed=1, balanced=0.1)
    verdicts = {j[1]: (j[4], j[3]) for j in sanity.judge(
        [ce, good, worse, collapsed, other_seed], seed=0)}
    self.assertEqual(verdicts["logit_adjusted"], ("pass", []))
    self.assertEqual(verdicts["ce"], ("pass", []))
    self.assertEqual(verdicts["focal"][0], "FAIL")
    self.assertIn("C1", verdicts["focal"][1][0])
    state, failed = verdicts["glmc"]
    self.assertEqual(state, "FAIL")
    self.assertEqual([f[:2] for f in failed], ["C2", "C3"])
    self.assertNotIn("vs", verdicts)

  def test_regression_rules(self):
    def reg(method, mae, many):
      line = _line(method, dataset="abalone_dir")
      line["best_val"] = {"test": {"mae_all": mae, "mae_many": many,
                                   "mae_medium": 2.0, "mae_few": 4.0,
                                   "gm_all": 1.0}}
      return line
    judged = {j[1]: j for j in sanity.judge(
        [reg("vanilla", 2.0, 1.0), reg("lds", 2.05, 1.4),
         reg("fds", 2.2, 1.0), reg("bmse", 2.0, 1.6)], seed=0)}
    self.assertEqual(judged["lds"][4], "pass")
    self.assertIn("R1", judged["fds"][3][0])
    self.assertIn("R2 many", judged["bmse"][3][0])


class RunnerTest(testdata.TinyBenchmarksTestCase):
  """The runner end to end on tiny MNIST-LT runs (child processes).

  Slow (about a minute: three runs in child processes, each compiling its
  step) because it must show that a SIGKILL of the runner mid-run and a
  restart give the uninterrupted campaign's store line.
  """

  def _runner(self, root, plan, *extra):
    env = testdata.subprocess_env()
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.campaign", f"--plan={plan}",
         f"--store={os.path.join(root, 'store.jsonl')}",
         f"--workdir_root={root}", f"--data=mnist_lt={self.paths['mnist_lt']}",
         "--checkpoint_minutes=0", "--nice=0", *extra],
        cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)

  def test_sigkill_and_restart_give_the_same_line(self):
    tmp = testdata.make_tempdir(self)
    plan = os.path.join(tmp, "toy.txt")
    with open(plan, "w") as f:
      f.write("mnist_lt/ce:3 0 data.imbalance_ratio=4.0 "
              "data.val_per_class=2 batch_size=16 eval_batch_size=16 "
              "log_every_steps=1\n")
    straight, killed = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    out, _ = self._runner(straight, plan).communicate(timeout=600)
    self.assertIn("1 done", out)
    proc = self._runner(killed, plan)
    checkpoints = os.path.join(killed, "store", "mnist_lt", "ce_e3_s0"
                               "_batch_size=16_data.imbalance_ratio=4.0_"
                               "data.val_per_class=2_eval_batch_size=16_"
                               "log_every_steps=1", "checkpoints")
    deadline = time.time() + 300
    while time.time() < deadline and not (
        os.path.isdir(checkpoints)
        and [d for d in os.listdir(checkpoints) if d.isdigit()]):
      time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the child checkpoints and stops
    proc.communicate(timeout=60)
    self.assertEqual(store.read(os.path.join(killed, "store.jsonl")), [])
    out, _ = self._runner(killed, plan).communicate(timeout=600)
    self.assertIn("1 done", out)
    a, = store.read(os.path.join(straight, "store.jsonl"))
    b, = store.read(os.path.join(killed, "store.jsonl"))
    for key in ("key", "final", "best_val", "changed", "commit"):
      if key == "changed":  # the workdirs' paths differ, nothing else
        a[key].pop("data.path", None), b[key].pop("data.path", None)
      self.assertEqual(a[key], b[key], key)
    log = open(os.path.join(os.path.dirname(checkpoints),
                            "campaign.log")).read()
    self.assertIn("Resumed from the checkpoint", log)
    # A second start writes nothing more.
    self._runner(killed, plan).communicate(timeout=120)
    self.assertLen(store.read(os.path.join(killed, "store.jsonl")), 1)
    status, _ = self._runner(killed, plan, "--status").communicate(
        timeout=120)
    self.assertIn("1 done, 0 failed, 0 running, 0 left", status)

  def test_no_time_left_starts_nothing(self):
    tmp = testdata.make_tempdir(self)
    plan = os.path.join(tmp, "toy.txt")
    with open(plan, "w") as f:
      f.write("mnist_lt/ce:1 0\n")
    soon = time.strftime("%H:%M", time.localtime(time.time() + 120))
    out, _ = self._runner(tmp, plan, f"--stop-before={soon}",
                          "--stop_margin_minutes=10").communicate(timeout=120)
    self.assertIn("no time left to start mnist_lt/ce:1 seed=0", out)
    self.assertIn("1 left", out)
    self.assertFalse(os.path.exists(os.path.join(tmp, "store")))


if __name__ == "__main__":
  absltest.main()
