r"""Times one FDS statistics update: ltjax's segment sums vs a per-label loop.

  python -m benchmarks.fds_update --bins=100 --dim=512 \
      --batch=256,1024,12208 --repeats=7

The baseline is the reference code's approach (Yang et al. 2021,
`FDS.update_running_stats`) written here in NumPy: loop over the labels
present, masked mean and unbiased variance of that label's rows, EMA, and
in-place writes into the running buffers. ltjax: the jitted `update_fds` (one
program of segment sums; compiled before timing). A second baseline is the
same loop in eager JAX (`.at[].set`), a straight port, and with PyTorch
installed (the `bench` extra) the loop in PyTorch itself. Each round times every
implementation (medians of `--inner` calls, after warm-up) in alternating
order; the reported figure is the median over rounds. Both give the same
statistics (checked before timing).
"""

import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from ltjax import regression

_BINS = flags.DEFINE_integer("bins", 100, "Label bins K.")
_DIM = flags.DEFINE_integer("dim", 512, "Feature dimension D.")
_BATCH = flags.DEFINE_list("batch", ["256"], "Batch sizes B (12,208 = one "
                           "AgeDB-DIR epoch, the paper's per-epoch update).")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Alternating rounds.")
_INNER = flags.DEFINE_integer("inner", 20, "Calls per round (median).")


def loop_update_numpy(mean, var, seen, features, labels, momentum):
  """The reference's per-label loop, in place (NumPy)."""
  for label in np.unique(labels):
    rows = features[labels == label]
    n = rows.shape[0]
    cur_mean = rows.mean(0)
    cur_var = rows.var(0, ddof=1) if n > 1 else rows.var(0)
    factor = momentum if seen[label] else 0.0
    mean[label] = (1 - factor) * cur_mean + factor * mean[label]
    var[label] = (1 - factor) * cur_var + factor * var[label]
    seen[label] = True


def loop_update_jax(mean, var, seen, features, labels, momentum):
  """The same loop in eager JAX (a straight port)."""
  for label in np.unique(np.asarray(labels)):
    rows = features[labels == label]
    n = rows.shape[0]
    cur_mean = rows.mean(0)
    cur_var = rows.var(0, ddof=1) if n > 1 else rows.var(0)
    factor = momentum if seen[label] else 0.0
    mean = mean.at[label].set((1 - factor) * cur_mean + factor * mean[label])
    var = var.at[label].set((1 - factor) * cur_var + factor * var[label])
    seen[label] = True
  return mean, var


def loop_update_torch(mean, var, seen, features, labels, momentum):
  """The reference's own loop in PyTorch: masked rows, in-place row writes."""
  import torch  # pylint: disable=g-import-not-at-top
  for label in torch.unique(labels).tolist():
    rows = features[labels == label]
    n = rows.shape[0]
    cur_mean = rows.mean(0)
    cur_var = rows.var(0, unbiased=n > 1)
    factor = momentum if seen[label] else 0.0
    mean[label] = (1 - factor) * cur_mean + factor * mean[label]
    var[label] = (1 - factor) * cur_var + factor * var[label]
    seen[label] = True


def _median_seconds(fn, inner):
  times = []
  for _ in range(inner):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def bench(k: int, d: int, b: int) -> list[tuple[str, list[float]]]:
  """Times the three implementations on one problem; returns the rounds."""
  rng = np.random.default_rng(0)
  features = rng.normal(1.0, 2.0, (b, d)).astype(np.float32)
  # A long-tailed label distribution over the K bins.
  probs = np.exp(-np.arange(k) / (k / 5))
  labels = rng.choice(k, b, p=probs / probs.sum()).astype(np.int32)
  print(f"K={k} D={d} B={b}: {len(np.unique(labels))} distinct bins")

  state = regression.update_fds(regression.init_fds(k, d), features, labels)
  update = jax.jit(lambda s, f, l: regression.update_fds(s, f, l,
                                                          momentum=0.9))
  f_dev, l_dev = jnp.asarray(features), jnp.asarray(labels)
  expected = jax.block_until_ready(update(state, f_dev, l_dev))  # compile

  np_mean = np.asarray(state.mean).copy()
  np_var = np.asarray(state.var).copy()
  np_seen = np.asarray(state.num_updates) > 0
  # All three give the same statistics (one update from the same state).
  m, v, s = np_mean.copy(), np_var.copy(), np_seen.copy()
  loop_update_numpy(m, v, s, features, labels, 0.9)
  np.testing.assert_allclose(expected.mean, m, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(expected.var, v, rtol=1e-4, atol=1e-4)
  jm, jv = loop_update_jax(jnp.asarray(np_mean), jnp.asarray(np_var),
                           np_seen.copy(), f_dev, l_dev, 0.9)
  np.testing.assert_allclose(jm, m, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(jv, v, rtol=1e-4, atol=1e-4)

  runs = {
      "ltjax update_fds (jit, segment sums)":
          lambda: jax.block_until_ready(update(state, f_dev, l_dev)),
      "per-label loop, NumPy, in place":
          lambda: loop_update_numpy(np_mean.copy(), np_var.copy(),
                                    np_seen.copy(), features, labels, 0.9),
      "per-label loop, eager JAX":
          lambda: jax.block_until_ready(loop_update_jax(
              jnp.asarray(np_mean), jnp.asarray(np_var), np_seen.copy(),
              f_dev, l_dev, 0.9)),
  }
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    torch = None
  if torch is not None:  # the `bench` extra
    t_feat, t_lab = torch.from_numpy(features), torch.from_numpy(
        labels.astype(np.int64))
    tm, tv = torch.from_numpy(np_mean.copy()), torch.from_numpy(np_var.copy())
    loop_update_torch(tm, tv, np_seen.copy(), t_feat, t_lab, 0.9)
    np.testing.assert_allclose(tm.numpy(), m, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tv.numpy(), v, rtol=1e-4, atol=1e-4)
    runs["per-label loop, PyTorch (the reference's), in place"] = (
        lambda: loop_update_torch(
            torch.from_numpy(np_mean.copy()), torch.from_numpy(np_var.copy()),
            np_seen.copy(), t_feat, t_lab, 0.9))
  for fn in runs.values():  # warm-up
    fn()
  names = list(runs)
  results = {name: [] for name in names}
  for r in range(_REPEATS.value):
    for name in (names if r % 2 == 0 else names[::-1]):
      inner = _INNER.value if "eager" not in name else max(
          3, _INNER.value // 5)
      results[name].append(_median_seconds(runs[name], inner))
  return [(name, results[name]) for name in names]


def main(argv):
  del argv
  print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, "
        f"{jax.device_count()} device(s)")
  rows = []
  for b in (int(x) for x in _BATCH.value):
    rows.append((b, bench(_BINS.value, _DIM.value, b)))
  print("\n| B | implementation | median ms | rounds (ms) | time / ltjax |")
  print("|---|---|---|---|---|")
  for b, results in rows:
    base = statistics.median(results[0][1])
    for name, rounds in results:
      med = statistics.median(rounds)
      text = ", ".join(f"{x * 1e3:.2f}" for x in rounds)
      print(f"| {b} | {name} | {med * 1e3:.3f} | {text} | "
            f"{med / base:.1f}x |")


if __name__ == "__main__":
  app.run(main)
