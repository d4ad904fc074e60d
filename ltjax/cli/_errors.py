"""User errors as one line: `ltjax: error: <what>` and exit code 2.

An error caused by the input (a config field, a flag, the data, the
workdir) is the user's to fix, and its message names what and how; the
traceback only hides that. `guard(run)` prints such errors as one line
(the message's first line, plus the few lines of help that follow it) and
exits with 2; `--verbose` on the command line or `LTJAX_DEBUG=1` in the
environment shows the traceback too. A divergence (a run's outcome, not
bad input) is one line with exit code 1. Anything else is a bug and keeps
its traceback.
"""

import os
import sys
import traceback

from absl import app

from ltjax import train

# Errors of the input. ConfigMismatchError, DataMismatchError are
# ValueErrors; WorkdirLockedError a RuntimeError.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError,
               IsADirectoryError, PermissionError, train.WorkdirLockedError,
               app.UsageError)
EXIT_USER_ERROR = 2
EXIT_DIVERGED = 1
_HELP_LINES = 6  # lines of help printed after the first


def verbose(argv=None) -> bool:
  argv = sys.argv if argv is None else argv
  return "--verbose" in argv or os.environ.get("LTJAX_DEBUG", "") not in (
      "", "0")


def strip_verbose(argv: list[str]) -> list[str]:
  return [a for a in argv if a != "--verbose"]


def message(error: BaseException, limit: int = _HELP_LINES) -> str:
  """The error's text, at most 1 + `limit` lines."""
  text = str(error).strip() or type(error).__name__
  if isinstance(error, KeyError) and text.startswith("'"):
    text = text.strip("'")
  lines = text.splitlines()
  if len(lines) > limit + 1:
    lines = lines[:limit + 1] + [f"  ... ({len(lines) - limit - 1} more "
                                 f"lines; --verbose shows everything)"]
  return "\n".join(lines)


def report(error: BaseException, program: str = "ltjax") -> int:
  """Prints `error` as the user sees it; returns the exit code."""
  if verbose():
    traceback.print_exception(error)
  code = (EXIT_DIVERGED if isinstance(error, train.DivergenceError)
          else EXIT_USER_ERROR)
  print(f"{program}: error: {message(error)}", file=sys.stderr)
  return code


def guard(run, program: str = "ltjax"):
  """Runs `run()`; user errors and divergences exit as one line."""
  try:
    return run()
  except train.Interrupted:
    raise
  except (train.DivergenceError,) + USER_ERRORS as error:
    sys.exit(report(error, program))
