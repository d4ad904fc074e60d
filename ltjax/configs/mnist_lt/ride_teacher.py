r"""MNIST-LT, ride_teacher.

  python -m experiments.main --config=mnist_lt/ride_teacher \
      --workdir=/tmp/ltjax/mnist_lt/ride_teacher

RIDE's distillation teacher: the ride recipe with 6 experts. Train it
first, then pass its workdir to ride_distill.

No published figure for the teacher itself (RIDE publishes its configs only).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "ride_teacher", arg)
