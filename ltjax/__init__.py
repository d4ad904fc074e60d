"""ltjax: learning from long-tailed data in JAX."""

from ltjax import losses
from ltjax import metrics
from ltjax import mixing
from ltjax import posthoc
from ltjax import train

__version__ = "0.1.0"

# A finished run from its workdir alone: its model, and its predictions on
# new raw inputs (`ltjax.train.load_model`, `ltjax.train.predict`).
load_model = train.load_model
predict = train.predict
Predictions = train.Predictions

__all__ = ("load_model", "losses", "metrics", "mixing", "posthoc",
           "predict", "Predictions", "train")
