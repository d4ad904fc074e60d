"""Abalone-DIR: one config per regression method of `ltjax.recipes.METHODS`.

UCI abalone (rings 1..29; val / test balanced, min(30, n // 3) per ring),
bins of one ring over [1, 30], MLP (128, 128), Adam 1e-3 (coupled weight
decay 1e-4), batch 64, 90 epochs, x0.1 at 60 and 80. Seconds on a CPU;
abalone is not in the DIR paper, so there are no published figures: compare
methods with each other (benchmarks/RESULTS.md, 2026-11-23, has 3-seed runs).

Give the UCI `abalone.data` file with `--config.data.path=...`; data paths
come only from `config.data`. Append `:EPOCHS` to the config for a shorter
run with the schedule scaled (`--config=abalone_dir/lds_fds:30`: the
learning-rate decays and `rrt.epochs` times 30/90; FDS's start epochs are
absolute and stay).
"""
