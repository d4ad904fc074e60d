r"""MNIST-LT, weight_balancing.

  python -m experiments.main --config=mnist_lt/weight_balancing \
      --workdir=/tmp/ltjax/mnist_lt/weight_balancing

Weight balancing (Alshammari et al. 2203.14197): stage 1 cross-entropy with
MNIST-LT's own optimiser (the original's 320-epoch CIFAR one, lr 0.01 and
weight decay 5e-3, does not transfer to 10 epochs); stage 2 the classifier
re-trained with the class-balanced loss, MaxNorm and MNIST-LT's weight decay
5e-4 (picked on validation; the original's 0.1 shrinks the classifier to
near-zero norms here: 66.2 % balanced).

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "weight_balancing", arg)
