r"""CIFAR-100-LT, sade.

  python -m experiments.main --config=cifar100_lt/sade \
      --workdir=/tmp/ltjax/cifar100_lt/sade

SADE (Zhang et al. 2107.09249): 3 skill-diverse experts (towards the
long-tailed, uniform and inverse label distributions) on a shared backbone.
Evaluated on the mean of the experts' logits; the test-time
self-supervised aggregation and the shifted test sets:
python -m experiments.evaluate_shift --runs=WORKDIR --tta.

Published top-1: SADE 49.8 on CIFAR-100-LT rho=100 (200 epochs),
ImageNet-LT ResNeXt-50 58.8. The paper gives no CIFAR-10-LT number.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "sade", arg)
