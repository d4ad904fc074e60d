"""The classification rows of `ltjax.recipes` (the name the config files and
tests used before the table moved into the library).

`build(dataset, method, arg)` is `ltjax.recipes.build`; `METHODS` are the
classification methods, `DATASETS` the image datasets with a config folder
of every method (cifar10_lt, cifar100_lt, mnist_lt).
"""

from ltjax import recipes

build = recipes.build
METHODS = recipes.METHODS["classification"]
DATASETS = {name: recipes.DATASETS[name].recipe
            for name in ("cifar10_lt", "cifar100_lt", "mnist_lt")}
