"""IMDB-WIKI-DIR: the AgeDB-DIR recipe (`experiments/configs/agedb_dir`).

The same model, bins, schedule, data flags and `:EPOCHS` argument on
IMDB-WIKI-DIR (191.5K train / 11.0K val / 11.0K test); published figures:
Yang et al. 2021 (arXiv 2102.09554), Table 2.
"""
