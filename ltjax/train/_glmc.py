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
import ml_collections
import numpy as np

from ltjax import losses
from ltjax import mixing
from ltjax.train import _component
from ltjax.train import _config


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


def validate_glmc(config) -> None:
  """Checks `config.glmc` and the fields GLMC replaces."""
  glmc = config.glmc
  if not glmc.enabled:
    return
  experts = config.get("experts", {}).get("method", "none")
  model = config.model
  _config.require_field(
      not (config.get("glmc", {}).get("enabled", False)
           and (experts != "none" or model.name.endswith("_experts"))),
      "glmc.enabled", f"GLMC cannot be combined with several experts "
      f"(experts.method={experts!r}, model.name={model.name!r}): GLMC's "
      f"two-branch loss and the experts' loss each replace config.loss and "
      f"the classifier. Start from one recipe, glmc or an experts recipe "
      f"(ride, sade, ace), and keep the other's fields at their defaults.")
  _config.require_known(glmc.partner, ("instance", "balanced"), "glmc.partner")
  _config.require_field(glmc.alpha >= 0, "glmc.alpha",
                f"must be >= 0, got {glmc.alpha}.")
  _config.require_field(glmc.contrast_weight >= 0, "glmc.contrast_weight",
                f"must be >= 0, got {glmc.contrast_weight}.")
  _config.require_field(glmc.label_weighting >= 0, "glmc.label_weighting",
                f"must be >= 0, got {glmc.label_weighting}.")
  _config.require_field(glmc.proj_dim >= 1, "glmc.proj_dim",
                f"must be >= 1, got {glmc.proj_dim}.")
  _config.require_field(config.mixing.name == "none", "mixing.name",
                "GLMC mixes its own views: set mixing.name='none' with "
                "glmc.enabled.")
  _config.require_field(config.loss.name == "ce" and config.loss.reweight in (
      "default", "none"), "loss.name",
                "GLMC's loss replaces config.loss: leave loss.name='ce' and "
                "loss.reweight='default' with glmc.enabled.")
  _config.require_field(config.model.head == "linear", "model.head",
                "GLMC's classifiers are linear: set model.head='linear'.")
  _config.require_field(config.get("stage2", {}).get("name", "none") == "none",
                "stage2.name", "a second stage re-trains the model's head, "
                "which a GLMC run does not evaluate: set stage2.name='none' "
                "with glmc.enabled.")
  _config.require_field(config.sampler.name == "instance", "sampler.name",
                "GLMC's first sample is instance-balanced (its second is "
                "glmc.partner): set sampler.name='instance'.")


class GLMC(_component.Component):
  """GLMC as a training component (`config.glmc.enabled`).

  Adds GLMC's heads to the trained parameters (`{"model", "glmc"}`), mixes
  each batch with the partner sample (`config.glmc.partner`) into its two
  views, trains on its loss, and evaluates (and bounds, with MaxNorm) its
  re-balanced classifier; a post-hoc adjustment is not reported (that
  classifier is trained on class-weighted targets).
  """
  name = "glmc"
  fields = ("glmc.enabled",)
  roles = frozenset({"loss", "eval_forward", "partner", "params"})
  wraps_params = True

  @staticmethod
  def add_defaults(config) -> None:
    # GLMC (Du et al., CVPR 2023; `ltjax.train._glmc`): replaces the loss,
    # the mixing and the evaluated classifier when enabled.
    config.glmc = ml_collections.ConfigDict(dict(
        enabled=False,
        alpha=1.0,  # lambda ~ Beta(alpha, alpha), one for both views
        contrast_weight=1.0,  # CIFAR-10-LT rho=100: 1; CIFAR-100-LT: 4
        label_weighting=1.2,  # the re-balanced targets' weights n_c^-1.2
        proj_dim=128,  # projector / predictor width (ResNet-32: 128)
        # instance: a second permutation of the training set (the fixed,
        # without-replacement form of the original's q = 0 sampler);
        # balanced: a class-balanced second sample
        partner="instance",
        exact_box_lambda=False,  # True: the local view's weight from its box
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    if "glmc" in config:
      validate_glmc(config)

  @staticmethod
  def corrects_logits(config) -> bool:
    del config
    return True

  def __init__(self, task):
    super().__init__(task)
    self._loss = loss(self.config, task.counts,
                      steps_per_epoch=task.steps_per_epoch,
                      num_classes=task.dataset.num_classes)

  def init_params(self, params):
    return init_params(self.config, self.task.dataset.num_classes, params)

  def loss(self, params, outputs, batch, state):  # pylint: disable=method-hidden
    return self._loss(params, outputs, batch, state)

  def transforms(self):
    return (transform(self.config, self.task.preprocess),)

  def partner(self):  # pylint: disable=method-hidden
    return self.config.glmc.partner

  def eval_forward(self, forward):  # pylint: disable=method-hidden
    return eval_forward(self.config, self.task.dataset.num_classes, forward)

  def evaluated_kernel(self, params):
    return self.classifier(params)

  def classifier(self, params):  # pylint: disable=method-hidden
    return params["glmc"]["classifier_cb"]["kernel"]

  def with_classifier(self, params, kernel):  # pylint: disable=method-hidden
    glmc = dict(params["glmc"])
    glmc["classifier_cb"] = {**glmc["classifier_cb"], "kernel": kernel}
    return {**params, "glmc": glmc}
