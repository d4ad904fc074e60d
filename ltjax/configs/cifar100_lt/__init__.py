"""CIFAR-100-LT: the CIFAR-10-LT recipe (`experiments/configs/cifar10_lt`).

The same model, schedule and `:EPOCHS` argument on CIFAR-100-LT (exponential
profile, rho = 100); the numbers in the config docstrings are top-1 accuracy
on the balanced CIFAR-100 test set.
"""
