"""Pure, per-example losses and class weights for long-tailed classification.

Every loss has the signature `f(logits, labels, *, ...) -> [B]`: hyperparameters
are keyword-only, class statistics are arguments, and the caller reduces.
"""

from ltjax.losses._classification import balanced_softmax_loss
from ltjax.losses._classification import focal_loss
from ltjax.losses._classification import ldam_loss
from ltjax.losses._classification import ldam_margins
from ltjax.losses._classification import logit_adjusted_loss
from ltjax.losses._classification import pairwise_margin_loss
from ltjax.losses._classification import weighted_cross_entropy
from ltjax.losses._classification import weighted_mean
from ltjax.losses._weights import class_balanced_weights
from ltjax.losses._weights import class_priors
from ltjax.losses._weights import drw_class_weights
from ltjax.losses._weights import inverse_frequency_weights

__all__ = (
    "balanced_softmax_loss",
    "class_balanced_weights",
    "class_priors",
    "drw_class_weights",
    "focal_loss",
    "inverse_frequency_weights",
    "ldam_loss",
    "ldam_margins",
    "logit_adjusted_loss",
    "pairwise_margin_loss",
    "weighted_cross_entropy",
    "weighted_mean",
)
