r"""CIFAR-100-LT, dive.

  python -m experiments.main --config=cifar100_lt/balanced_softmax \
      --workdir=/tmp/ltjax/cifar100_lt/balanced_softmax
  python -m experiments.main --config=cifar100_lt/dive \
      --workdir=/tmp/ltjax/cifar100_lt/dive \
      --config.teacher.workdir=/tmp/ltjax/cifar100_lt/balanced_softmax

DiVE (He et al. 2103.15042): a balanced-softmax teacher distilled into
the student with the flattened teacher distribution softmax(t / T)^0.5 (T =
2, alpha = 0.5) plus the student's balanced-softmax loss. Train the
balanced_softmax recipe first, then pass --config.teacher.workdir=ITS_WORKDIR.

Published top-1: DiVE 53.1 on ImageNet-LT (ResNeXt-50), RIDE-DiVE 57.12;
its CIFAR-LT rows use its own teacher and schedule (see the paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "dive", arg)
