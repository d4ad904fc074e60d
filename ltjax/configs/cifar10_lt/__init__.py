"""CIFAR-10-LT: one config per method of `ltjax.recipes.METHODS`.

CIFAR-10-LT (exponential profile, rho = 100), ResNet-32, SGD 0.1 (momentum
0.9, weight decay 2e-4), batch 128, 200 epochs: linear warm-up over 5, x0.01
at 160 and x0.0001 at 180; deferred re-weighting / re-sampling switch at 160
(the LDAM-DRW recipe, `ltjax.recipes.build("cifar10_lt", <method>)`). Each
file's docstring gives its command and the number it should reproduce: top-1
accuracy on the balanced CIFAR-10 test set (`test_posthoc`: the post-hoc
logit-adjusted accuracy in metrics.json, tau = 1).

Append `:EPOCHS` to the config for a shorter run with the whole schedule scaled
(`--config=cifar10_lt/ldam_drw:30`: every `*_epoch(s)` field times 30/200).
Give a local copy of the data with `--config.data.path=...` (README, "Data").
"""
