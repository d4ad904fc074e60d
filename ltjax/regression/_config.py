"""The regression sections of the config schema and their checks.

A regression config is the run fields every task shares
(`ltjax.train.default_run_fields("regression")`: the DIR reference's Adam
schedule) plus the sections below (`default_config`);
`ltjax.train.validate_config` checks both (this module's
`validate_task_fields` is the regression part), raising a `ValueError`
naming `config.<field>`. `ltjax.recipes` gives the per-dataset, per-method
configs (`ltjax.regression.build_config`).

`fds.start_update` / `fds.start_smooth` are absolute epoch counts (the
statistics' warm-up, as in the reference), so the `:EPOCHS` argument does not
scale them; `rrt.epochs` is a duration and is scaled.
"""

import os

from absl import logging
import ml_collections
from ml_collections import config_dict
import numpy as np

from ltjax import models
from ltjax import train
from ltjax.regression import _bins
from ltjax.regression import _data
from ltjax.regression import _kernels
from ltjax.regression import _lds
from ltjax.regression import _losses
from ltjax.regression import _smogn

LOSSES = ("l1", "mse", "focal_l1", "focal_mse", "huber", "bmc", "bni", "gai")
BALANCED_MSE_LOSSES = ("bmc", "bni", "gai")
OPTIMIZERS = ("adam", "sgd")
BINS_OUTSIDE = ("error", "clip")
SHOT_THRESHOLDS = ("absolute", "quantile")
IMAGE_DATASETS = ("agedb_dir", "imdb_wiki_dir")
SELECT_METRICS = tuple(f"{m}_{g}" for m in ("mae", "mse", "gm")
                       for g in ("all", "many", "medium", "few"))


def default_config() -> ml_collections.ConfigDict:
  """Every field of a regression run, with the abalone MLP recipe."""
  config = train.default_run_fields("regression")
  config.data = _data.default_data_config("abalone")
  # Label bins for LDS, FDS and the shot groups, in label units. Unset
  # (None) fields come from the training targets (`data_bin_edges`): range
  # [min, max], width 1 for integer targets over <= 200 values, else
  # ceil(sqrt(N)) in [10, 100] bins. Give at most one of width / num_bins.
  # outside: "error" refuses training targets outside [low, high]; "clip"
  # puts them in the edge bins. Either way val / test targets outside are
  # counted, logged and reported in metrics.json (and clipped).
  # rule: "width": equal-width bins from the fields above (and a warning
  # when outliers crowd nearly every target into one bin); "quantile":
  # equal-count bins (the targets' quantiles; LDS / FDS see a flat density
  # and the shot groups by bin count are nearly all "medium"); "range":
  # equal width over the targets' range without outliers (Tukey's far
  # fences, Q1 - 3 IQR and Q3 + 3 IQR), outliers in the end bins; or
  # explicit edges "e0,e1,...". quantile / range take num_bins (default
  # ceil(sqrt(N)) in [10, 100]) and no low / high / width.
  config.bins = ml_collections.ConfigDict(dict(
      low=config_dict.placeholder(float),
      high=config_dict.placeholder(float),
      width=config_dict.placeholder(float),
      num_bins=config_dict.placeholder(int),
      outside="error",
      rule="width"))
  config.model.name = "mlp"  # mlp | resnet50 | any ltjax.models name
  config.model.widths = (128, 128)  # mlp hidden widths (features = the last)
  # Images only: on-device pad-and-crop, flip, normalisation of x / 255.
  config.augment = ml_collections.ConfigDict(dict(
      padding=16, flip=True, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
  config.loss = ml_collections.ConfigDict(dict(
      name="l1",  # l1 | mse | focal_l1 | focal_mse | huber | bmc | bni | gai
      # Fields marked [label units] are in the units of the target (of its
      # std with data.standardize_targets); see ltjax.recipes.
      activation="sigmoid",  # focal: sigmoid | tanh
      beta=0.2,  # focal: scale of |e| [1 / label units]
      gamma=1.0,  # focal
      huber_beta=1.0,  # [label units]
      noise_sigma=1.0,  # bmc / bni / gai: initial (or fixed) sigma [label u.]
      learn_sigma=True,  # bmc / bni / gai: sigma is a trained parameter
      sigma_lr=1e-2,  # its Adam learning rate (constant)
      gmm_components=8,  # gai: mixture fitted to the training labels
      # bmc / bni / gai: weight of an added plain MSE term (0: the official
      # loss); > 0 gives a label isolated in its batch a pull toward its
      # target under bmc (see ltjax.regression.bmc_loss).
      mse_weight=0.0,
  ))
  config.reweight = ml_collections.ConfigDict(dict(
      name="none",  # none | sqrt_inv | inverse
      lds=False,  # smooth the label density (LDS)
      kernel="gaussian", ks=5, sigma=2.0,
      clip=(5, 1000),  # inverse: count clipping
      scipy_parity=False,  # the reference's window and integer truncation
  ))
  config.fds = ml_collections.ConfigDict(dict(
      enabled=False,
      kernel="gaussian", ks=5, sigma=2.0,
      momentum=0.9,
      # Absolute epochs (not scaled by `:EPOCHS`): the statistics' warm-up.
      start_update=0,  # first epoch whose features update the statistics
      start_smooth=1,  # first epoch whose features are calibrated
      clip=(0.1, 10.0),
      scipy_parity=False,
  ))
  # Regressor re-training: the encoder is trained without re-weighting (or
  # loaded from encoder_workdir), then only the final regressor is
  # re-initialised and trained on its frozen features with config.reweight.
  config.rrt = ml_collections.ConfigDict(dict(
      enabled=False,
      epochs=90,  # the reference re-trains on the full schedule
      lr=1e-3,  # Adam, no weight decay, stage 1's schedule shape
      encoder_workdir=""))
  # RankSim (Gong et al. 2205.15236): + weight * the batchwise ranking
  # regulariser of the encoder features (before FDS), one example per
  # distinct label of the batch (`ranksim_regularizer`).
  config.ranksim = ml_collections.ConfigDict(dict(
      enabled=False,
      weight=100.0,  # gamma (the official README's commands)
      interpolation_lambda=2.0,  # the blackbox ranking gradient's lambda
  ))
  # Data-level re-sampling of the training split, once at start-up, before
  # the LDS weights (computed on the re-sampled targets); the bins and shot
  # groups stay those of the original training targets (`resample_dataset`).
  config.resample = ml_collections.ConfigDict(dict(
      name="none",  # none | smogn (tabular data)
      relevance_threshold=0.5,  # rare iff phi(y) >= this (smogn rel_thres)
      k=5,  # neighbours of a seed
      perturbation=0.02,  # Gaussian-noise scale cap (smogn pert)
      sampling="balance",  # balance | extreme (smogn samp_method)
      under_sample=True,  # under-sample the normal groups
      # The relevance phi = 1 - d / max d of the smoothed label histogram d.
      kernel="gaussian", ks=5, sigma=2.0,
  ))
  config.select_metric = "mae_all"  # validation metric (lower is better)
  # Shot groups of the bins by training count. "absolute": many-shot bins
  # have > shot_many training targets, few-shot < shot_few (the DIR
  # protocol's 100 / 20). "quantile": the thresholds are the shot_quantiles
  # (few, many) quantiles of the non-empty bins' training counts (for small
  # data sets, where every bin would be few-shot); the thresholds used are in
  # metrics.json["shots"].
  config.shot_thresholds = "absolute"
  config.shot_quantiles = (1 / 3, 2 / 3)
  return config


# The same field checks as every config section: one message format.
def _require(condition: bool, field: str, message: str) -> None:
  train.require_field(condition, field, message)


def _known(value, known, field: str) -> None:
  train.require_known(value, known, field)


def _kernel(section, field: str) -> None:
  _known(section.kernel, _kernels.KERNELS, f"{field}.kernel")
  _require(int(section.ks) == section.ks and section.ks >= 1 and
           section.ks % 2 == 1, f"{field}.ks",
           f"must be a positive odd integer, got {section.ks}.")
  _require(section.sigma > 0, f"{field}.sigma",
           f"must be > 0, got {section.sigma}.")


def _pair(value, field: str, *, low: float) -> None:
  _require(len(value) == 2 and low < value[0] <= value[1], field,
           f"must be (low, high) with {low} < low <= high, got {value}.")


def _rule(bins) -> str | np.ndarray:
  """`bins.rule` parsed: a rule name or explicit edges (old configs: width)."""
  return _bins.parse_bin_rule(bins.get("rule", "width"), "config.bins.rule")


def _bins_fixed(bins) -> bool:
  """Whether `config.bins` fixes the edges without looking at the data."""
  if not isinstance(_rule(bins), str):  # explicit edges
    return True
  return (_rule(bins) == "width" and
          bins.low is not None and bins.high is not None and
          (bins.width is not None or bins.num_bins is not None))


def _check_bins(config) -> None:
  bins = config.bins
  _known(bins.outside, BINS_OUTSIDE, "bins.outside")
  rule = _rule(bins)
  if isinstance(rule, str) and rule != "width":
    given = [f for f in ("low", "high", "width") if bins[f] is not None]
    _require(not given, "bins.rule",
             f"{rule!r} makes its own edges from the training targets, but "
             f"config.bins.{' / '.join(given)} is set (abalone_dir and the "
             f"face datasets set them); use rule='width' with them, or start "
             f"from a csv_dir config.")
  elif not isinstance(rule, str):
    given = [f for f in ("low", "high", "width", "num_bins")
             if bins[f] is not None]
    _require(not given, "bins.rule",
             f"explicit edges {rule.tolist()} fix every bin, but "
             f"config.bins.{' / '.join(given)} is set too; use one or the "
             f"other (a csv_dir config leaves them unset).")
  _require(bins.width is None or bins.width > 0, "bins.width",
           f"must be > 0 (or None: from the data), got {bins.width}.")
  _require(bins.num_bins is None or (
      int(bins.num_bins) == bins.num_bins and bins.num_bins >= 1),
           "bins.num_bins",
           f"must be an integer >= 1 (or None), got {bins.num_bins!r}.")
  _require(bins.width is None or bins.num_bins is None, "bins.num_bins",
           f"give at most one of bins.width ({bins.width}) and bins.num_bins "
           f"({bins.num_bins}); a config that sets width (abalone_dir, "
           f"agedb_dir) cannot unset it from the command line, start from "
           f"a csv_dir config (bins from the data) instead.")
  _require(bins.low is None or bins.high is None or bins.low < bins.high,
           "bins.low", f"must be < bins.high, got {bins.low} and "
           f"{bins.high}.")
  if _bins_fixed(bins):
    edges_of(config, None)  # e.g. not a whole number of widths


def edges_of(config, train_targets, *, warn: bool = False
            ) -> tuple[np.ndarray, str]:
  """The bin edges of `config.bins` and the rule that made them.

  Args:
    config: a regression config.
    train_targets: float [N] training targets (original units) for the
      fields left unset; may be None when `config.bins` fixes the edges.
    warn: log a warning when equal-width bins (rule "width") put nearly
      every training target in one bin because of outliers
      (`crowded_bin_message`), naming the rules that fix it.

  Returns:
    (float64 [K + 1] edges, rule description).
  """
  b = config.bins
  rule = _rule(b)
  if not isinstance(rule, str):
    return rule, "given edges (bins.rule)"
  if rule in ("quantile", "range"):
    make = (_bins.quantile_bin_edges if rule == "quantile"
            else _bins.range_bin_edges)
    try:
      edges = make(train_targets, num_bins=b.num_bins)
    except ValueError as e:
      raise ValueError(f"config.bins: {e}") from e
    return edges, (f"quantile: {len(edges) - 1} equal-count bins"
                   if rule == "quantile" else
                   f"range: {len(edges) - 1} equal-width bins over the "
                   f"targets' range without outliers")
  edges, description = _width_edges(b, train_targets)
  message = (_bins.crowded_bin_message(train_targets, edges)
             if warn and train_targets is not None else None)
  if message:
    logging.warning(
        "config.bins: %s; set config.bins.rule=range (equal width over the "
        "range without outliers, which go to the end bins) or "
        "config.bins.rule=quantile (equal-count bins) for bins that follow "
        "the data.", message)
  return edges, description


def _width_edges(b, train_targets) -> tuple[np.ndarray, str]:
  """The equal-width edges of rule "width" (today's rule)."""
  try:
    if _bins_fixed(b):
      if b.width is not None:
        return _bins.bin_edges(b.low, b.high, width=b.width), "given"
      return _bins.bin_edges(b.low, b.high, num_bins=b.num_bins), "given"
    return _bins.data_bin_edges(train_targets, low=b.low, high=b.high,
                                width=b.width, num_bins=b.num_bins)
  except ValueError as e:
    raise ValueError(f"config.bins: {e}") from e


def check_bins_for_run(config, edges) -> None:
  """The checks that need the number of bins (after the data is read)."""
  half = (int(config.fds.ks) - 1) // 2
  _require(not config.fds.enabled or len(edges) - 1 > half, "fds.ks",
           f"reflect padding by {half} bins needs more than {half} bins, "
           f"config.bins gives {len(edges) - 1}; use more bins "
           f"(config.bins.num_bins / width) or a smaller fds.ks.")


def _check_ranksim(ranksim) -> None:
  _require(ranksim.weight >= 0, "ranksim.weight",
           f"must be >= 0 (gamma; the official setting is 100), got "
           f"{ranksim.weight}.")
  _require(ranksim.interpolation_lambda > 0, "ranksim.interpolation_lambda",
           f"must be > 0 (the official setting is 2), got "
           f"{ranksim.interpolation_lambda}.")


def _check_resample(config) -> None:
  r = config.resample
  _known(r.name, _smogn.RESAMPLERS, "resample.name")
  _require(0 < r.relevance_threshold <= 1, "resample.relevance_threshold",
           f"must be in (0, 1], got {r.relevance_threshold}.")
  _require(int(r.k) == r.k and r.k >= 1, "resample.k",
           f"must be an integer >= 1, got {r.k!r}.")
  _require(0 < r.perturbation <= 1, "resample.perturbation",
           f"must be in (0, 1], got {r.perturbation}.")
  _known(r.sampling, _smogn.SAMPLING, "resample.sampling")
  _kernel(r, "resample")
  _require(r.name == "none" or config.data.name not in IMAGE_DATASETS,
           "resample.name",
           f"{r.name!r} interpolates feature vectors; data.name="
           f"{config.data.name!r} is images. Use resample.name='none'.")


def validate_config(config, *, check_data: bool = True) -> None:
  """`ltjax.train.validate_config` of a config that must be a regression's.

  A config without `task` is checked as a regression config here.
  """
  _require(config.get("task", "regression") == "regression", "task",
           f"must be 'regression' for ltjax.regression, got "
           f"{config.get('task')!r}.")
  train.validate_config(config, check_data=check_data, task="regression")


def validate_task_fields(config, *, check_data: bool = True) -> None:
  """Checks the regression sections (run fields: `validate_config`)."""
  loss, reweight, fds, rrt, model = (
      config.loss, config.reweight, config.fds, config.rrt, config.model)
  _check_bins(config)
  _known(loss.name, LOSSES, "loss.name")
  _known(loss.activation, _losses.ACTIVATIONS, "loss.activation")
  _require(loss.beta >= 0, "loss.beta", f"must be >= 0, got {loss.beta}.")
  _require(loss.gamma >= 0, "loss.gamma", f"must be >= 0, got {loss.gamma}.")
  _require(loss.huber_beta > 0, "loss.huber_beta",
           f"must be > 0, got {loss.huber_beta}.")
  _require(loss.noise_sigma > 0, "loss.noise_sigma",
           f"must be > 0, got {loss.noise_sigma}.")
  _require(loss.sigma_lr > 0, "loss.sigma_lr",
           f"must be > 0, got {loss.sigma_lr}.")
  _require(loss.gmm_components >= 1, "loss.gmm_components",
           f"must be >= 1, got {loss.gmm_components}.")
  _require(loss.mse_weight >= 0, "loss.mse_weight",
           f"must be >= 0, got {loss.mse_weight}.")
  _require(loss.mse_weight == 0 or loss.name in BALANCED_MSE_LOSSES,
           "loss.mse_weight",
           f"adds an MSE term to the Balanced MSE losses "
           f"{BALANCED_MSE_LOSSES}; loss {loss.name!r} does not read it, set "
           f"it to 0.")
  _known(reweight.name, _lds.REWEIGHTS, "reweight.name")
  _kernel(reweight, "reweight")
  _pair(reweight.clip, "reweight.clip", low=0)
  _require(not (reweight.lds and reweight.name == "none"), "reweight.lds",
           "LDS smooths the density of a re-weighting: set reweight.name to "
           "'sqrt_inv' or 'inverse'.")
  _require(not (loss.name in BALANCED_MSE_LOSSES and reweight.name != "none"),
           "reweight.name",
           f"loss {loss.name!r} (Balanced MSE) already corrects for the label "
           f"distribution; set reweight.name='none'.")
  _kernel(fds, "fds")
  _require(0 <= fds.momentum < 1, "fds.momentum",
           f"must be in [0, 1), got {fds.momentum}.")
  _require(fds.start_update >= 0, "fds.start_update",
           f"must be >= 0, got {fds.start_update}.")
  _require(fds.start_smooth > fds.start_update, "fds.start_smooth",
           f"must be > fds.start_update ({fds.start_update}): calibration "
           f"needs statistics committed at the end of an earlier epoch, got "
           f"{fds.start_smooth}.")
  _pair(fds.clip, "fds.clip", low=0)
  if _bins_fixed(config.bins):
    check_bins_for_run(config, edges_of(config, None)[0])
  _require(rrt.epochs >= 1, "rrt.epochs", f"must be >= 1, got {rrt.epochs}.")
  _require(rrt.lr > 0, "rrt.lr", f"must be > 0, got {rrt.lr}.")
  if rrt.enabled:
    _require(reweight.name != "none", "reweight.name",
             "rrt re-trains the regressor with re-weighting: set "
             "reweight.name to 'sqrt_inv' or 'inverse' (and reweight.lds).")
    _require(not fds.enabled, "fds.enabled",
             "rrt trains its encoder without FDS here; disable one of them.")
    _require(loss.name not in BALANCED_MSE_LOSSES, "loss.name",
             "rrt re-trains with a weighted loss; use l1, mse, focal or huber.")
  if rrt.encoder_workdir:
    _require(os.path.isdir(os.path.join(rrt.encoder_workdir, "checkpoints")),
             "rrt.encoder_workdir",
             f"{rrt.encoder_workdir!r} has no checkpoints/ folder (a finished "
             f"run's workdir).")
  _check_ranksim(config.ranksim)
  _check_resample(config)
  _known(model.name, models.MODELS, "model.name")
  _require(len(model.widths) >= 1 and all(w >= 1 for w in model.widths),
           "model.widths", f"must be positive widths, got {model.widths}.")
  _known(config.select_metric, SELECT_METRICS, "select_metric")
  _known(config.shot_thresholds, SHOT_THRESHOLDS, "shot_thresholds")
  q = tuple(config.shot_quantiles)
  _require(len(q) == 2 and 0 <= q[0] <= q[1] <= 1, "shot_quantiles",
           f"must be (few, many) with 0 <= few <= many <= 1, got {q}.")
  if check_data:  # False: the loop was given a dataset object
    _data.validate_data_config(config.data)
