r"""AgeDB-DIR, lds: L1 weighted by sqrt-inverse LDS weights (gaussian window, ks
= 5, sigma = 2).

AgeDB-DIR (12,208 train / 2,140 val / 2,140 test), ResNet-50 from scratch,
224x224, Adam 1e-3, batch 256, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/agedb_dir/lds.py \
      --workdir=/tmp/ltjax/agedb_dir/lds \
      --config.data.path=/path/to/agedb.csv \
      --config.data.image_root=/path/to/data

No figure for this row in METHODS.md; compare with Yang et al. 2021, Table 1
(vanilla 7.77 and LDS + FDS 7.55 MAE overall bracket it).

Append `:EPOCHS` to the config path for a shorter run with the learning-rate
decays scaled (e.g. `lds.py:30`). Data paths come only from `config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("agedb_dir", "lds", arg)
