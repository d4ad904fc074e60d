"""Deep imbalanced regression (Yang et al. 2021, arXiv 2102.09554).

Label bins (`bin_edges`, `data_bin_edges`, `quantile_bin_edges`,
`range_bin_edges`, `bin_index`, `bin_counts`, `count_outside`), smoothing
windows (`kernel_window`), label distribution smoothing (`lds_weights`,
`lds_bin_weights`, `smoothed_label_density`), feature distribution smoothing
as an explicit state (`FDSState`, `init_fds`, `update_fds`, `accumulate_fds`,
`commit_fds`, `smooth_fds`, `calibrate_features`), per-example regression
losses (weighted L1 / MSE, focal-R, Huber, Balanced MSE `bmc_loss`,
`bni_loss`, `gai_loss` with `fit_label_gmm`), mergeable error sums with many /
medium / few-shot MAE, MSE and GM (`RegressionSums`, `regression_summary`,
`per_bin_errors`, `shot_thresholds`), regressor re-training
(`retrain_regressor`), RankSim (`ranksim_regularizer`, `blackbox_rank`,
`one_per_label`), SMOGN re-sampling (`smogn`, `relevance`,
`resample_dataset`), the datasets (abalone, AgeDB-DIR, IMDB-WIKI-DIR, your
own CSV table with `load_csv`), the benchmark configs (`build_config`) and
`train_and_evaluate(config, workdir)`.
"""

from ltjax.data._bins import bin_centers
from ltjax.data._bins import bin_counts
from ltjax.data._bins import bin_edges
from ltjax.data._bins import bin_index
from ltjax.data._bins import count_outside
from ltjax.data._bins import data_bin_edges
from ltjax.data._bins import quantile_bin_edges
from ltjax.data._bins import range_bin_edges
from ltjax.regression._config import default_config
from ltjax.regression._config import LOSSES
from ltjax.regression._config import validate_config
from ltjax.regression._data import balanced_val_test
from ltjax.regression._data import default_data_config
from ltjax.regression._data import ImageRegressionSplit
from ltjax.regression._data import load_abalone
from ltjax.regression._data import load_age_dataset
from ltjax.regression._data import load_csv
from ltjax.regression._data import load_regression_dataset
from ltjax.regression._data import read_abalone
from ltjax.regression._data import read_abalone_rows
from ltjax.regression._data import read_age_csv
from ltjax.regression._data import RegressionDataset
from ltjax.regression._data import RegressionSplit
from ltjax.regression._fds import accumulate_fds
from ltjax.regression._fds import bin_statistics
from ltjax.regression._fds import calibrate_features
from ltjax.regression._fds import commit_fds
from ltjax.regression._fds import FDSState
from ltjax.regression._fds import init_fds
from ltjax.regression._fds import smooth_fds
from ltjax.regression._fds import update_fds
from ltjax.regression._kernels import kernel_window
from ltjax.regression._kernels import KERNELS
from ltjax.regression._lds import lds_bin_weights
from ltjax.regression._lds import lds_weights
from ltjax.regression._lds import REWEIGHTS
from ltjax.regression._lds import smooth_histogram
from ltjax.regression._lds import smoothed_label_density
from ltjax.regression._losses import bmc_loss
from ltjax.regression._losses import bni_loss
from ltjax.regression._losses import focal_l1_loss
from ltjax.regression._losses import fit_label_gmm
from ltjax.regression._losses import focal_mse_loss
from ltjax.regression._losses import gai_loss
from ltjax.regression._losses import huber_loss
from ltjax.regression._losses import weighted_l1_loss
from ltjax.regression._losses import weighted_mse_loss
from ltjax.regression._metrics import per_bin_errors
from ltjax.regression._metrics import regression_summary
from ltjax.regression._metrics import RegressionSums
from ltjax.regression._metrics import shot_thresholds
from ltjax.regression._optim import adam
from ltjax.regression._ranksim import blackbox_rank
from ltjax.regression._ranksim import one_per_label
from ltjax.regression._ranksim import ranksim_regularizer
from ltjax.regression._recipes import build_config
from ltjax.regression._recipes import METHODS
from ltjax.regression._rrt import retrain_regressor
from ltjax.regression._smogn import relevance
from ltjax.regression._smogn import resample_dataset
from ltjax.regression._smogn import ResampledDataset
from ltjax.regression._smogn import RESAMPLERS
from ltjax.regression._smogn import smogn
from ltjax.train import build_run
from ltjax.train import train_and_evaluate

__all__ = (
    "FDSState",
    "ImageRegressionSplit",
    "KERNELS",
    "LOSSES",
    "METHODS",
    "RESAMPLERS",
    "REWEIGHTS",
    "RegressionDataset",
    "RegressionSplit",
    "RegressionSums",
    "ResampledDataset",
    "accumulate_fds",
    "adam",
    "balanced_val_test",
    "bin_centers",
    "bin_counts",
    "bin_edges",
    "bin_index",
    "bin_statistics",
    "blackbox_rank",
    "bmc_loss",
    "bni_loss",
    "build_config",
    "build_run",
    "calibrate_features",
    "commit_fds",
    "count_outside",
    "data_bin_edges",
    "default_config",
    "default_data_config",
    "focal_l1_loss",
    "fit_label_gmm",
    "focal_mse_loss",
    "gai_loss",
    "huber_loss",
    "init_fds",
    "kernel_window",
    "lds_bin_weights",
    "lds_weights",
    "one_per_label",
    "load_abalone",
    "load_age_dataset",
    "load_csv",
    "load_regression_dataset",
    "per_bin_errors",
    "quantile_bin_edges",
    "range_bin_edges",
    "read_abalone",
    "ranksim_regularizer",
    "read_abalone_rows",
    "read_age_csv",
    "regression_summary",
    "relevance",
    "resample_dataset",
    "retrain_regressor",
    "shot_thresholds",
    "smogn",
    "smooth_fds",
    "smooth_histogram",
    "smoothed_label_density",
    "train_and_evaluate",
    "update_fds",
    "validate_config",
    "weighted_l1_loss",
    "weighted_mse_loss",
)
