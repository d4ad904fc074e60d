"""Mixing as a training component: mixup / CutMix / Remix (`config.mixing`).

Each batch is mixed with a partner: the batch itself permuted
(`mixing.partner` "shuffle") or a second sample drawn by the task's partner
plan ("instance" or "balanced", augmented as the batch is), with one
lambda ~ Beta(alpha, alpha) per batch, between `mixing.start_epoch` and
`mixing.stop_epoch`. The objective takes the mixed targets from the batch
("mix_label", "mix_weight").
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ltjax import mixing
from ltjax.train import _component
from ltjax.train import _config
from ltjax.train import _objectives


def mixing_transform(mixing_config, class_counts, *, steps_per_epoch: int,
                     balanced: bool):
  """The batch transform of `config.mixing` (`ltjax.mixing`).

  Mixes `batch["input"]` with a partner (the batch permuted, or the
  class-balanced `input_b`), one lambda ~ Beta(alpha, alpha) per batch, and
  writes "mix_label" (the partner's labels) and "mix_weight" (float [B],
  the weight of "label": lambda, CutMix's box-corrected lambda, or Remix's
  rule). Outside [start_epoch, stop_epoch) lambda is 1: the batch is
  unchanged and the loss is the unmixed one, in the same compiled step.
  """
  counts = np.asarray(class_counts, np.float32)

  def transform(batch, key):
    lam_key, perm_key, box_key = jax.random.split(key, 3)
    inputs, labels = batch["input"], batch["label"]
    if balanced:
      partner, partner_labels = batch["input_b"], batch["label_b"]
    else:
      perm = jax.random.permutation(perm_key, inputs.shape[0])
      partner, partner_labels = inputs[perm], labels[perm]
    epoch = batch["step"] // steps_per_epoch
    active = epoch >= mixing_config.start_epoch
    if mixing_config.stop_epoch:
      active &= epoch < mixing_config.stop_epoch
    lam = jnp.where(active, mixing.sample_lambda(
        lam_key, alpha=mixing_config.alpha), 1.0)
    if mixing_config.name == "mixup":
      mixed = mixing.mixup(inputs, partner, lam)
    else:
      mixed, lam = mixing.cutmix(inputs, partner, lam, box_key)
    if mixing_config.targets == "remix":
      weight = mixing.remix_targets(
          lam, labels, partner_labels, class_counts=counts,
          kappa=mixing_config.remix_kappa, tau=mixing_config.remix_tau)
      weight = jnp.where(active, weight, 1.0)
    else:
      weight = jnp.full(labels.shape, lam, jnp.float32)
    return {**batch, "input": mixed, "mix_label": partner_labels,
            "mix_weight": weight.astype(jnp.float32)}

  return transform


MIXING = ("none", "mixup", "cutmix")
MIX_TARGETS = ("mixed", "remix")
MIX_PARTNERS = ("shuffle", "instance", "balanced")


def validate_mixing(config) -> None:
  """Checks `config.mixing` (and that its loss can take mixed targets)."""
  mixing = config.mixing
  _config.require_known(mixing.name, MIXING, "mixing.name")
  _config.require_known(mixing.targets, MIX_TARGETS, "mixing.targets")
  _config.require_known(mixing.partner, MIX_PARTNERS, "mixing.partner")
  _config.require_field(mixing.alpha >= 0, "mixing.alpha",
                f"must be >= 0 (0: no mixing), got {mixing.alpha}.")
  _config.require_field(mixing.remix_kappa >= 1, "mixing.remix_kappa",
                f"must be >= 1, got {mixing.remix_kappa}.")
  _config.require_field(0 <= mixing.remix_tau <= 1, "mixing.remix_tau",
                f"must be in [0, 1], got {mixing.remix_tau}.")
  _config.require_field(mixing.start_epoch >= 0, "mixing.start_epoch",
                f"must be >= 0, got {mixing.start_epoch}.")
  _config.require_field(mixing.stop_epoch == 0
                or mixing.stop_epoch > mixing.start_epoch, "mixing.stop_epoch",
                f"must be 0 (mix to the end) or > mixing.start_epoch="
                f"{mixing.start_epoch}, got {mixing.stop_epoch}.")
  _config.require_field(
      not (mixing.name != "none" and mixing.targets == "remix"
           and _objectives.LOSSES[config.loss.name].batch_term is not None),
      "mixing.targets", f"remix gives each example its own target weight, "
      f"which the batch-level term of loss {config.loss.name!r} cannot "
      f"take; use mixing.targets='mixed'.")


class Mixing(_component.Component):
  """mixup / CutMix / Remix (`config.mixing.name`)."""
  name = "mixing"
  fields = ("mixing.name",)

  @staticmethod
  def add_defaults(config) -> None:
    # Mixing augmentation, a batch transform in the step (`ltjax.mixing`):
    # the loss of every registry entry becomes w l(z, y_a) + (1 - w) l(z, y_b).
    config.mixing = ml_collections.ConfigDict(dict(
        name="none",  # none | mixup | cutmix
        alpha=1.0,  # lambda ~ Beta(alpha, alpha)
        targets="mixed",  # mixed (w = lambda) | remix (Chou et al. 2007.03943)
        remix_kappa=3.0,
        remix_tau=0.5,
        # shuffle: the batch with itself permuted | instance: a second,
        # independent sample, each example once per epoch | balanced: a
        # second, class-balanced sample (re-balanced mixing)
        partner="shuffle",
        start_epoch=0,  # mixing on from this epoch
        stop_epoch=0,  # and off from this one (0: on to the end)
    ))

  @staticmethod
  def validate(config, *, check_data: bool = True) -> None:
    del check_data
    validate_mixing(config)

  @classmethod
  def roles_of(cls, config):
    """A second sample (the "partner" role) unless the batch is shuffled."""
    if config.mixing.partner == "shuffle":
      return frozenset()
    return frozenset({"partner"})

  def _balanced(self) -> bool:
    return self.config.mixing.partner != "shuffle"

  def partner(self):  # pylint: disable=method-hidden
    return self.config.mixing.partner

  def transforms(self):
    task, out = self.task, []
    if self._balanced():
      def augment_partner(batch, key):
        return {**batch, "input_b": task.preprocess(batch["image_b"], key)}
      out.append(augment_partner)
    out.append(mixing_transform(self.config.mixing, task.counts,
                                steps_per_epoch=task.steps_per_epoch,
                                balanced=self._balanced()))
    return tuple(out)
