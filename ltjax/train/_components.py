"""The training components of the built-in tasks, in composition order.

Classification composes, in this order: mixing, GLMC, contrastive learning,
experts, SAM / ImbSAM, distillation, MaxNorm, test-time augmentation and a
second stage (`_component` says how each hook composes). Regression's are
registered by its package. A new component is one module and one line here
(or one `register_component` call in the user's code).
"""

from ltjax.train import _component

CLASSIFICATION = (
    ("mixing", "ltjax.train._mixing:Mixing"),
    ("glmc", "ltjax.train._glmc:GLMC"),
    ("contrastive", "ltjax.train._contrastive:Contrastive"),
    ("experts", "ltjax.train._experts:Experts"),
    ("sam", "ltjax.train._sam:SharpnessAware"),
    ("teacher", "ltjax.train._teacher:Distillation"),
    ("max_norm", "ltjax.train._max_norm:MaxNorm"),
    ("eval_tta", "ltjax.train._tta:TestTimeAugmentation"),
    ("stage2", "ltjax.decouple._component:SecondStage"),
)

for _name, _path in CLASSIFICATION:
  _component.register_component("classification", _name, _path)
