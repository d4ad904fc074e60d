"""AgeDB-DIR: one config per regression method of `ltjax.recipes.METHODS`.

AgeDB-DIR (12,208 train / 2,140 val / 2,140 test), ResNet-50 from scratch,
224 x 224, Adam 1e-3 (coupled weight decay 1e-4), batch 256, 90 epochs, x0.1
at 60 and 80, bins of one year over [0, 121) (the reference's). Published
figures: Yang et al. 2021 (arXiv 2102.09554), Table 1.

Give the label CSV with `--config.data.path=...` and the image folder with
`--config.data.image_root=...`; data paths come only from `config.data`.
Append `:EPOCHS` to the config for a shorter run with the schedule scaled
(`--config=agedb_dir/lds_fds:30`: the learning-rate decays and `rrt.epochs`
times 30/90; FDS's start epochs are absolute and stay).
"""
