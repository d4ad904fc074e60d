r"""ltjax's re-samplers against imbalanced-learn's on real tabular data.

  pip install -e '.[bench]'   # imbalanced-learn, scikit-learn
  python -m benchmarks.resample_tabular \
      --abalone=../shared/data/abalone/abalone.data \
      --mnist=../shared/data/mnist --seeds=0,1,2

Each dataset is split (stratified) into train and test per seed; the
training split is re-sampled by each method (ltjax `random_under_sample`,
`random_over_sample`, `smote`, `adasyn`, `mixing.transfer_head_variation`,
and imbalanced-learn's `RandomUnderSampler`, `RandomOverSampler`, `SMOTE`,
`ADASYN`, all with their defaults: balanced to the largest class, or to the
smallest for under-sampling, k = 5), then the same scikit-learn
`LogisticRegression` is fitted and scored by balanced accuracy (the mean of
per-class recalls) on the untouched test split. Prints a markdown table:
mean +- std over seeds, and the mean re-sampling time.

Datasets:
  abalone: UCI abalone, rings binned into 7 classes (<= 6, 7-8, 9-10,
    11-13, 14-16, 17-19, >= 20: 448 ... 62 examples), sex one-hot + 7
    measurements standardised on the training split; 70 / 30 split.
  mnist_lt: MNIST training images subsampled to an exponential long tail
    (1000 ... 10 per class, imbalance 100, a fresh draw per seed), pixels
    / 255 projected on the training subset's 50 principal components; the
    official 10,000 test images.
"""

import gzip
import os
import time

from absl import app
from absl import flags
import jax
import numpy as np

from ltjax import mixing
from ltjax import sampling

_ABALONE = flags.DEFINE_string("abalone", None, "The UCI abalone.data file.")
_MNIST = flags.DEFINE_string("mnist", None,
                             "Folder of the MNIST IDX .gz files.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_K = flags.DEFINE_integer("k_neighbors", 5, "k of SMOTE and ADASYN.")

RING_EDGES = (7, 9, 11, 14, 17, 20)  # class = number of edges <= rings


def load_abalone(path: str, seed: int):
  """(x_train, y_train, x_test, y_test) of binned abalone rings."""
  from sklearn import model_selection  # pylint: disable=g-import-not-at-top
  rows = np.genfromtxt(path, delimiter=",", dtype=str)
  sex = np.stack([rows[:, 0] == s for s in "MFI"], axis=1).astype(float)
  x = np.concatenate([sex, rows[:, 1:8].astype(float)], axis=1)
  y = np.searchsorted(RING_EDGES, rows[:, 8].astype(int), side="right")
  x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
      x, y, test_size=0.3, stratify=y, random_state=seed)
  mean, std = x_tr.mean(0), x_tr.std(0) + 1e-12
  return (x_tr - mean) / std, y_tr, (x_te - mean) / std, y_te


def _idx(path: str) -> np.ndarray:
  with gzip.open(path, "rb") as f:
    raw = f.read()
  ndim = raw[3]
  shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
           for i in range(ndim)]
  return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist_lt(folder: str, seed: int, *, largest: int = 1000,
                  ratio: float = 100.0, dim: int = 50):
  """(x_train, y_train, x_test, y_test): long-tailed MNIST, PCA features."""
  from sklearn import decomposition  # pylint: disable=g-import-not-at-top
  x = _idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
  y = _idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
  x_te = _idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"))
  y_te = _idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
  counts = [int(largest * ratio ** (-c / 9)) for c in range(10)]
  rng = np.random.default_rng(seed)
  keep = np.concatenate([rng.choice(np.flatnonzero(y == c), n,
                                    replace=False)
                         for c, n in enumerate(counts)])
  pca = decomposition.PCA(dim, random_state=seed)
  x_tr = pca.fit_transform(x[keep].reshape(len(keep), -1) / 255.0)
  x_te = pca.transform(x_te.reshape(len(x_te), -1) / 255.0)
  return x_tr, y[keep].astype(np.int64), x_te, y_te.astype(np.int64)


def methods(k: int):
  """{name: (x, y, seed) -> (x, y)}: every re-sampler compared."""
  from imblearn import over_sampling  # pylint: disable=g-import-not-at-top
  from imblearn import under_sampling  # pylint: disable=g-import-not-at-top

  def ltjax_fn(fn, mode="over", **kwargs):
    def resample(x, y, seed):
      target = sampling.target_counts(
          np.bincount(y), level="min" if mode == "under" else "max",
          mode=mode)
      return fn(x, y, jax.random.key(seed), target_counts=target, **kwargs)
    return resample

  def imblearn_fn(cls, **kwargs):
    def resample(x, y, seed):
      return cls(random_state=seed, **kwargs).fit_resample(x, y)
    return resample

  def head_variation(x, y, seed):
    counts = np.bincount(y)
    return mixing.transfer_head_variation(
        x, y, jax.random.key(seed), target_counts=sampling.target_counts(
            counts), head_classes=np.flatnonzero(counts >= np.median(counts)))

  return {
      "none": lambda x, y, seed: (x, y),
      "under (ltjax)": ltjax_fn(sampling.random_under_sample, "under"),
      "under (imblearn)": imblearn_fn(under_sampling.RandomUnderSampler),
      "over (ltjax)": ltjax_fn(sampling.random_over_sample),
      "over (imblearn)": imblearn_fn(over_sampling.RandomOverSampler),
      "SMOTE (ltjax)": ltjax_fn(sampling.smote, k_neighbors=k),
      "SMOTE (imblearn)": imblearn_fn(over_sampling.SMOTE, k_neighbors=k),
      "ADASYN (ltjax)": ltjax_fn(sampling.adasyn, k_neighbors=k),
      "ADASYN (imblearn)": imblearn_fn(over_sampling.ADASYN, n_neighbors=k),
      "head variation (ltjax)": head_variation,
  }


def evaluate(x_tr, y_tr, x_te, y_te) -> float:
  """Balanced test accuracy of a logistic regression fitted on the train."""
  from sklearn import linear_model  # pylint: disable=g-import-not-at-top
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  model = linear_model.LogisticRegression(max_iter=2000)
  model.fit(x_tr, y_tr)
  return float(metrics.balanced_accuracy_score(y_te, model.predict(x_te)))


def main(argv):
  del argv
  loaders = {}
  if _ABALONE.value:
    loaders["abalone"] = lambda seed: load_abalone(_ABALONE.value, seed)
  if _MNIST.value:
    loaders["mnist_lt"] = lambda seed: load_mnist_lt(_MNIST.value, seed)
  if not loaders:
    raise app.UsageError("give --abalone and/or --mnist.")
  seeds = [int(s) for s in _SEEDS.value]
  table = methods(_K.value)
  jax.random.key_data(jax.random.key(0))  # JAX's start-up is not timed.
  for name, load in loaders.items():
    scores = {m: [] for m in table}
    times = {m: [] for m in table}
    sizes = {}
    for seed in seeds:
      x_tr, y_tr, x_te, y_te = load(seed)
      sizes = {"train": np.bincount(y_tr).tolist(), "test": len(y_te)}
      for method, resample in table.items():
        start = time.perf_counter()
        x_rs, y_rs = resample(x_tr, y_tr, seed)
        times[method].append(time.perf_counter() - start)
        scores[method].append(evaluate(x_rs, y_rs, x_te, y_te))
    print(f"\n### {name}: train counts {sizes['train']}, test "
          f"{sizes['test']}, seeds {seeds}\n")
    print("| method | balanced accuracy (%) | re-sampling time (s) |")
    print("|---|---|---|")
    for method in table:
      s = 100 * np.array(scores[method])
      print(f"| {method} | {s.mean():.2f} ± {s.std():.2f} | "
            f"{np.mean(times[method]):.3f} |")


if __name__ == "__main__":
  app.run(main)
