r"""CIFAR-100-LT, disalign.

  python -m experiments.main --config=cifar100_lt/disalign \
      --workdir=/tmp/ltjax/cifar100_lt/disalign

DisAlign (Zhang et al. 2103.16370): a cross-entropy model, then the adaptive
calibration of its logits trained with the generalised re-weighting loss on
the frozen backbone (10 epochs).

No published figure for CIFAR-LT (ImageNet-LT, ResNeXt-50: 52.4).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar100_lt", "disalign", arg)
