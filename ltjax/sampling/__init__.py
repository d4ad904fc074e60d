"""Deterministic, resumable, host-sliced sampling of long-tailed data.

Also data-level re-sampling of in-memory arrays (random under/over-sampling,
SMOTE, ADASYN) to per-class target counts.
"""

from ltjax.sampling._plan import batch_indices
from ltjax.sampling._plan import epoch_plan
from ltjax.sampling._plan import steps_per_epoch
from ltjax.sampling._probabilities import class_probabilities
from ltjax.sampling._probabilities import effective_number_probabilities
from ltjax.sampling._probabilities import progressive_probabilities
from ltjax.sampling._probabilities import SAMPLERS
from ltjax.sampling._probabilities import sampling_probabilities
from ltjax.sampling._resample import adasyn
from ltjax.sampling._resample import random_over_sample
from ltjax.sampling._resample import random_under_sample
from ltjax.sampling._resample import smote
from ltjax.sampling._resample import TARGET_MODES
from ltjax.sampling._resample import target_counts

__all__ = (
    "SAMPLERS",
    "TARGET_MODES",
    "adasyn",
    "batch_indices",
    "class_probabilities",
    "effective_number_probabilities",
    "epoch_plan",
    "progressive_probabilities",
    "random_over_sample",
    "random_under_sample",
    "sampling_probabilities",
    "smote",
    "steps_per_epoch",
    "target_counts",
)
