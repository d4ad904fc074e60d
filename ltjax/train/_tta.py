"""Test-time augmentation as a training component (`config.eval_tta`).

Evaluation (and predictions) average the logits of the mirrored image and,
with "flip_translate", one-pixel translations (`_tricks.tta_logits`). The
views are made of the raw images (mirror; translations with reflect
padding), which commute with the per-channel normalisation, so any
evaluated forward (experts, GLMC ...) is augmented the same.
"""

from ltjax.train import _component
from ltjax.train import _tricks





class TestTimeAugmentation(_component.Component):
  name = "eval_tta"
  fields = ("eval_tta",)

  @staticmethod
  def add_defaults(config) -> None:
    # Test-time augmentation of every evaluation (val, test, predictions):
    # none | flip (mean logits of the image and its mirror) | flip_translate
    # (airbench's mirror + one-pixel translations; `_tricks.tta_logits`).
    config.eval_tta = "none"

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del config, check_data  # eval_tta's values: _config.validate_tricks

  def wrap_forward(self, forward):
    """`forward` on the views, its logits only (`(logits,)`)."""
    mode = self.config.eval_tta
    key = self.task.input_key

    def augmented(state, batch):
      images = batch[key]
      if images.ndim != 4:
        raise ValueError(
            f"config.eval_tta={mode!r} needs images [B, H, W, K]; this "
            f"dataset's inputs have shape {images.shape}. Set "
            f"eval_tta='none'.")
      return (_tricks.tta_logits(
          lambda views: forward(state, {**batch, key: views})[0], images,
          mode),)

    return augmented
