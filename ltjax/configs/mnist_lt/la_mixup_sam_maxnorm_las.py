r"""MNIST-LT, la_mixup_sam_maxnorm_las.

  python -m experiments.main --config=mnist_lt/la_mixup_sam_maxnorm_las \
      --workdir=/tmp/ltjax/mnist_lt/la_mixup_sam_maxnorm_las

The combination no paper has run: logit-adjusted loss + mixup + SAM
(rho 0.05) + MaxNorm in stage 1, MiSLAS's label-aware-smoothing stage 2.

No published figure: a quick run (minutes on a CPU).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "la_mixup_sam_maxnorm_las", arg)
