"""Long-tailed datasets: imbalance profiles, sources, splits and a registry.

`load_dataset(config)` builds a `LongTailedDataset` (train / val / test
splits, class names, training class counts, and metadata recording exactly
which data it is) from any of the formats below; `default_data_config(name)`
gives the config fields. Your own data: `from_arrays` (images or feature
vectors in memory), and the registry's `folder`, `list`, `csv` (a table of
features, read by `read_csv_table`, which the regression task shares) and
`tfds` (any prepared TFDS set by name). `augment` / `random_crop_flip` /
`normalize` are the jittable on-device augmentation: the host ships uint8
batches (feature vectors are only standardised). The profiles and subsets
follow Cao et al. (arXiv 1906.07413), so `seed=0` reproduces the LDAM-DRW
CIFAR-LT training sets.
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
from ltjax.data._csv import read_csv_table
from ltjax.data._download import default_data_dir
from ltjax.data._download import download_dataset
from ltjax.data._download import download_file
from ltjax.data._download import DownloadError
from ltjax.data._download import DOWNLOADS
from ltjax.data._download import DownloadSpec
from ltjax.data._folder import read_image_folder
from ltjax.data._idx import read_idx_file
from ltjax.data._idx import read_mnist
from ltjax.data._images import decode_image
from ltjax.data._lists import read_class_counts_file
from ltjax.data._lists import read_list_file
from ltjax.data._profiles import long_tail_counts
from ltjax.data._profiles import make_long_tailed
from ltjax.data._profiles import PROFILES
from ltjax.data._registry import DATASETS
from ltjax.data._registry import DatasetSpec
from ltjax.data._registry import default_data_config
from ltjax.data._registry import detect_format
from ltjax.data._registry import load_dataset
from ltjax.data._registry import validate_data_config
from ltjax.data._splits import balanced_holdout
from ltjax.data._splits import index_digest
from ltjax.data._tfds import DataNotFoundError
from ltjax.data._tfds import read_tfds
from ltjax.data._types import ArraySplit
from ltjax.data._types import FeatureSplit
from ltjax.data._types import LongTailedDataset
from ltjax.data._types import SourceData
from ltjax.data._types import Split
from ltjax.data._types import StreamedSplit

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
    "DATASETS",
    "DOWNLOADS",
    "DataNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "DownloadSpec",
    "FeatureSplit",
    "LongTailedDataset",
    "PROFILES",
    "SourceData",
    "Split",
    "StreamedSplit",
    "balanced_holdout",
    "decode_image",
    "default_data_config",
    "default_data_dir",
    "detect_format",
    "download_dataset",
    "download_file",
    "from_arrays",
    "index_digest",
    "load_dataset",
    "long_tail_counts",
    "make_long_tailed",
    "read_cifar",
    "read_csv_table",
    "read_class_counts_file",
    "read_idx_file",
    "read_image_folder",
    "read_list_file",
    "read_mnist",
    "read_tfds",
    "validate_data_config",
)
