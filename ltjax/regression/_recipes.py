"""The DIR benchmark's configs: the regression rows of `ltjax.recipes`.

`build_config(dataset, method, arg)` is `ltjax.recipes.build`; `METHODS` and
`DATASETS` are the regression methods and datasets of that one table.
"""

import ml_collections

from ltjax import recipes

METHODS = recipes.METHODS["regression"]
DATASETS = recipes.datasets_of("regression")


def build_config(dataset: str, method: str,
                 arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on `dataset`; `arg` = epochs of a short run."""
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}.")
  return recipes.build(dataset, method, arg)
