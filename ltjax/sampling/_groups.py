"""Example indices per class from one sort of the labels.

`np.flatnonzero(labels == c) for c in range(C)` scans the labels once per
class, O(N C): 8,142 scans of a million labels at every epoch start. A stable
sort groups every class at once and gives the same ascending indices.
"""

import numpy as np


def group_positions(keys: np.ndarray,
                    num_groups: int) -> tuple[np.ndarray, np.ndarray]:
  """Positions of `keys` grouped by value, in one stable sort.

  Group g (0 <= g < G) is `order[bounds[g]:bounds[g + 1]]`: the same
  ascending indices as `np.flatnonzero(keys == g)`, without scanning `keys`
  once per group (O(N G)). Keys outside [0, G) are in no group. For
  G < 2^16 the keys are sorted as uint16, which NumPy's stable sort does by
  radix, O(N); otherwise O(N log N).

  Args:
    keys: int [N].
    num_groups: G, the number of groups.

  Returns:
    (order: int [N] positions sorted by key, bounds: int [G + 1]).
  """
  keys = np.asarray(keys)
  if keys.size and (keys.min() < 0 or keys.max() >= num_groups):
    keys = np.where((keys >= 0) & (keys < num_groups), keys, num_groups)
  keys = keys.astype(np.uint16 if num_groups < 2**16 else np.int64)
  order = np.argsort(keys, kind="stable")
  sizes = np.bincount(keys, minlength=num_groups)[:num_groups]
  return order, np.concatenate([[0], np.cumsum(sizes)])
