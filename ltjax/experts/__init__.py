"""Multi-expert ensembles: routing and test-time aggregation.

RIDE's expert-assignment router (Wang et al. 2010.01809):
  `ExpertRouter`, `router_targets`, `router_loss`, `fit_router`, `route`.
SADE's test-time self-supervised aggregation (Zhang et al. 2107.09249):
  `aggregate`, `stability_loss`, `fit_aggregation_weights`.

The experts' models are in `ltjax.models` (`resnet32_experts`, ...), their
losses in `ltjax.losses` (`ride_loss`, `sade_loss`, `ace_loss`, ...), and
training with them is `config.experts` on the one engine (`ltjax.train`).
"""

from ltjax.experts._aggregation import aggregate
from ltjax.experts._aggregation import fit_aggregation_weights
from ltjax.experts._aggregation import stability_loss
from ltjax.experts._router import ExpertRouter
from ltjax.experts._router import fit_router
from ltjax.experts._router import route
from ltjax.experts._router import router_loss
from ltjax.experts._router import router_targets

__all__ = [
    "ExpertRouter",
    "aggregate",
    "fit_aggregation_weights",
    "fit_router",
    "route",
    "router_loss",
    "router_targets",
    "stability_loss",
]
