"""Classification on your own CSV table of features (`data.name = "csv"`).

`build(method, arg)` is the recipe shared by the config files here: the
`csv` data source (`ltjax.data.read_csv_table`: numeric columns as they
are, text columns one-hot, a label column named by header or index), an
MLP (256, 256) on the standardised features, SGD with momentum, batch 64,
30 epochs with the learning rate x0.1 at 24 and x0.01 at 27 (the DRW / DRS
switch at 24), and any method of `experiments/configs/common.METHODS`.
"""

from experiments.configs import common
from ltjax import data
from ltjax import train


def build(method: str, arg: str | None = None):
  """The config of `method` on a CSV table; `arg` = epochs of a short run."""
  if method not in common.METHODS:
    raise ValueError(
        f"unknown method {method!r}; known: {list(common.METHODS)}.")
  config = train.default_config()
  config.data = data.default_data_config("csv")
  config.model.name = "mlp"
  config.augment.padding = 0  # Feature vectors: no crop or flip.
  config.augment.flip = False
  config.num_epochs = 30
  config.batch_size = 64
  config.eval_batch_size = 256
  config.optim.lr = 0.05
  config.optim.weight_decay = 5e-4
  config.optim.warmup_epochs = 1
  config.optim.decay_epochs = (24, 27)
  config.optim.decay_factors = (0.1, 0.01)
  config.loss.drw_start_epoch = 24
  config.sampler.start_epoch = 24
  common.METHODS[method](config)
  epochs = train.epochs_argument(arg, method)
  if epochs:
    train.scale_schedule(config, epochs, also=("loss.drw_start_epoch",
                                                "sampler.start_epoch"))
  return config
