"""Datasets of both tasks: imbalance profiles, sources, splits and a registry.

`load_dataset(config)` builds a `LongTailedDataset` (train / val / test
splits, class names, training class counts, and metadata recording exactly
which data it is) from any of the formats below; `default_data_config(name)`
gives the config fields. The same registry builds the deep imbalanced
regression datasets (`RegressionDataset`: abalone, agedb_dir, imdb_wiki_dir,
sts_b_dir (sentence pairs as a `TokenRegressionSplit` of token ids), and
`csv` / `npz` with `task="regression"`) with the DIR split: val and test
balanced over the target (`balanced_val_test`). Your own data: `from_arrays`
(images or feature vectors in memory), and the registry's `npz` (a NumPy
file of inputs and labels or targets: the first thing to try), `csv` (a
table of features, read by `read_csv_table`), `folder`, `list` and `tfds`
(any prepared TFDS set by name); `csv` and `npz` serve both tasks. Texts:
`imdb`, `text_csv` (a CSV of texts and labels) and `rotten_tomatoes`,
tokenised at load time into a `TokenSplit` of int32 ids.

Every split follows one contract, for image and tabular inputs and both
tasks (`Split`; `ArraySplit`, `StreamedSplit`, `FeatureSplit`,
`TokenSplit`, `RegressionSplit`, `ImageRegressionSplit`):

  len(split)                       N examples (also `split.num_examples`)
  split.get_batch(indices, *, rng=None) -> (inputs [b, ...], targets [b])
                                   indices int [b] in [0, N); `rng` (a
                                   `np.random.Generator`) only drives the
                                   host-side crops of streamed image lists
  split.targets                    [N]: int32 labels (classification, also
                                   `split.labels`) or float32 targets
  split.input_shape, input_dtype   one input's shape ((H, W, C), (D,) or
                                   (L,); also `image_shape`) and dtype
                                   (uint8 images, float32 features, int32
                                   token ids)
  split.input_kind                 "image", "features", "tokens" or
                                   "token_pairs"

The splits of one dataset are recorded by `index_digest` (16 hex digits of
the indices as little-endian int64) in its metadata.

Example (your own NumPy file, either task):
  >>> np.savez("mine.npz", x=features, y=labels)  # float [N, D], int [N]
  >>> config = ltjax.data.default_data_config("npz")
  >>> config.path = "mine.npz"
  >>> config.imbalance_profile = "exp"; config.imbalance_ratio = 50.0
  >>> dataset = ltjax.data.load_dataset(config)  # long-tailed train split
  >>> config = ltjax.data.default_data_config("npz", task="regression")
  >>> config.path = "prices.npz"  # y: float targets; DIR val / test split
  >>> dataset = ltjax.data.load_dataset(config, task="regression")
 `augment` / `random_crop_flip` /
`normalize` are the jittable on-device augmentation: the host ships uint8
batches (feature vectors are only standardised). `strong_augment` is the
second view of contrastive training (random-resized crop, flip, colour
jitter, grayscale, and `rand_augment` or `auto_augment_cifar`), built from
the same kind of jittable per-image ops. The profiles and subsets
follow Cao et al. (arXiv 1906.07413), so `seed=0` reproduces the LDAM-DRW
CIFAR-LT training sets. `shifted_test_indices` sub-samples a balanced test
set to a shifted label distribution (SADE's forward / backward-LT sets,
`SHIFT_PROTOCOL`, and LDAM's test imbalanced like the training set).
"""

from ltjax.data._archives import CorruptArchiveError
from ltjax.data._arrays import from_arrays
from ltjax.data._augment import augment
from ltjax.data._augment import CIFAR_MEAN
from ltjax.data._augment import CIFAR_STD
from ltjax.data._augment import IMAGENET_MEAN
from ltjax.data._augment import IMAGENET_STD
from ltjax.data._augment import MNIST_MEAN
from ltjax.data._augment import MNIST_STD
from ltjax.data._augment import normalize
from ltjax.data._augment import random_crop_flip
from ltjax.data._cifar import read_cifar
from ltjax.data._csv import CsvSchema
from ltjax.data._csv import CsvTable
from ltjax.data._csv import read_csv_features
from ltjax.data._csv import read_csv_table
from ltjax.data._csv_dataset import load_csv
from ltjax.data._download import default_data_dir
from ltjax.data._download import download_dataset
from ltjax.data._download import download_file
from ltjax.data._download import DownloadError
from ltjax.data._download import DOWNLOADS
from ltjax.data._download import DownloadSpec
from ltjax.data._dir_datasets import load_abalone
from ltjax.data._dir_datasets import load_age_dataset
from ltjax.data._dir_datasets import read_abalone
from ltjax.data._dir_datasets import read_abalone_rows
from ltjax.data._dir_datasets import read_age_csv
from ltjax.data._folder import read_image_folder
from ltjax.data._formats import detect_format
from ltjax.data._idx import read_idx_file
from ltjax.data._idx import read_mnist
from ltjax.data._images import decode_image
from ltjax.data._lists import read_class_counts_file
from ltjax.data._lists import read_list_file
from ltjax.data._npz_dataset import read_npz
from ltjax.data._profiles import long_tail_counts
from ltjax.data._profiles import make_long_tailed
from ltjax.data._profiles import PROFILES
from ltjax.data._registry import DATASETS
from ltjax.data._registry import DatasetSpec
from ltjax.data._registry import default_data_config
from ltjax.data._registry import load_dataset
from ltjax.data._registry import TASKS
from ltjax.data._registry import validate_data_config
from ltjax.data._shift import SHIFT_KINDS
from ltjax.data._shift import SHIFT_PROTOCOL
from ltjax.data._shift import shifted_class_counts
from ltjax.data._shift import shifted_class_weights
from ltjax.data._shift import shifted_test_indices
from ltjax.data._splits import balanced_holdout
from ltjax.data._splits import balanced_val_test
from ltjax.data._splits import dataset_digests
from ltjax.data._splits import index_digest
from ltjax.data._splits import split_digest
from ltjax.data._strong_augment import apply_op
from ltjax.data._strong_augment import auto_augment_cifar
from ltjax.data._strong_augment import CIFAR10_POLICY
from ltjax.data._strong_augment import color_jitter
from ltjax.data._strong_augment import OP_NAMES
from ltjax.data._strong_augment import POLICIES
from ltjax.data._strong_augment import RAND_AUGMENT_OPS
from ltjax.data._strong_augment import rand_augment
from ltjax.data._strong_augment import random_grayscale
from ltjax.data._strong_augment import random_resized_crop
from ltjax.data._strong_augment import strong_augment
from ltjax.data._tfds import DataNotFoundError
from ltjax.data._tfds import read_tfds
from ltjax.data._types import ArraySplit
from ltjax.data._types import FeatureSplit
from ltjax.data._types import ImageRegressionSplit
from ltjax.data._types import LongTailedDataset
from ltjax.data._types import RegressionDataset
from ltjax.data._types import RegressionSplit
from ltjax.data._types import SourceData
from ltjax.data._types import Split
from ltjax.data._types import StreamedSplit
from ltjax.data._types import TokenRegressionSplit
from ltjax.data._types import TokenSplit

__all__ = (
    "ArraySplit",
    "CsvSchema",
    "CsvTable",
    "CIFAR_MEAN",
    "CorruptArchiveError",
    "CIFAR_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "augment",
    "normalize",
    "random_crop_flip",
    "apply_op",
    "auto_augment_cifar",
    "CIFAR10_POLICY",
    "color_jitter",
    "OP_NAMES",
    "POLICIES",
    "RAND_AUGMENT_OPS",
    "rand_augment",
    "random_grayscale",
    "random_resized_crop",
    "strong_augment",
    "DATASETS",
    "DOWNLOADS",
    "DataNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "DownloadSpec",
    "FeatureSplit",
    "ImageRegressionSplit",
    "LongTailedDataset",
    "PROFILES",
    "RegressionDataset",
    "RegressionSplit",
    "SHIFT_KINDS",
    "SHIFT_PROTOCOL",
    "SourceData",
    "Split",
    "StreamedSplit",
    "TokenRegressionSplit",
    "TokenSplit",
    "TASKS",
    "balanced_holdout",
    "balanced_val_test",
    "decode_image",
    "default_data_config",
    "default_data_dir",
    "detect_format",
    "download_dataset",
    "download_file",
    "from_arrays",
    "dataset_digests",
    "index_digest",
    "split_digest",
    "load_abalone",
    "load_age_dataset",
    "load_csv",
    "load_dataset",
    "long_tail_counts",
    "make_long_tailed",
    "read_cifar",
    "read_csv_features",
    "read_csv_table",
    "read_class_counts_file",
    "read_idx_file",
    "read_image_folder",
    "read_list_file",
    "read_abalone",
    "read_abalone_rows",
    "read_age_csv",
    "read_mnist",
    "read_npz",
    "read_tfds",
    "shifted_class_counts",
    "shifted_class_weights",
    "shifted_test_indices",
    "validate_data_config",
)
