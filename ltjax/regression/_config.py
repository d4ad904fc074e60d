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

from ml_collections import config_dict
import ml_collections

from ltjax import models
from ltjax import train
from ltjax.regression import _bin_config
from ltjax.regression import _components
from ltjax.regression import _data
from ltjax.regression import _kernels
from ltjax.regression import _losses


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
  # Each training component's section (`_components`, in their order).
  for component in train.component_classes(_components.TASK):
    component.add_defaults(config)
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


# For the components' validators (`_components`).
require, known, kernel_fields, pair = _require, _known, _kernel, _pair


def _check_bins(config) -> None:
  bins = config.bins
  _known(bins.outside, BINS_OUTSIDE, "bins.outside")
  rule = _bin_config.rule_of(bins)
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
  if _bin_config.bins_fixed(bins):
    _bin_config.edges_of(config, None)  # e.g. not a whole number of widths


edges_of = _bin_config.edges_of  # the task, tests and old callers


def check_bins_for_run(config, edges) -> None:
  """The checks that need the number of bins (after the data is read)."""
  half = (int(config.fds.ks) - 1) // 2
  _require(not config.fds.enabled or len(edges) - 1 > half, "fds.ks",
           f"reflect padding by {half} bins needs more than {half} bins, "
           f"config.bins gives {len(edges) - 1}; use more bins "
           f"(config.bins.num_bins / width) or a smaller fds.ks.")


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
  loss, model = config.loss, config.model
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
  if _bin_config.bins_fixed(config.bins):
    check_bins_for_run(config, _bin_config.edges_of(config, None)[0])
  for component in train.component_classes(_components.TASK):
    component.validate(config, check_data=check_data)
  _known(model.name, models.MODELS, "model.name")
  _require(len(model.widths) >= 1 and all(w >= 1 for w in model.widths),
           "model.widths", f"must be positive widths, got {model.widths}.")
  vectors = model.get("word_vectors", "")
  _require(not (vectors and check_data) or os.path.isfile(vectors),
           "model.word_vectors",
           f"{vectors!r} is not a file; give a GloVe text file, or \"\" to "
           f"train the embeddings from scratch.")
  _known(config.select_metric, SELECT_METRICS, "select_metric")
  _known(config.shot_thresholds, SHOT_THRESHOLDS, "shot_thresholds")
  q = tuple(config.shot_quantiles)
  _require(len(q) == 2 and 0 <= q[0] <= q[1] <= 1, "shot_quantiles",
           f"must be (few, many) with 0 <= few <= many <= 1, got {q}.")
  if check_data:  # False: the loop was given a dataset object
    _data.validate_data_config(config.data)
