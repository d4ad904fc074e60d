"""Batch mixing: mixup, CutMix, Remix targets, and GLMC's pieces.

Pure, jittable functions (lambda and keys may be traced, so one compiled step
serves every draw). Images are NHWC float arrays, labels int [B]. A mixed
batch is trained with any per-example loss l as
`w * l(z, y_a) + (1 - w) * l(z, y_b)`, w the weight of `labels_a` (lambda,
CutMix's box lambda, or `remix_targets`); `mixed_targets` gives the
equivalent soft targets for losses on soft labels.

`transfer_head_variation` mixes in feature space: it adds head-class
intra-class variation to tail-class features (FTL / RSG style), on the host,
to grow the tail classes of cached features before re-training a classifier.
"""

from ltjax.mixing._feature_aug import transfer_head_variation
from ltjax.mixing._feature_aug import VARIATION_BASES
from ltjax.mixing._glmc import cumulative_weight
from ltjax.mixing._glmc import glmc_loss
from ltjax.mixing._glmc import glmc_mix
from ltjax.mixing._glmc import GLMCHeads
from ltjax.mixing._glmc import GLMCViews
from ltjax.mixing._glmc import mixture_consistency_loss
from ltjax.mixing._glmc import simsiam_loss
from ltjax.mixing._mix import cutmix
from ltjax.mixing._mix import mixed_targets
from ltjax.mixing._mix import mixup
from ltjax.mixing._mix import remix_targets
from ltjax.mixing._mix import sample_lambda

__all__ = (
    "cumulative_weight",
    "cutmix",
    "glmc_loss",
    "glmc_mix",
    "GLMCHeads",
    "GLMCViews",
    "mixed_targets",
    "mixture_consistency_loss",
    "mixup",
    "remix_targets",
    "sample_lambda",
    "simsiam_loss",
    "transfer_head_variation",
    "VARIATION_BASES",
)
