"""The bin edges a regression config asks for (`config.bins`).

Shared by the config's validation (`_config`), the task and data-level
re-sampling (SMOGN): `edges_of(config, train_targets)` turns `bins.rule`
("width", "quantile", "range" or explicit edges) and the width / count
fields into edges, from the training targets where the fields leave them
open.
"""

from absl import logging
import numpy as np

from ltjax.data import _bins


def rule_of(bins) -> str | np.ndarray:
  """`bins.rule` parsed: a rule name or explicit edges (old configs: width)."""
  return _bins.parse_bin_rule(bins.get("rule", "width"), "config.bins.rule")


def bins_fixed(bins) -> bool:
  """Whether `config.bins` fixes the edges without looking at the data."""
  if not isinstance(rule_of(bins), str):  # explicit edges
    return True
  return (rule_of(bins) == "width" and
          bins.low is not None and bins.high is not None and
          (bins.width is not None or bins.num_bins is not None))


def edges_of(config, train_targets, *, warn: bool = False
            ) -> tuple[np.ndarray, str]:
  """The bin edges of `config.bins` and the rule that made them.

  Args:
    config: a regression config.
    train_targets: float [N] training targets (original units) for the
      fields left unset; may be None when `config.bins` fixes the edges.
    warn: log a warning when equal-width bins (rule "width") put nearly
      every training target in one bin because of outliers
      (`crowded_bin_message`), naming the rules that fix it.

  Returns:
    (float64 [K + 1] edges, rule description).
  """
  b = config.bins
  rule = rule_of(b)
  if not isinstance(rule, str):
    return rule, "given edges (bins.rule)"
  if rule in ("quantile", "range"):
    make = (_bins.quantile_bin_edges if rule == "quantile"
            else _bins.range_bin_edges)
    try:
      edges = make(train_targets, num_bins=b.num_bins)
    except ValueError as e:
      raise ValueError(f"config.bins: {e}") from e
    return edges, (f"quantile: {len(edges) - 1} equal-count bins"
                   if rule == "quantile" else
                   f"range: {len(edges) - 1} equal-width bins over the "
                   f"targets' range without outliers")
  edges, description = _width_edges(b, train_targets)
  message = (_bins.crowded_bin_message(train_targets, edges)
             if warn and train_targets is not None else None)
  if message:
    logging.warning(
        "config.bins: %s; set config.bins.rule=range (equal width over the "
        "range without outliers, which go to the end bins) or "
        "config.bins.rule=quantile (equal-count bins) for bins that follow "
        "the data.", message)
  return edges, description


def _width_edges(b, train_targets) -> tuple[np.ndarray, str]:
  """The equal-width edges of rule "width" (today's rule)."""
  try:
    if bins_fixed(b):
      if b.width is not None:
        return _bins.bin_edges(b.low, b.high, width=b.width), "given"
      return _bins.bin_edges(b.low, b.high, num_bins=b.num_bins), "given"
    return _bins.data_bin_edges(train_targets, low=b.low, high=b.high,
                                width=b.width, num_bins=b.num_bins)
  except ValueError as e:
    raise ValueError(f"config.bins: {e}") from e
