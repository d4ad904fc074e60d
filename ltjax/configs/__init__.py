"""The job configs: `<dataset>/<method>.py`, one per row of `ltjax.recipes`
(`get_config(arg)`; `ltjax-train --config=<dataset>/<method>[:EPOCHS]`)."""
