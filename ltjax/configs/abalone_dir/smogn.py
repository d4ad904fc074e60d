r"""Abalone-DIR, smogn.

  python -m experiments.main --config=abalone_dir/smogn \
      --workdir=/tmp/ltjax/abalone_dir/smogn \
      --config.data.path=/path/to/abalone.data

Plain L1 on the training split re-sampled once at start-up by SMOGN
(Branco et al. 2017; relevance from the smoothed label histogram, threshold
0.5, k = 5 neighbours, perturbation 0.02, "balance"); the bins and shot
groups are those of the original training targets.

No published figure (abalone is in neither the RankSim nor the SMOGN paper).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("abalone_dir", "smogn", arg)
