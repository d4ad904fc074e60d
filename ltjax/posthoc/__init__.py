"""Post-hoc corrections of a trained classifier: no retraining.

`adjust_logits` (post-hoc logit adjustment, Menon et al. 2007.07314, to a
balanced or a known test label distribution) and
`tau_normalize` (Kang et al. 1910.09217), with `tau_curve` / `select_tau` to
choose their tau on validation data, `weight_norms` for the analysis of
classifier norms against class sizes, and weight balancing's MaxNorm
projection (`max_norm`, `relative_max_norm_threshold`; Alshammari et al.
2203.14197).
"""

from ltjax.posthoc._adjust import adjust_logits
from ltjax.posthoc._maxnorm import max_norm
from ltjax.posthoc._maxnorm import relative_max_norm_threshold
from ltjax.posthoc._tau import DEFAULT_TAU_GRID
from ltjax.posthoc._tau import select_tau
from ltjax.posthoc._tau import tau_curve
from ltjax.posthoc._tau import tau_normalize
from ltjax.posthoc._tau import TauCurve
from ltjax.posthoc._tau import TauSelection
from ltjax.posthoc._tau import weight_norms

__all__ = (
    "DEFAULT_TAU_GRID",
    "TauCurve",
    "TauSelection",
    "adjust_logits",
    "max_norm",
    "relative_max_norm_threshold",
    "select_tau",
    "tau_curve",
    "tau_normalize",
    "weight_norms",
)
