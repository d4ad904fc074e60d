r"""AgeDB-DIR, lds_fds: sqrt-inverse LDS weights and FDS together (the paper's
best row).

AgeDB-DIR (12,208 train / 2,140 val / 2,140 test), ResNet-50 from scratch,
224x224, Adam 1e-3, batch 256, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/agedb_dir/lds_fds.py \
      --workdir=/tmp/ltjax/agedb_dir/lds_fds \
      --config.data.path=/path/to/agedb.csv \
      --config.data.image_root=/path/to/data

Should approach the published AgeDB-DIR MAE all / many / medium / few: 7.55 /
7.01 / 8.24 / 10.79 (Yang et al. 2021, sqrt-inv + LDS + FDS).

Append `:EPOCHS` to the config path for a shorter run with the learning-rate
decays scaled (e.g. `lds_fds.py:30`). Data paths come only from `config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("agedb_dir", "lds_fds", arg)
