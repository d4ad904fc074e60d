r"""Abalone-DIR, lds_fds.

  python -m experiments.main --config=abalone_dir/lds_fds \
      --workdir=/tmp/ltjax/abalone_dir/lds_fds \
      --config.data.path=/path/to/abalone.data

Sqrt-inverse LDS weights and FDS together (the paper's best row).

No published figure (abalone is not in the DIR paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "lds_fds", arg)
