"""Mergeable evaluation counts and long-tail metrics (shot groups, ECE)."""

from ltjax.metrics._classification import accuracy
from ltjax.metrics._classification import balanced_accuracy
from ltjax.metrics._classification import classification_summary
from ltjax.metrics._classification import ClassificationCounts
from ltjax.metrics._classification import expected_calibration_error
from ltjax.metrics._classification import per_class_accuracy
from ltjax.metrics._classification import SHOT_GROUPS
from ltjax.metrics._classification import shot_accuracy
from ltjax.metrics._classification import shot_groups
from ltjax.metrics._classification import unscored

__all__ = (
    "ClassificationCounts",
    "SHOT_GROUPS",
    "accuracy",
    "balanced_accuracy",
    "classification_summary",
    "expected_calibration_error",
    "per_class_accuracy",
    "shot_accuracy",
    "shot_groups",
    "unscored",
)
