r"""AgeDB-DIR, vanilla: plain L1 loss, no re-weighting.

AgeDB-DIR (12,208 train / 2,140 val / 2,140 test), ResNet-50 from scratch,
224x224, Adam 1e-3, batch 256, 90 epochs, x0.1 at 60 and 80.

  python -m experiments.main \
      --config=experiments/configs/agedb_dir/vanilla.py \
      --workdir=/tmp/ltjax/agedb_dir/vanilla \
      --config.data.path=/path/to/agedb.csv \
      --config.data.image_root=/path/to/data

Should approach the published AgeDB-DIR MAE all / many / medium / few: 7.77 /
6.62 / 9.55 / 13.67 (Yang et al. 2021, vanilla).

Append `:EPOCHS` to the config path for a shorter run with the learning-rate
decays scaled (e.g. `vanilla.py:30`). Data paths come only from `config.data`.
"""

from ltjax import regression


def get_config(arg=None):
  return regression.build_config("agedb_dir", "vanilla", arg)
