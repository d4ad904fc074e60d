r"""MNIST-LT, feature_aug_crt.

  python -m experiments.main --config=mnist_lt/feature_aug_crt \
      --workdir=/tmp/ltjax/mnist_lt/feature_aug_crt

A plain cross-entropy model, then cRT on its frozen backbone's cached
features, the tail classes (at most 100 training examples) grown to the
largest class by head-class variation transfer (FTL / RSG style, training
free: a tail feature plus a head feature's deviation from its class mean;
`ltjax.mixing.transfer_head_variation`), then class-balanced sampling. Add
--config.stage2.backbone_workdir=A_FINISHED_CE_RUN to skip stage 1.

No published figure (RSG and FTL train their transfer modules inside the
network; this training-free variant has no published row).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("mnist_lt", "feature_aug_crt", arg)
