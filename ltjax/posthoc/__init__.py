"""Post-hoc corrections applied to a trained model's logits."""

from ltjax.posthoc._adjust import adjust_logits

__all__ = ("adjust_logits",)
