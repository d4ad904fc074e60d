r"""CIFAR-100-LT, balanced_softmax.

  python -m experiments.main --config=cifar100_lt/balanced_softmax \
      --workdir=/tmp/ltjax/cifar100_lt/balanced_softmax

Balanced softmax loss.

No published figure in the tables: compare it with `ce` here.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "balanced_softmax", arg)
