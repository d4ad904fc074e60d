"""ltjax: learning from long-tailed data in JAX."""

from ltjax import losses
from ltjax import metrics
from ltjax import mixing
from ltjax import posthoc

__version__ = "0.1.0"

__all__ = ("losses", "metrics", "mixing", "posthoc")
