r"""CIFAR-100-LT, ride_distill.

  python -m experiments.main --config=cifar100_lt/ride_teacher \
      --workdir=/tmp/ltjax/cifar100_lt/ride_teacher
  python -m experiments.main --config=cifar100_lt/ride_distill \
      --workdir=/tmp/ltjax/cifar100_lt/ride_distill \
      --config.teacher.workdir=/tmp/ltjax/cifar100_lt/ride_teacher

RIDE with distillation from a trained 6-expert RIDE teacher (train the
ride_teacher recipe first, then pass --config.teacher.workdir=ITS_WORKDIR).

Published top-1: RIDE (3 experts) 48.6 on CIFAR-100-LT rho=100 (200
epochs); ImageNet-LT ResNeXt-50 55.7 / 56.8 (the issue's figures; RIDE's
README calls distillation optional, for a further improvement).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "ride_distill", arg)
