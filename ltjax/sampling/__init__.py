"""Deterministic, resumable, host-sliced sampling of long-tailed data."""

from ltjax.sampling._plan import batch_indices
from ltjax.sampling._plan import epoch_plan
from ltjax.sampling._plan import steps_per_epoch
from ltjax.sampling._probabilities import class_probabilities
from ltjax.sampling._probabilities import effective_number_probabilities
from ltjax.sampling._probabilities import progressive_probabilities
from ltjax.sampling._probabilities import SAMPLERS
from ltjax.sampling._probabilities import sampling_probabilities

__all__ = (
    "SAMPLERS",
    "batch_indices",
    "class_probabilities",
    "effective_number_probabilities",
    "epoch_plan",
    "progressive_probabilities",
    "sampling_probabilities",
    "steps_per_epoch",
)
