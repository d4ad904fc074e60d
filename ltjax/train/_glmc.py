"""GLMC on the one engine: views, extra heads and loss (`config.glmc`).

Du et al., CVPR 2023 (arXiv 2305.08661; github ynu-yangpeng/GLMC). Each
step mixes the batch with a second sample (`Task.partner_plan`: an
independent permutation, i.e. without replacement, or a class-balanced
draw) into a global (mixup) and a local (CutMix) view of two augmentations
each (`ltjax.mixing.glmc_mix`), runs the model once on both views, applies
GLMC's re-balanced classifier, projector and predictor (`GLMCHeads`, in the
trained parameters beside the model's) to the features, and trains on
`ltjax.mixing.glmc_loss` with the cumulative weight 1 - (epoch / E)^2.
Evaluation uses the re-balanced classifier, as the original.

Differences from the original code:
- one forward pass on the two views concatenated ([2B]): BatchNorm's batch
  statistics are those of both views together and its running statistics
  are updated once per step (the original runs the model twice);
- the second sample is drawn without replacement (the "fixed" sampler;
  the original's `WeightedRandomSampler` draws with replacement);
- the cosine learning rate decays per step (the original: per epoch);
- the original selects its reported epoch on the test set; ltjax reports
  the final epoch and the best-validation epoch.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ltjax import losses
from ltjax import mixing

PARTNERS = ("instance", "balanced")


def enabled(config) -> bool:
  return bool(config.get("glmc", {}).get("enabled", False))


def heads(config, num_classes: int) -> mixing.GLMCHeads:
  return mixing.GLMCHeads(num_classes=num_classes,
                          proj_dim=config.glmc.proj_dim)


def init_params(config, num_classes: int, model_params) -> dict[str, Any]:
  """{"model": the model's, "glmc": GLMCHeads' (seeded from config.seed)}."""
  feature_dim = model_params["head"]["kernel"].shape[0]
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3)
  glmc = heads(config, num_classes).init(
      key, jnp.zeros((1, feature_dim), jnp.float32))["params"]
  return {"model": model_params, "glmc": glmc}


def transform(config, preprocess):
  """The batch transform: GLMC's two mixed views, concatenated [2B]."""
  glmc = config.glmc

  def apply(batch, key):
    view_key, b1_key, b2_key, mix_key = jax.random.split(key, 4)
    second = preprocess(batch["image"], view_key)
    partner = (preprocess(batch["image_b"], b1_key),
               preprocess(batch["image_b"], b2_key))
    views = mixing.glmc_mix(mix_key, (batch["input"], second), partner,
                            batch["label"], batch["label_b"],
                            alpha=glmc.alpha,
                            exact_box_lambda=glmc.exact_box_lambda)
    return {**batch,
            "input": jnp.concatenate([views.mixup_images,
                                      views.cutmix_images]),
            "glmc_weights": jnp.stack([views.mixup_weight,
                                       views.cutmix_weight])}

  return apply


def loss(config, counts, *, steps_per_epoch: int, num_classes: int):
  """`(params, outputs, batch, state) -> (scalar, aux)` of GLMC."""
  glmc = config.glmc
  class_weights = np.asarray(losses.inverse_frequency_weights(
      counts, power=glmc.label_weighting), np.float32)
  module = heads(config, num_classes)

  def apply(params, outputs, batch, state):
    logits, features = outputs[0], outputs[1]
    extra = module.apply({"params": params["glmc"]}, features)
    size = logits.shape[0] // 2
    halves = [{"logits": logits[s], "logits_cb": extra["logits_cb"][s],
               "z": extra["z"][s], "p": extra["p"][s]}
              for s in (slice(None, size), slice(size, None))]
    weights = batch["glmc_weights"]
    views = mixing.GLMCViews(None, None, weights[0], weights[1],
                             batch["label"], batch["label_b"])
    weight = mixing.cumulative_weight(state.step // steps_per_epoch,
                                      config.num_epochs)
    value = jnp.mean(mixing.glmc_loss(
        halves[0], halves[1], views, class_weights=class_weights,
        weight=weight, contrast_weight=glmc.contrast_weight))
    return value, {"logits": halves[0]["logits_cb"]}

  return apply


def eval_forward(config, num_classes: int, forward):
  """`forward` with the re-balanced classifier's logits (GLMC's test)."""
  module = heads(config, num_classes)

  def apply(state, batch):
    _, features = forward(state, batch)[:2]
    logits = module.apply({"params": state.params["glmc"]},
                          features.astype(jnp.float32))["logits_cb"]
    return logits, features

  return apply
