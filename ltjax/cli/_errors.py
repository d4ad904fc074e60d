"""User errors as one line: `ltjax: error: <what>` and exit code 2.

An error caused by the input (a config field, a flag, the data, the
workdir) is the user's to fix, and its message names what and how; the
traceback only hides that. `guard(run)` prints such errors as one line
(the message's first line, plus the few lines of help that follow it) and
exits with 2; `--verbose` on the command line or `LTJAX_DEBUG=1` in the
environment shows the traceback too. A divergence (a run's outcome, not
bad input) is one line with exit code 1. A full disk (ENOSPC, EDQUOT
anywhere in the exception chain, or its text in a wrapped checkpoint
error) is one line naming the path and its free space, exit code 2.
Anything else is a bug and keeps its traceback.
"""

import errno
import os
import shutil
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


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded")


def disk_full(error: BaseException) -> OSError | BaseException | None:
  """The full-disk error in `error`'s chain (causes and contexts), if any."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in _DISK_FULL:
      return error
    if any(text in str(error) for text in _DISK_FULL_TEXT):
      return error
    error = error.__cause__ or error.__context__
  return None


def _flag(argv, name: str) -> str | None:
  for item in argv:
    if item.startswith(f"--{name}="):
      return item.split("=", 1)[1]
  return None


def disk_full_message(error: BaseException, argv=None) -> str:
  """One line: which path's disk is full, its free space, what to do."""
  path = getattr(error, "filename", None) or _flag(
      sys.argv if argv is None else argv, "workdir") or os.getcwd()
  where = os.path.abspath(str(path))
  probe = where
  while probe and not os.path.exists(probe):
    probe = os.path.dirname(probe)
  try:
    usage = shutil.disk_usage(probe or "/")
    space = (f"{usage.free / 2**30:.2f} GiB free of "
             f"{usage.total / 2**30:.1f} GiB")
  except OSError:
    space = "free space unknown"
  reason = ("the disk quota is exceeded"
            if getattr(error, "errno", None) == errno.EDQUOT
            or "quota" in str(error).lower() else "the disk is full")
  return (f"{reason} at {where} ({space}). Free some space or use a "
          f"--workdir on another disk; the run's checkpoints already "
          f"written are kept, and the same command resumes from the newest.")


def guard(run, program: str = "ltjax"):
  """Runs `run()`; user errors, divergences and a full disk exit as one
  line."""
  try:
    return run()
  except train.Interrupted:
    raise
  except Exception as error:  # pylint: disable=broad-except
    full = disk_full(error)
    if full is not None:
      if verbose():
        traceback.print_exception(error)
      print(f"{program}: error: {disk_full_message(full)}", file=sys.stderr)
      sys.exit(EXIT_USER_ERROR)
    if isinstance(error, (train.DivergenceError,) + USER_ERRORS):
      sys.exit(report(error, program))
    raise
