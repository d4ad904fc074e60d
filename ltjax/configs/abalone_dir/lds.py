r"""Abalone-DIR, lds.

  python -m experiments.main --config=abalone_dir/lds \
      --workdir=/tmp/ltjax/abalone_dir/lds \
      --config.data.path=/path/to/abalone.data

L1 weighted by sqrt-inverse LDS weights (gaussian window, ks = 5, sigma = 2).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "lds", arg)
