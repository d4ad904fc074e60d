r"""CIFAR-100-LT, la_mixup_sam_maxnorm_las.

  python -m experiments.main --config=cifar100_lt/la_mixup_sam_maxnorm_las \
      --workdir=/tmp/ltjax/cifar100_lt/la_mixup_sam_maxnorm_las

The combination no paper has run: logit-adjusted loss + mixup + SAM
(rho 0.05) + MaxNorm in stage 1, MiSLAS's label-aware-smoothing stage 2.

No published figure: the bar is GLMC's 55.88.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "la_mixup_sam_maxnorm_las", arg)
