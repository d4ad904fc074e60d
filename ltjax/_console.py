"""What a run shows outside `absl.app`: notebooks and plain scripts.

ltjax logs through absl. Under `absl.app` (experiments.main) absl shows INFO
lines on stderr; elsewhere nothing sets absl's level or handler, so Python
shows warnings only and a notebook's training cell stays silent for minutes.
`show_progress()` then prints ltjax's own INFO lines (data, compile time,
progress lines, evaluations, final results) and everyone's warnings to
stdout, the notebook's cell output, as `12:03:07 step 50/106 ...`. It does
nothing under `absl.app`, or when the program configured logging itself (a
handler on the "absl" logger, or the root logger's level set to INFO or
lower): that configuration decides.
"""

import logging
import math
import os
import sys

from absl import flags

_LTJAX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class _StdoutHandler(logging.StreamHandler):
  """Writes to the current `sys.stdout` (notebooks replace it per cell)."""

  def __init__(self):
    super().__init__(sys.stdout)

  @property
  def stream(self):
    return sys.stdout

  @stream.setter
  def stream(self, value):
    del value  # always the current sys.stdout


class _LtjaxInfo(logging.Filter):
  """INFO lines of ltjax modules, and warnings of anyone."""

  def filter(self, record: logging.LogRecord) -> bool:
    return (record.levelno >= logging.WARNING or
            os.path.abspath(record.pathname).startswith(_LTJAX_DIR))


def _format() -> logging.Formatter:
  return logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")


def show_progress() -> bool:
  """Shows ltjax's INFO lines on stdout outside absl.app; returns whether.

  Idempotent; see the module docstring for when it stands back.
  """
  if flags.FLAGS.is_parsed():  # absl.app: --verbosity, --logtostderr decide
    return False
  absl_logger = logging.getLogger("absl")
  if any(isinstance(h, _StdoutHandler) for h in absl_logger.handlers):
    return True
  if absl_logger.handlers or logging.getLogger().level <= logging.INFO:
    return False  # the program routes absl's records, or asked for INFO
  handler = _StdoutHandler()
  handler.setFormatter(_format())
  handler.addFilter(_LtjaxInfo())
  absl_logger.addHandler(handler)
  absl_logger.setLevel(logging.INFO)
  # Not also to the root logger's handler (absl adds one on its first record
  # outside absl.app), which would print every INFO line a second time.
  absl_logger.propagate = False
  return True


def summary(values: dict | None, digits: int = 4) -> str:
  """{"top1": 0.450300008, "few": nan} -> 'top1 0.4503 few nan'.

  Numbers are rounded to `digits` decimals; lists and nested dicts are left
  out (they are in metrics.json).
  """
  if not values:
    return "none"
  shown = []
  for key, value in values.items():
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      if value is None:
        shown.append(f"{key} nan")
      continue
    if isinstance(value, int):
      shown.append(f"{key} {value}")
    elif math.isfinite(value):
      shown.append(f"{key} {value:.{digits}f}")
    else:
      shown.append(f"{key} {value}")
  return " ".join(shown)
