"""The benchmark recipes of every task: one table of datasets x methods.

`build(dataset, method, arg)` is the config every
`experiments/configs/<dataset>/<method>.py` returns: the task's
`ltjax.train.default_config(task)`, the dataset's recipe (`DATASETS`), then
the method's changes (`METHODS[task]`). `arg` (after a colon in
`--config=`) is a number of epochs for a shorter run: every duration field
(named `*epoch` / `*epochs`: the warm-up, the learning-rate decays, the DRW
/ DRS switch, `rrt.epochs`) is scaled by the same factor
(`ltjax.train.scale_schedule`), so each method keeps its relative schedule.

    config = recipes.build("cifar10_lt", "ldam_drw", "30")

Classification (`cifar10_lt`, `cifar100_lt`: ResNet-32, SGD 0.1, batch 128,
200 epochs, x0.01 at 160 and x0.0001 at 180, the LDAM-DRW recipe;
`mnist_lt`: a small CNN, 10 epochs; `csv_lt`: your own table, an MLP, 30
epochs; `text_lt`: texts, a 2-layer BiLSTM with Adam, 10 epochs, as
LDAM-DRW's imbalanced-IMDB experiment, on the Rotten Tomatoes reviews by
default) with the methods `METHODS["classification"]`. Regression
(`abalone_dir`: an MLP, a CPU-sized task; `agedb_dir`, `imdb_wiki_dir`:
ResNet-50 from scratch on 224 x 224 faces, Adam 1e-3, weight decay 1e-4,
batch 256, 90 epochs, x0.1 at 60 and 80, L1 loss, as the reference scripts;
`csv_dir`: your own table, abalone's recipe with bins from the training
targets, standardised targets and quantile shot thresholds; `sts_b_dir`:
sentence pairs, the reference's BiLSTM pair encoder, MSE, bins of 0.1 on
[0, 5]) with the methods `METHODS["regression"]` (on `sts_b_dir` adapted as
the reference's STS-B-DIR scripts run them: `AFTER_METHOD`).

Regression hyperparameters are in label units. The bins (`bins.low` /
`high` / `width`), the Huber threshold `loss.huber_beta`, focal-R's
`loss.beta` (it scales |e|), Balanced MSE's `loss.noise_sigma` (initial or
fixed sigma) and its `loss.mse_weight` (per squared unit) are in the units
of the target; LDS and FDS kernels (`ks`, `sigma`) are in bins, so their
reach in label units is the bin width times that. The optimiser couples to
the units too: with L1 the gradient does not scale with the target but the
size of the output the network must reach does (a target x100 needs x100
larger weights: far more steps at the same `optim.lr`, and a coupled
`optim.weight_decay` pulls harder on them); with MSE / Balanced MSE the
gradients scale with the target. With `data.standardize_targets` (default
for `csv_dir`) the loss, the output and `loss.huber_beta`, `loss.beta`,
`loss.noise_sigma` and `loss.mse_weight` are in units of the training
targets' std instead; the bins, metrics and predictions stay in the
original units.
"""

from collections.abc import Callable
from typing import NamedTuple

import ml_collections

from ltjax import data
from ltjax import models
from ltjax import train

Recipe = Callable[[ml_collections.ConfigDict], None]


# Classification methods.


def _ce(config):
  config.loss.name = "ce"


def _focal(config):
  config.loss.name = "focal"
  config.loss.gamma = 1.0


def _cb_focal(config):
  config.loss.name = "cb_focal"  # focal + effective-number weights
  config.loss.gamma = 1.0
  config.loss.beta = 0.9999


def _ldam(config):
  config.loss.name = "ldam"
  config.model.head = "normalized"


def _ldam_drw(config):
  _ldam(config)
  config.loss.reweight = "drw"


def _ce_drw(config):
  config.loss.name = "ce"
  config.loss.reweight = "drw"


def _reweight(config):
  # LDAM-DRW's re-weighting baseline (RW, arXiv 1906.07413 Tables 1-2): CE
  # with inverse class-frequency weights for the whole schedule.
  config.loss.name = "ce"
  config.loss.reweight = "inverse"


def _logit_adjusted(config):
  config.loss.name = "logit_adjusted"
  config.loss.tau = 1.0


def _balanced_softmax(config):
  config.loss.name = "balanced_softmax"


def _sampled(name, **fields):
  def recipe(config):
    config.loss.name = "ce"
    config.sampler.name = name
    config.sampler.update(fields)
  return recipe


# The strongest simple recipes (issue 14): mixing, SAM, new losses.


def _mixup(config, *, alpha=1.0, targets="mixed"):
  config.mixing.name = "mixup"
  config.mixing.alpha = alpha
  config.mixing.targets = targets


def _mixup_drw_bs(config):
  # Bag-of-Tricks (Zhang et al., AAAI 2021): input mixup (alpha 1) for the
  # whole schedule, balanced softmax "with DRW": in its code
  # (`BalancedSoftmaxCE.update`) plain CE before the DRW epoch and balanced
  # softmax from it, with no class weights (class weights on top of the
  # balanced softmax over-correct: MNIST-LT 72.4 balanced, many-shot 66 %).
  _mixup(config)
  config.loss.name = "balanced_softmax"
  config.loss.reweight = "none"
  config.loss.deferred_adjustment = True


def _remix_drw(config):
  # Remix (Chou et al. 2007.03943) as Bag-of-Tricks runs it: mixup with
  # Remix's targets (kappa 3, tau 0.5), CE with deferred re-weighting.
  _mixup(config, targets="remix")
  config.loss.name = "ce"
  config.loss.reweight = "drw"


def _vs(config):
  # VS loss (Kini et al., NeurIPS 2021, orparask/VS-Loss): its README's
  # CIFAR-10-LT rho=100 command, gamma 0.2, tau 1.2, no DRW (its script's
  # defaults are gamma 0.3, tau 1; DRW is an option there as here).
  config.loss.name = "vs"
  config.loss.vs_gamma = 0.2
  config.loss.vs_tau = 1.2
  if config.data.name == "mnist_lt":
    # On the 10-epoch proxy the multiplicative part (z / Delta_c) carries
    # its tail-ward shift into the test logits: chosen on MNIST-LT's
    # validation split among gamma 0.05 / 0.1 / 0.2 at tau 1 and the README's
    # (0.2, 1.2): balanced 94.4 / 93.0 / 92.8 / 85.6 % (benchmarks/
    # RESULTS.md, "Right results").
    config.loss.vs_gamma, config.loss.vs_tau = 0.05, 1.0


def _lade(config):
  # LADE (Hong et al. 2012.00321): prior CE + 0.1 LADE, lambda 0.1.
  config.loss.name = "lade"
  config.loss.lade_alpha = 0.1
  config.loss.remine_lambda = 0.1


def _sam_ldam_drw(config):
  # Rangwani et al. (NeurIPS 2022, val-iisc/Saddle-LongTail): LDAM-DRW with
  # SAM, rho 0.8 constant (its CIFAR-10-LT command).
  _ldam_drw(config)
  config.optim.sam_rho = 0.8


def _original_optimiser(config, *, lr, weight_decay, batch_size=64):
  """An original's SGD with cosine annealing, on its own benchmark only.

  GLMC, weight balancing and ImbSAM tuned these for 200-320 CIFAR epochs
  (batch 64, lr 0.01, a large weight decay). On the short proxies
  (`mnist_lt`: 10 epochs; `csv_lt`) they under-train: GLMC's evaluated
  classifier barely leaves its initialisation, ImbSAM's tail classes stay
  near 2 % (benchmarks/RESULTS.md, "Right results"). There the dataset's
  own optimiser stays, as for every other recipe.
  """
  if not _paper_benchmark(config):
    return
  config.batch_size = batch_size
  config.optim.lr = lr
  config.optim.weight_decay = weight_decay
  config.optim.schedule = "cosine"
  config.optim.warmup_epochs = 0


def _paper_benchmark(config) -> bool:
  """Whether the config's dataset is a CIFAR-LT benchmark of the papers."""
  return config.data.name in ("cifar10_lt", "cifar100_lt")


def _imbsam_ce(config):
  # ImbSAM (Zhou et al. 2308.07815, cool-xuan/Imbalanced_SAM): CE, the
  # sharpness-aware ascent (rho 0.05) on the tail classes' loss only, their
  # loss x 2 (as the original), with its optimiser on CIFAR: SGD lr 0.01,
  # weight decay 1e-3, cosine over the schedule, batch 64 (its encoder is a
  # ResNet-34; ltjax keeps the dataset's). The tail classes are those with
  # fewer than eta examples: the original's eta = 20 is for CIFAR-100-LT
  # (rho 100: 30 classes under 20); CIFAR-10-LT (smallest class 50) and
  # MNIST-LT (54) have none, so there eta = 100, the classes below the
  # many-shot threshold (an empty tail set is refused at start-up).
  config.loss.name = "ce"
  config.optim.sam_rho = 0.05
  config.optim.sam_kind = "imbsam"
  config.imbsam_tail_count = 20 if _cifar100(config) else 100
  config.imbsam_tail_weight = 2.0
  _original_optimiser(config, lr=0.01, weight_decay=1e-3)


def _glmc(config):
  # GLMC (Du et al., CVPR 2023, ynu-yangpeng/GLMC README commands for
  # rho = 100): its 4x-wide ResNet-32 on CIFAR, SGD lr 0.01, momentum 0.9,
  # weight decay 5e-3, batch 64, cosine annealing without warm-up, contrast
  # weight 1 (CIFAR-10) / 4 (CIFAR-100), label weighting 1.2; the second
  # sample without replacement. The released code never calls its MaxNorm
  # (max_norm.mode = "relative" adds it, on the evaluated classifier).
  config.glmc.enabled = True
  config.glmc.contrast_weight = 4.0 if _cifar100(config) else 1.0
  if config.model.name == "resnet32":
    config.model.name = "resnet32_x4"
  _original_optimiser(config, lr=0.01, weight_decay=5e-3)


def _cifar100(config) -> bool:
  return config.data.name == "cifar100_lt"


def _mislas(config):
  # MiSLAS (Zhong et al. 2104.00466, dvlab-research/MiSLAS configs): stage 1
  # CE with mixup (alpha 1) on the dataset's schedule; stage 2 the kept
  # classifier with per-class scales under label-aware smoothing,
  # class-balanced sampling, 10 epochs (CIFAR-10 rho=100: epsilon 0.3 / 0,
  # no BatchNorm shift; CIFAR-100 rho=100: 0.4 / 0.1 with the shift).
  _mixup(config)
  config.loss.name = "ce"
  _mislas_stage2(config)


def _weight_balancing(config):
  # Alshammari et al. 2203.14197 (ShadeAlsha/LTR-weight-balancing): stage 1
  # CE with a tuned (large) weight decay, 5e-3, at lr 0.01 with cosine
  # annealing and batch 64; stage 2 the classifier re-trained with the
  # class-balanced loss, weight decay and MaxNorm. The paper's backbone is a
  # ResNet-34; ltjax keeps the dataset's (ResNet-32 on CIFAR).
  config.loss.name = "ce"
  _original_optimiser(config, lr=0.01, weight_decay=5e-3)
  config.stage2.name = "weight_balancing"
  config.stage2.batch_size = 64
  config.stage2.lr = 0.01
  # The original's tuned stage-2 weight decay, 0.1, on its benchmarks. On a
  # proxy it shrinks the re-trained classifier to near-zero norms (MNIST-LT:
  # 66.2 % balanced); there stage 2 keeps the dataset's weight decay, the
  # value picked on MNIST-LT's validation split among 0.1 / 5e-3 / 5e-4 / 0
  # (66.2 / 95.2 / 95.8 / 95.8 %; benchmarks/RESULTS.md, "Right results").
  config.stage2.weight_decay = (0.1 if _paper_benchmark(config)
                                else config.optim.weight_decay)
  config.stage2.sampler = "instance"
  config.stage2.shift_bn = True  # the original trains in train mode


def _disalign(config):
  # DisAlign (Zhang et al. 2103.16370): a plain CE model, then the adaptive
  # calibration of its logits trained with the generalised re-weighting
  # loss on the frozen backbone.
  config.loss.name = "ce"
  config.stage2.name = "disalign"
  config.stage2.sampler = "instance"
  config.stage2.weight_decay = 5e-4
  config.stage2.shift_bn = True  # cvpods trains with the model in train mode


def _la_mixup_sam_maxnorm_las(config):
  # The combination no paper has run: logit-adjusted loss + mixup + SAM +
  # MaxNorm in stage 1, MiSLAS's label-aware-smoothing stage 2.
  _mixup(config)
  config.loss.name = "logit_adjusted"
  config.loss.tau = 1.0
  config.optim.sam_rho = 0.05
  config.max_norm.mode = "relative"
  config.max_norm.position = 0.1
  _mislas_stage2(config)


def _mislas_stage2(config):
  config.stage2.name = "mislas"
  if _cifar100(config):
    config.stage2.smooth_head, config.stage2.smooth_tail = 0.4, 0.1
    config.stage2.shift_bn = True
    config.stage2.lr_factor = 0.2
  else:
    config.stage2.smooth_head, config.stage2.smooth_tail = 0.3, 0.0
    config.stage2.shift_bn = False
    config.stage2.lr_factor = 0.5


def _experts(config, method, *, num_experts=3):
  """The dataset's backbone split into experts (RIDE's reduced widths)."""
  name = config.model.name
  known = [m for m in models.MODELS if m.endswith("_experts")]
  if f"{name}_experts" not in known:
    raise ValueError(
        f"{config.data.name}: model {name!r} has no expert variant (known: "
        f"{known}); the expert recipes need one.")
  config.model.name = f"{name}_experts"
  config.experts.method = method
  config.experts.num_experts = num_experts
  config.experts.reduce_dimension = True
  config.model.head = "normalized"  # the originals' NormedLinear, s = 30
  config.optim.nesterov = True
  config.optim.weight_decay = 5e-4


def _ride(config, *, num_experts=3):
  # RIDE (Wang et al. 2010.01809; frank-xwang/RIDE-LongTailRecognition
  # configs/config_imbalance_cifar100_ride.json): 3 experts of reduced
  # width with cosine heads (s = 30), the LDAM-DRW schedule (SGD 0.1,
  # Nesterov, weight decay 5e-4, x0.01 at 160 and 180, warm-up 5), RIDELoss
  # with its diversity factor -0.45 and DRW from epoch 160.
  _experts(config, "ride", num_experts=num_experts)
  config.loss.name = "ldam"
  config.loss.reweight = "drw"
  config.experts.diversity_factor = -0.45


def _ride_teacher(config):
  # RIDE's teacher for its distillation (config_imbalance_cifar100_ride_
  # teacher.json): the same recipe with 6 experts.
  _ride(config, num_experts=6)


def _ride_distill(config):
  # RIDE with distillation from a trained 6-expert RIDE (the
  # `ride_teacher` recipe; config_imbalance_cifar100_distill_ride.json):
  # RIDELossWithDistill, distillation temperature 1.5.
  _ride(config)
  config.teacher.recipe = "ride_teacher"
  config.teacher.temperature = 1.5


def _sade(config):
  # SADE (Zhang et al. 2107.09249; Vanint/SADE-AgnosticLT configs/
  # config_cifar100_ir100_sade.json): 3 experts of reduced width with
  # cosine heads, DiverseExpertLoss tau = 2, SGD 0.1 Nesterov, weight decay
  # 5e-4, x0.1 at 160 and x0.01 at 180, warm-up 5.
  _experts(config, "sade")
  config.optim.decay_factors = (0.1, 0.01)


def _ace(config):
  # ACE (Cai et al. 2108.09035): 3 experts on nested class subsets (all,
  # medium + few, few) with re-scaled learning rates and the complementary
  # loss; linear classifiers, whose weight norms re-scale each expert's
  # logits to expert 0's before they are averaged per class.
  _experts(config, "ace")
  config.model.head = "linear"


def _dive(config):
  # DiVE (He et al. 2103.15042; the Bag-of-Tricks DiVEKLD): a balanced-
  # softmax teacher (the `balanced_softmax` recipe) distilled into the
  # student with the flattened teacher distribution softmax(t / T)^0.5,
  # T = 2, alpha = 0.5, plus the student's balanced-softmax loss.
  config.loss.name = "balanced_softmax"
  config.teacher.recipe = "balanced_softmax"
  config.teacher.weight = 0.5
  config.teacher.temperature = 2.0
  config.teacher.power = 0.5


def _supcon(config):
  # SupCon (Khosla et al. 2004.11362, HobbitLong/SupContrast; Kang et al.
  # 2021 for long tails): contrastive pre-training on two strong views
  # (temperature 0.1 as its CIFAR commands, T_base 0.07, an MLP head to
  # 128), an online linear probe on the stop-gradient features for the
  # run's evaluations, then cRT (a re-initialised head, class-balanced
  # sampling, 10 epochs) on the frozen backbone's cached features.
  config.contrastive.method = "supcon"
  config.contrastive.temperature = 0.1
  config.contrastive.base_temperature = 0.07
  config.contrastive.proj_dim = 128
  _crt_on_cached_features(config)


def _crt_on_cached_features(config):
  # cRT (a re-initialised head, 10 epochs, lr 0.2, wd 5e-4 as
  # ltjax.decouple's cRT) on the frozen backbone's cached features.
  config.stage2.name = "crt"
  config.stage2.lr = 0.2
  config.stage2.weight_decay = 5e-4
  config.stage2.features = "cached"


def _bcl(config):
  # BCL (Zhu et al., CVPR 2022, FlamieZhu/Balanced-Contrastive-Learning,
  # cl_views sim-sim): logit-adjusted CE (tau 1) on the standard view plus
  # 0.35 x BalSCL (temperature 0.07) on two strong views with the class
  # prototypes from the classifier's weights.
  config.loss.name = "logit_adjusted"
  config.loss.tau = 1.0
  config.contrastive.method = "bcl"
  config.contrastive.temperature = 0.07
  config.contrastive.weight = 0.35
  config.contrastive.ce_weight = 1.0
  config.contrastive.proj_dim = 128


def _paco(config):
  # PaCo (Cui et al. 2107.12028, its CIFAR100_train_imb0.01.sh): alpha
  # 0.01, beta = gamma = 1, temperature 0.05, queue 1024, a linear
  # projection to 32 (its ResNet-32 `fc`), momentum 0.999, lr 0.05, weight
  # decay 5e-4. Its 400-epoch cosine schedule is not copied: ltjax keeps
  # the dataset's schedule so that the rows compare.
  config.loss.name = "ce"
  config.contrastive.method = "paco"
  config.contrastive.temperature = 0.05
  config.contrastive.proj_dim = 32
  config.contrastive.proj_hidden = 0
  config.contrastive.queue_size = 1024
  config.contrastive.momentum = 0.999
  config.contrastive.paco_alpha = 0.01
  config.optim.lr = 0.05
  config.optim.weight_decay = 5e-4


def _cached_crt(config):
  # Stage 1 plain CE; stage 2 cRT on the cached features, re-balanced
  # before training, then instance sampling.
  config.loss.name = "ce"
  _crt_on_cached_features(config)
  config.stage2.sampler = "instance"


def _smote_crt(config):
  # cRT on cached features SMOTE-balanced to the largest class (Chawla et
  # al. 1106.1813; imbalanced-learn's rules, k = 5).
  _cached_crt(config)
  config.stage2.resample = "smote"
  config.stage2.resample_k_neighbors = 5


def _feature_aug_crt(config):
  # cRT on cached features whose tail classes (<= 100 examples) are grown to
  # the largest class with head-class variation (FTL 1803.09014 / RSG
  # 2106.10455 style, training-free): tail feature + (f_h - mu_h).
  _cached_crt(config)
  # Only the tail classes grow; class-balanced sampling balances the rest
  # (with instance sampling the head classes just above the threshold stay
  # small: MNIST-LT, 3 seeds, validation balanced accuracy 94.1 instance vs
  # 96.2 class-balanced, benchmarks/RESULTS.md).
  config.stage2.sampler = "class_balanced"
  config.stage2.feature_aug = "head_variation"
  config.stage2.feature_aug_strength = 1.0
  config.stage2.feature_aug_head_threshold = 100


# Regression methods.


def _vanilla(config):
  config.loss.name = "l1"


def _sqrt_inv(config):
  config.reweight.name = "sqrt_inv"


def _lds(config):
  config.reweight.name = "sqrt_inv"
  config.reweight.lds = True  # gaussian, ks = 5, sigma = 2


def _fds(config):
  config.fds.enabled = True  # gaussian, ks = 5, sigma = 2, momentum 0.9


def _lds_fds(config):
  _lds(config)
  _fds(config)


def _focal_r(config):
  config.loss.name = "focal_l1"
  config.loss.activation = "sigmoid"
  config.loss.beta = 0.2
  config.loss.gamma = 1.0


def _rrt(config):
  # Encoder trained with plain L1; the regressor re-trained with
  # sqrt-inverse + LDS weights (the paper's "RRT + LDS").
  _lds(config)
  config.rrt.enabled = True


def _balanced_mse(config):
  config.loss.name = "bmc"
  config.loss.noise_sigma = 1.0
  config.loss.learn_sigma = True
  config.loss.sigma_lr = 1e-2


def _smogn(config):
  # SMOGN (Branco et al. 2017, the `smogn` package's defaults: relevance
  # threshold 0.5, k = 5, perturbation 0.02, "balance"), plain L1.
  config.resample.name = "smogn"


def _ranksim(config):
  # RankSim (Gong et al. 2205.15236; the official README: gamma 100,
  # lambda 2) with plain L1, on the dataset's schedule.
  config.ranksim.enabled = True
  config.ranksim.weight = 100.0
  config.ranksim.interpolation_lambda = 2.0


def _lds_fds_ranksim(config):
  # The official README's "RankSim and LDS + FDS" command's method.
  _lds_fds(config)
  _ranksim(config)


# Time to accuracy (issue 17): the fast-training tricks with the best simple
# long-tail loss, for CPU-sized budgets.


def _fast(config):
  """The `fast` recipe: logit adjustment plus the fast-training tricks.

  Logit-adjusted loss (tau 1), no label smoothing (uniform smoothing of
  the adjusted logits pulls z towards -log pi, i.e. towards the tail: with
  eps 0.1 on MNIST-LT balanced accuracy fell from 91.6 to 84.3, many-shot
  below medium; `benchmarks/RESULTS.md`); SGD with Nesterov,
  weight decay 5e-4, a 2-epoch linear warm-up then a linear decay to 0 (the
  fast CIFAR trainers' triangular schedule); an EMA of the weights (decay
  0.99 with warm-up) evaluated and checkpointed; zero-initialised residual
  branches and a whitening first convolution; for natural images the
  derandomised (alternating) flip and mirror test-time augmentation;
  bfloat16 compute on an accelerator (`model.dtype` "auto"). The
  length is the dataset's: 18 epochs for CIFAR-LT (30-40 minutes on a
  2-core CPU at 0.8-1 step/s, `benchmarks/RESULTS.md`), 6 for MNIST-LT.
  Evaluated every `eval_every_epochs` (6 / 2) epochs: on a CPU an
  evaluation of the test set is a large share of a short run.
  """
  _logit_adjusted(config)
  optim = config.optim
  optim.nesterov = True
  optim.schedule = "linear"
  optim.weight_decay = 5e-4
  optim.warmup_epochs = 2
  optim.decay_epochs, optim.decay_factors = (), ()
  config.weight_average.kind = "ema"
  config.weight_average.decay = 0.99
  config.weight_average.warmup = 10
  config.model.whiten_init = True
  config.model.dtype = "auto"  # bfloat16 on a GPU / TPU, float32 on a CPU
  config.model.zero_init_residual = models.supports_zero_init(
      config.model.name)
  digits = config.data.name == "mnist_lt"
  config.num_epochs = 6 if digits else 18
  config.eval_every_epochs = 2 if digits else 6
  config.loss.drw_start_epoch = config.sampler.start_epoch = (
      config.num_epochs)
  if config.augment.flip:  # natural images (not digits)
    config.augment.flip_mode = "alternating"
    config.eval_tta = "flip"


METHODS: dict[str, dict[str, Recipe]] = {
    "classification": {
        "ce": _ce,
        "focal": _focal,
        "cb_focal": _cb_focal,
        "ldam": _ldam,
        "ldam_drw": _ldam_drw,
        "ce_drw": _ce_drw,
        "logit_adjusted": _logit_adjusted,
        "balanced_softmax": _balanced_softmax,
        "cb_resample": _sampled("class_balanced"),
        # LDAM-DRW's re-sampling baseline (RS, Tables 1-2) under its name:
        # class-balanced sampling for the whole schedule (as cb_resample).
        "resample": _sampled("class_balanced"),
        "reweight": _reweight,
        "sqrt_sampling": _sampled("square_root"),
        "progressive": _sampled("progressive"),
        "ce_drs": _sampled("deferred", balanced="class_balanced"),
        "mixup_drw_bs": _mixup_drw_bs,
        "remix_drw": _remix_drw,
        "vs": _vs,
        "lade": _lade,
        "sam_ldam_drw": _sam_ldam_drw,
        "imbsam_ce": _imbsam_ce,
        "glmc": _glmc,
        "mislas": _mislas,
        "weight_balancing": _weight_balancing,
        "disalign": _disalign,
        "la_mixup_sam_maxnorm_las": _la_mixup_sam_maxnorm_las,
        "ride": _ride,
        "ride_teacher": _ride_teacher,
        "ride_distill": _ride_distill,
        "sade": _sade,
        "ace": _ace,
        "dive": _dive,
        "supcon": _supcon,
        "bcl": _bcl,
        "paco": _paco,
        "smote_crt": _smote_crt,
        "feature_aug_crt": _feature_aug_crt,
        "fast": _fast,
    },
    "regression": {
        "vanilla": _vanilla,
        "sqrt_inv": _sqrt_inv,
        "lds": _lds,
        "fds": _fds,
        "lds_fds": _lds_fds,
        "focal_r": _focal_r,
        "rrt": _rrt,
        "balanced_mse": _balanced_mse,
        "smogn": _smogn,
        "ranksim": _ranksim,
        "lds_fds_ranksim": _lds_fds_ranksim,
    },
}


# Datasets: the fields a dataset's recipe sets on the task's defaults.


def _schedule(config, *, epochs, lr, weight_decay, warmup, decays, factors,
              switch=None):
  """The run's length and learning-rate schedule (and the DRW/DRS switch)."""
  config.num_epochs = epochs
  config.optim.lr = lr
  config.optim.weight_decay = weight_decay
  config.optim.warmup_epochs = warmup
  config.optim.decay_epochs = decays
  config.optim.decay_factors = factors
  if switch is not None:  # classification: the deferred re-weighting/sampling
    config.loss.drw_start_epoch = switch
    config.sampler.start_epoch = switch


def _cifar(name):
  def recipe(config):
    config.data = data.default_data_config(name)
    config.model.name = "resnet32"
    config.batch_size = 128
    _schedule(config, epochs=200, lr=0.1, weight_decay=2e-4, warmup=5,
              decays=(160, 180), factors=(0.01, 1e-4), switch=160)
  return recipe


def _no_crop_or_flip(config):
  config.augment.padding = 0
  config.augment.flip = False


def _mnist(config):
  config.data = data.default_data_config("mnist_lt")
  config.model.name = "mnist_cnn"
  _no_crop_or_flip(config)  # digits
  config.batch_size = 128
  _schedule(config, epochs=10, lr=0.05, weight_decay=5e-4, warmup=1,
            decays=(8, 9), factors=(0.1, 0.01), switch=8)
  config.checkpoint_every_steps = 500


def _csv_lt(config):
  # The `csv` source (`ltjax.data.read_csv_table`); an MLP (256, 256) on the
  # standardised features.
  config.data = data.default_data_config("csv")
  config.model.name = "mlp"
  _no_crop_or_flip(config)  # feature vectors
  config.batch_size = 64
  config.eval_batch_size = 256
  _schedule(config, epochs=30, lr=0.05, weight_decay=5e-4, warmup=1,
            decays=(24, 27), factors=(0.1, 0.01), switch=24)


def _text_lt(config):
  # LDAM-DRW's text protocol (arXiv 1906.07413, Sec. 4 and Table 1, the
  # imbalanced IMDB): a 2-layer bidirectional LSTM trained with Adam, the
  # minority class's training reviews cut to 10 % (data.keep_fraction),
  # balanced validation and test. The data is the Rotten Tomatoes reviews
  # (rotten_tomatoes: fresh / rotten, 10 % of the rotten training reviews
  # kept; `--config.data.name=imdb` for IMDB, `text_csv` for your file).
  # ltjax's choices where the paper gives none: the BiLSTM of
  # `ltjax.text.BiLSTMClassifier` (embeddings 128, 128 per direction, mean
  # pooling), lr 1e-3 without weight decay, batch 64, 10 epochs, x0.1 at 8
  # (the DRW / DRS switch).
  config.data = data.default_data_config("rotten_tomatoes")
  config.model.name = "bilstm"
  _no_crop_or_flip(config)  # token ids
  config.batch_size = 64
  config.eval_batch_size = 256
  config.optim.name = "adam"
  _schedule(config, epochs=10, lr=1e-3, weight_decay=0.0, warmup=0,
            decays=(8,), factors=(0.1,), switch=8)


def _dir(name, *, model, batch_size, eval_batch_size, log_every_steps,
         checkpoint_every_steps, bins=None):
  """A DIR dataset: the reference's Adam 1e-3 schedule, 90 epochs."""
  def recipe(config):
    config.data = data.default_data_config(name, task="regression")
    if bins is None:  # from the training targets
      config.bins.low = config.bins.high = config.bins.width = None
      config.bins.num_bins = None
    else:
      config.bins.low, config.bins.high, config.bins.width = bins
    config.model.name = model
    if model == "mlp":
      config.model.widths = (128, 128)
    config.batch_size = batch_size
    config.eval_batch_size = eval_batch_size
    config.num_epochs = 90
    config.optim.decay_epochs = (60, 80)
    config.optim.decay_factors = (0.1, 0.01)
    config.rrt.epochs = 90
    config.log_every_steps = log_every_steps
    config.checkpoint_every_steps = checkpoint_every_steps
  return recipe


def _faces(name):
  # The reference's LDS bins (ages 0..120); FDS and the shot groups use them
  # too (its FDS merges ages < 3 into one bucket and has 100 buckets).
  return _dir(name, model="resnet50", batch_size=256, eval_batch_size=256,
              log_every_steps=50, checkpoint_every_steps=1000,
              bins=(0.0, 121.0, 1.0))


def _csv_dir(config):
  # Your own table: bins, target scale and shot thresholds come from the
  # data, so nothing here is in the units of a particular target.
  _dir("csv", model="mlp", batch_size=64, eval_batch_size=512,
       log_every_steps=500, checkpoint_every_steps=2000)(config)
  config.shot_thresholds = "quantile"


def _sts_b_dir(config):
  # STS-B-DIR as the reference runs it (YyzHarry/imbalanced-regression,
  # sts-b-dir/train.py, models.py, tasks.py, util.py): a 2-layer BiLSTM of
  # 1,500 units per direction over 300-d word embeddings, max pooling, the
  # pair's features [u, v, |u - v|, u * v] and a linear regressor; Adam
  # 1e-4 with coupled weight decay 1e-5, batch 128, MSE; LDS and FDS over
  # 50 bins of 0.1 on [0, 5] (its bucket_num 50; the counts of its
  # np.histogram of the float32 scores), shot groups of those bins by
  # training count (> 100 / 20-100 / < 20); validation MSE selects the
  # reported epoch. The reference's shot groups are a hard-coded list
  # (`util.py`, STSShotAverage): by the rule on these files, bins 15, 25,
  # 33, 45 and 47 (20-27 training pairs each) are medium-shot, where that
  # list calls them few-shot (22 many / 12 medium / 16 few bins here, 22 / 7
  # / 21 there); the all-bins figures do not depend on it.
  # Differences (ltjax's choices where the reference's machinery is not
  # here): the embeddings are trained from scratch by default (the
  # reference loads frozen GloVe 840B vectors, not available here; its
  # `--glove 0` is this; `model.word_vectors` loads a GloVe file as the
  # trainable initial table),
  # with the vocabulary of the training sentences only; no dropout (the
  # reference's 0.2 on embeddings and encoder outputs: the engine gives the
  # model no dropout key) and no gradient-norm clipping (its 5.0); 30 epochs
  # at a constant learning rate (about 1,230 steps), the best validation
  # epoch reported (`best_val`), in place of its validation every 400
  # steps, x0.99 decay on plateau and early stopping after 10 checks
  # without improvement; the loss on the raw score in [0, 5] (the reference
  # regresses score / 5 and multiplies the prediction by 5).
  config.data = data.default_data_config("sts_b_dir", task="regression")
  config.bins.low, config.bins.high, config.bins.width = 0.0, 5.0, 0.1
  config.model.name = "bilstm_pair"
  config.model.embed_dim = 300
  config.model.hidden_size = 1500
  config.model.num_layers = 2
  config.model.pooling = "max"
  # A GloVe text file (e.g. glove.840B.300d.txt): its vectors initialise the
  # embedding rows of the tokens it has (trainable; the reference freezes
  # them). "" trains the embeddings from scratch.
  config.model.word_vectors = ""
  config.augment.padding = 0  # token ids: no augmentation
  config.augment.flip = False
  config.batch_size = 128
  config.eval_batch_size = 256
  config.num_epochs = 30
  config.optim.lr = 1e-4
  config.optim.weight_decay = 1e-5
  config.optim.schedule = "constant"
  config.optim.decay_epochs = ()
  config.optim.decay_factors = ()
  config.rrt.epochs = 30
  config.loss.name = "mse"
  config.select_metric = "mse_all"
  config.eval_every_epochs = 1
  config.log_every_steps = 20
  config.checkpoint_every_steps = 500


def _sts_b_dir_method(config):
  # The reference's STS-B-DIR runs of each method: MSE in place of L1
  # (vanilla, RRT's encoder, RankSim), focal-R as focal-MSE, LDS with
  # inverse (not square-root inverse) re-weighting of the smoothed counts,
  # unclipped (`tasks.py`: weights 1 / smoothed count, scaled to mean 1).
  if config.loss.name == "l1":
    config.loss.name = "mse"
  elif config.loss.name == "focal_l1":
    config.loss.name = "focal_mse"
  if config.reweight.lds:
    config.reweight.name = "inverse"
    config.reweight.clip = (1.0, 1e9)


# Per-dataset changes applied after the method's (the dataset's own version
# of a method, e.g. its loss).
AFTER_METHOD: dict[str, Recipe] = {"sts_b_dir": _sts_b_dir_method}


class Dataset(NamedTuple):
  """A dataset's recipe: its task and the fields it sets."""
  task: str
  recipe: Recipe


DATASETS: dict[str, Dataset] = {
    "cifar10_lt": Dataset("classification", _cifar("cifar10_lt")),
    "cifar100_lt": Dataset("classification", _cifar("cifar100_lt")),
    "mnist_lt": Dataset("classification", _mnist),
    "csv_lt": Dataset("classification", _csv_lt),
    "text_lt": Dataset("classification", _text_lt),
    "abalone_dir": Dataset("regression", _dir(
        "abalone", model="mlp", batch_size=64, eval_batch_size=512,
        log_every_steps=500, checkpoint_every_steps=2000,
        bins=(1.0, 30.0, 1.0))),
    "agedb_dir": Dataset("regression", _faces("agedb_dir")),
    "imdb_wiki_dir": Dataset("regression", _faces("imdb_wiki_dir")),
    "csv_dir": Dataset("regression", _csv_dir),
    "sts_b_dir": Dataset("regression", _sts_b_dir),
}


# Rows of the table that cannot run: (dataset, method) -> why.
UNSUPPORTED: dict[tuple[str, str], str] = {
    **{("csv_lt", m): "its two views are image augmentations and csv_lt is "
                      "a table of feature vectors"
       for m in ("supcon", "bcl", "paco")},
    **{(d, "smogn"): f"SMOGN interpolates feature vectors and {d} has images"
       for d in ("agedb_dir", "imdb_wiki_dir")},
    ("sts_b_dir", "smogn"): "SMOGN interpolates feature vectors and "
                            "sts_b_dir's inputs are token ids",
    ("csv_lt", "fast"): "its tricks (whitening, flips, test-time "
                        "augmentation) are for images and csv_lt is a table "
                        "of feature vectors",
    **{("text_lt", m): "it mixes or augments the inputs, and text_lt's "
                       "inputs are token ids"
       for m in ("mixup_drw_bs", "remix_drw", "glmc", "mislas",
                 "la_mixup_sam_maxnorm_las", "supcon", "bcl", "paco",
                 "fast")},
    **{("text_lt", m): "its experts share an image backbone and the BiLSTM "
                       "has no expert variant"
       for m in ("ride", "ride_teacher", "ride_distill", "sade", "ace")},
    ("text_lt", "imbsam_ce"): "its tail classes (under 100 training "
                              "examples) are empty on text_lt",
}


def supported(dataset: str, method: str) -> bool:
  """Whether `build(dataset, method)` gives a config that can run."""
  return (dataset, method) not in UNSUPPORTED


def datasets_of(task: str) -> tuple[str, ...]:
  """The names of `task`'s datasets."""
  return tuple(name for name, d in DATASETS.items() if d.task == task)


def build(dataset: str, method: str,
          arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of `method` on `dataset`.

  Args:
    dataset: a key of `DATASETS`.
    method: a key of `METHODS[<the dataset's task>]`.
    arg: None, or a number of epochs (a string, from `--config=...:EPOCHS`)
      for a shorter run with every duration scaled in proportion.

  Returns:
    The config (unlocked).
  """
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}.")
  task, recipe = DATASETS[dataset]
  methods = METHODS[task]
  if method not in methods:
    raise ValueError(
        f"unknown method {method!r} for {dataset} ({task}); known: "
        f"{list(methods)}.")
  if not supported(dataset, method):
    raise ValueError(f"method {method!r} does not run on {dataset}: "
                     f"{UNSUPPORTED[(dataset, method)]}.")
  config = train.default_config(task)
  recipe(config)
  methods[method](config)
  if dataset in AFTER_METHOD:
    AFTER_METHOD[dataset](config)
  epochs = train.epochs_argument(arg, method)
  if epochs is not None and epochs < 1:
    raise ValueError(
        f"config argument {arg!r} must be a number of epochs >= 1, e.g. "
        f"--config={dataset}/{method}.py:10; drop the ':{arg}' for the full "
        f"{config.num_epochs}-epoch schedule.")
  if epochs:
    train.scale_schedule(config, epochs)
  return config
