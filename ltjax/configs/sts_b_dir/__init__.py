"""STS-B-DIR: one config per regression method of `ltjax.recipes.METHODS`.

STS-B-DIR (Yang et al. 2021, arXiv 2102.09554; the DIR repository's
`sts-b-dir/glue_data/STS-B/*_new.tsv`): 5,249 training sentence pairs with
a similarity score in [0, 5], validation and test 1,000 each, balanced over
20 bins of width 0.25. The reference's model and protocol
(`ltjax.recipes._sts_b_dir`): a BiLSTM pair encoder (2 layers, 1,500 units
per direction, 300-d embeddings, max pooling), features [u, v, |u - v|,
u * v], a linear regressor; Adam 1e-4, batch 128, MSE; LDS / FDS and the
shot groups over 50 bins of 0.1 on [0, 5]. The embeddings are trained from
scratch: GloVe 840B, which the reference loads, is not available here.

Give the folder of train_new.tsv, dev_new.tsv and test_new.tsv with
`--config.data.path=...`. Append `:EPOCHS` to the config for a shorter run
(`--config=sts_b_dir/vanilla.py:1`). The reference's figures are MSE (it
also reports L1, GM and Pearson's r, as `metrics.json` does here).
"""
