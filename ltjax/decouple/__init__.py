"""Decoupled classifiers on a frozen backbone (Kang et al., 1910.09217).

Pure functions: `class_means`, `fit_ncm`, `ncm_preprocess`, `ncm_logits`
(NCM); stage-2 re-training of the classifier on cached features or on the
re-run backbone: `crt_init`, `lws_init`, `fit_on_features`,
`fit_with_backbone`; the classification engine's second stage
(`config.stage2`: `default_stage2_config`, `validate_stage2_config`,
`run_second_stage`: cRT, MiSLAS, weight balancing, DisAlign, with
DisAlign's pieces `disalign_init`, `disalign_logits`,
`generalized_reweight_weights`, `fit_disalign`); and
`decouple_and_evaluate`, which applies every method
(with tau-normalisation and post-hoc adjustment from `ltjax.posthoc`) to a
stage-1 checkpoint and writes the comparison table.
"""

from ltjax.decouple._disalign import disalign_confidence
from ltjax.decouple._disalign import disalign_init
from ltjax.decouple._disalign import disalign_logits
from ltjax.decouple._disalign import fit_disalign
from ltjax.decouple._disalign import generalized_reweight_weights
from ltjax.decouple._disalign import weighted_mean_cross_entropy
from ltjax.decouple._ncm import class_means
from ltjax.decouple._ncm import fit_ncm
from ltjax.decouple._ncm import NCM_METRICS
from ltjax.decouple._ncm import ncm_logits
from ltjax.decouple._ncm import ncm_preprocess
from ltjax.decouple._run import decouple_and_evaluate
from ltjax.decouple._run import default_config
from ltjax.decouple._run import markdown_table
from ltjax.decouple._run import METHODS
from ltjax.decouple._run import restore_stage1
from ltjax.decouple._second_stage import cb_softmax_bce_loss
from ltjax.decouple._second_stage import default_stage2_config
from ltjax.decouple._second_stage import epoch_cosine_schedule
from ltjax.decouple._second_stage import run_second_stage
from ltjax.decouple._second_stage import STAGE2_METHODS
from ltjax.decouple._second_stage import validate_stage2_config
from ltjax.decouple._second_stage import with_projection
from ltjax.decouple._stage2 import crt_init
from ltjax.decouple._stage2 import fit_on_features
from ltjax.decouple._stage2 import fit_with_backbone
from ltjax.decouple._stage2 import lws_init
from ltjax.decouple._stage2 import Stage2Options

__all__ = (
    "METHODS",
    "NCM_METRICS",
    "STAGE2_METHODS",
    "Stage2Options",
    "cb_softmax_bce_loss",
    "class_means",
    "crt_init",
    "decouple_and_evaluate",
    "default_config",
    "default_stage2_config",
    "disalign_confidence",
    "disalign_init",
    "disalign_logits",
    "epoch_cosine_schedule",
    "fit_disalign",
    "fit_ncm",
    "fit_on_features",
    "fit_with_backbone",
    "generalized_reweight_weights",
    "lws_init",
    "markdown_table",
    "ncm_logits",
    "ncm_preprocess",
    "restore_stage1",
    "run_second_stage",
    "validate_stage2_config",
    "weighted_mean_cross_entropy",
    "with_projection",
)
