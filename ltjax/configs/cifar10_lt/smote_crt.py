r"""CIFAR-10-LT, smote_crt.

  python -m experiments.main --config=cifar10_lt/smote_crt \
      --workdir=/tmp/ltjax/cifar10_lt/smote_crt

A plain cross-entropy model, then cRT on its frozen backbone's cached
features, SMOTE-balanced first (every class to the largest one's count,
k = 5 nearest same-class neighbours, imbalanced-learn's rules;
`ltjax.sampling.smote`): SMOTE in the feature space of a trained backbone
feeding the head-retraining routine. Add
--config.stage2.backbone_workdir=A_FINISHED_CE_RUN to skip stage 1 and
re-train the head of that run's backbone.

No published figure (no paper reports SMOTE on deep features with this
schedule; compare with the ce run's decoupled cRT).
"""

from ltjax import recipes


def get_config(arg=None):
  return recipes.build("cifar10_lt", "smote_crt", arg)
