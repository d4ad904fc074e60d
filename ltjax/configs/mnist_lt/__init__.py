"""MNIST-LT: one config per method of `ltjax.recipes.METHODS`.

MNIST-LT (exponential profile, rho = 100), a small CNN, no crop or flip, SGD
0.05 (weight decay 5e-4), batch 128, 10 epochs: warm-up over 1, x0.1 at 8
and x0.01 at 9; deferred re-weighting / re-sampling switch at 8. Minutes on a
CPU: for comparing methods with each other (no published figures).

Append `:EPOCHS` to the config for a shorter run with the whole schedule scaled
(`--config=mnist_lt/ldam_drw:2`: every `*_epoch(s)` field times 2/10). Give a
local copy of the data with `--config.data.path=...` (README, "Data").
"""
