r"""Your CSV table, smogn.

  python -m experiments.main --config=csv_dir/smogn \
      --workdir=/tmp/ltjax/csv_dir/smogn \
      --config.data.path=/path/to/table.csv --config.data.target=price

Plain L1 on the training split re-sampled once at start-up by SMOGN
(Branco et al. 2017; relevance from the smoothed label histogram, threshold
0.5, k = 5 neighbours, perturbation 0.02, "balance"); the bins and shot
groups are those of the original training targets.

No published figure: your own regression data.
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("csv_dir", "smogn", arg)
