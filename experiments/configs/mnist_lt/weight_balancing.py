r"""MNIST-LT, weight_balancing.

  python -m experiments.main --config=mnist_lt/weight_balancing \
      --workdir=/tmp/ltjax/mnist_lt/weight_balancing

Weight balancing (Alshammari et al. 2203.14197): stage 1 cross-entropy with
a tuned weight decay (5e-3, lr 0.01, cosine, batch 64); stage 2 the
classifier re-trained with the class-balanced loss, weight decay and MaxNorm.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "weight_balancing", arg)
