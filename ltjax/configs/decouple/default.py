r"""Decoupling a stage-1 run: joint, NCM, cRT, tau-norm, LWS, post-hoc LA.

  python -m experiments.decouple \
      --config=experiments/configs/decouple/default.py \
      --checkpoint=/tmp/ltjax/cifar10_lt/ce

The model and data come from the checkpoint's config.json. cRT trains a new
linear head for 10 epochs and LWS per-class scales for 5 epochs, both with
class-balanced sampling, batch 512, lr 0.2 with cosine decay (the ImageNet-LT
recipe of Kang et al. 2020); tau for tau-norm and post-hoc adjustment is
chosen on the validation split from 0, 0.1, ..., 2. On ImageNet-LT with
ResNeXt-50 the paper reports many/medium/few/all: joint 65.9/37.5/7.7/44.4,
NCM 56.6/45.3/28.1/47.3, cRT 61.8/46.2/27.4/49.6, tau-norm 59.1/46.9/30.7/49.4,
LWS 60.2/47.2/30.3/49.9 (arXiv 1910.09217).
"""

from ltjax import decouple


def get_config(arg=None):
  if arg:  # A `:N` suffix would otherwise be dropped without a word.
    raise ValueError(
        f"config argument {arg!r}: decouple/default takes none (set stage 2's "
        f"epochs with --config.crt.epochs / --config.lws.epochs); drop the "
        f"':{arg}'.")
  return decouple.default_config()
