"""Pure, per-example losses and class weights for long-tailed classification.

Every loss has the signature `f(logits, labels, *, ...) -> [B]`: hyperparameters
are keyword-only, class statistics are arguments, and the caller reduces. The
exceptions return a scalar: `lade_loss` (a batch-level estimate) and the
expert losses `ride_loss`, `ride_distill_loss` and `ace_loss` (over experts
[E, B, C], with their originals' reductions). The contrastive losses take
L2-normalised features, not logits, and return one loss per anchor:
`supervised_contrastive_loss` and `balanced_contrastive_loss` [B, V] (every
view is an anchor), `paco_loss` [B].
"""

from ltjax.losses._classification import balanced_softmax_loss
from ltjax.losses._classification import focal_loss
from ltjax.losses._classification import ldam_loss
from ltjax.losses._classification import ldam_margins
from ltjax.losses._classification import logit_adjusted_loss
from ltjax.losses._classification import pairwise_margin_loss
from ltjax.losses._classification import weighted_cross_entropy
from ltjax.losses._classification import weighted_mean
from ltjax.losses._contrastive import balanced_contrastive_loss
from ltjax.losses._contrastive import paco_loss
from ltjax.losses._contrastive import supervised_contrastive_loss
from ltjax.losses._distill import distillation_loss
from ltjax.losses._distill import dive_loss
from ltjax.losses._experts import ace_aggregate
from ltjax.losses._experts import ace_class_masks
from ltjax.losses._experts import ace_logit_scales
from ltjax.losses._experts import ace_loss
from ltjax.losses._experts import ace_lr_scales
from ltjax.losses._experts import inverse_prior
from ltjax.losses._experts import ride_distill_loss
from ltjax.losses._experts import ride_diversity_temperatures
from ltjax.losses._experts import ride_loss
from ltjax.losses._experts import sade_loss
from ltjax.losses._lade import lade_loss
from ltjax.losses._smoothing import label_aware_smoothing_epsilons
from ltjax.losses._smoothing import label_aware_smoothing_loss
from ltjax.losses._vs import vs_loss
from ltjax.losses._weights import class_balanced_weights
from ltjax.losses._weights import class_priors
from ltjax.losses._weights import drw_class_weights
from ltjax.losses._weights import inverse_frequency_weights

__all__ = (
    "ace_aggregate",
    "ace_class_masks",
    "ace_logit_scales",
    "ace_loss",
    "ace_lr_scales",
    "balanced_contrastive_loss",
    "balanced_softmax_loss",
    "class_balanced_weights",
    "class_priors",
    "distillation_loss",
    "dive_loss",
    "drw_class_weights",
    "focal_loss",
    "inverse_frequency_weights",
    "inverse_prior",
    "label_aware_smoothing_epsilons",
    "label_aware_smoothing_loss",
    "lade_loss",
    "ldam_loss",
    "ldam_margins",
    "logit_adjusted_loss",
    "paco_loss",
    "pairwise_margin_loss",
    "ride_distill_loss",
    "ride_diversity_temperatures",
    "ride_loss",
    "sade_loss",
    "supervised_contrastive_loss",
    "vs_loss",
    "weighted_cross_entropy",
    "weighted_mean",
)
