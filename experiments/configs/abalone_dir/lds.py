r"""Abalone-DIR, lds: L1 weighted by sqrt-inverse LDS weights (gaussian window,
ks = 5, sigma = 2).

UCI abalone (rings 1..29; val/test balanced, min(30, n//3) per ring), MLP (128,
128), Adam 1e-3, batch 64, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/abalone_dir/lds.py \
      --workdir=/tmp/ltjax/abalone_dir/lds \
      --config.data.path=../shared/data/abalone/abalone.data

No published figure (abalone is not in the paper): compare methods with each
other; see benchmarks/RESULTS.md (2026-11-23) for 3-seed runs.

Append `:EPOCHS` to the config path for a shorter run with the learning-rate
decays scaled (e.g. `lds.py:30`). Data paths come only from `config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("abalone_dir", "lds", arg)
