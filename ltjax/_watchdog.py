"""A watchdog that turns a silent hang into stack dumps and a non-zero exit.

The train loop calls `beat()` after every step and evaluation. A monitor
thread fires when no beat came for `timeout` seconds *and* the process was
idle over that time (less than `idle_fraction` of one core of CPU time): a
deadlocked process sleeps (every XLA thread waiting in a rendezvous, 0 %
CPU), while a long compilation or a long evaluation keeps a core busy. On
firing it writes every Python thread's stack to stderr (`faulthandler`),
says what it was waiting for and how to avoid the known CPU deadlock, and
ends the process with exit code `EXIT_CODE` (the stuck main thread cannot
be interrupted, so the exit is `os._exit`).

  with _watchdog.watching(timeout=120):
    for step in ...:
      ...
      _watchdog.beat(f"step {step}")
"""

import contextlib
import faulthandler
import functools
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator

EXIT_CODE = 75  # EX_TEMPFAIL: a rerun may succeed.
DEFAULT_TIMEOUT = 120.0

_timeout: float | None = DEFAULT_TIMEOUT
_active: "Watchdog | None" = None
_progress = time.monotonic()  # of the last `beat`, watched or not


def _format_stacks() -> str:
  names = {t.ident: t.name for t in threading.enumerate()}
  parts = []
  frames = sys._current_frames()  # pylint: disable=protected-access
  for ident, frame in frames.items():
    parts.append(f"Thread {ident:#x} ({names.get(ident, '?')}):\n" +
                 "".join(traceback.format_stack(frame)))
  return "\n".join(parts)


def set_timeout(seconds: float | None) -> None:
  """Sets the timeout of the watchdogs started from now on (None/0: off)."""
  global _timeout
  if seconds is not None and seconds < 0:
    raise ValueError(f"watchdog timeout must be >= 0 seconds, got {seconds}.")
  _timeout = float(seconds) if seconds else None


def get_timeout() -> float | None:
  return _timeout


class Watchdog:
  """Fires when there is neither a beat nor CPU activity for `timeout` s.

  Args:
    timeout: seconds without progress before firing.
    idle_fraction: the process counts as idle over a window when it used
      less than this fraction of one core's time in it. A deadlocked
      process uses ~0; 1 % leaves a wide margin for a compile starved by
      other jobs (at 5 % a compile on a 2-core host at load 20 was killed).
    poll: seconds between checks.
    on_fire: called with the report text instead of dumping and exiting
      (tests).
    cpu_clock: process CPU seconds (all threads).
    clock: wall seconds.
  """

  def __init__(self, timeout: float, *, idle_fraction: float = 0.01,
               poll: float | None = None,
               on_fire: Callable[[str], None] | None = None,
               cpu_clock: Callable[[], float] = time.process_time,
               clock: Callable[[], float] = time.monotonic):
    if timeout <= 0:
      raise ValueError(f"timeout must be > 0 seconds, got {timeout}.")
    self.timeout = timeout
    self._idle_fraction = idle_fraction
    self._poll = poll if poll is not None else min(5.0, timeout / 4)
    self._on_fire = on_fire
    self._cpu_clock, self._clock = cpu_clock, clock
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._last_beat = clock()
    self._last_cpu = cpu_clock()
    self._what = "the first step"
    self._hint = None
    self._thread = None
    self.fired = False

  def beat(self, what: str = "", hint: str | None = None) -> None:
    """Records progress; `what` names what the loop does next.

    `hint` replaces the report's advice (the CPU deadlock's) while `what`
    runs, e.g. for a read that may block.
    """
    with self._lock:
      self._last_beat = self._clock()
      self._last_cpu = self._cpu_clock()
      if what:
        self._what, self._hint = what, hint

  def check(self) -> bool:
    """Fires if the last `timeout` seconds had no beat and no CPU activity."""
    with self._lock:
      now, cpu = self._clock(), self._cpu_clock()
      waited = now - self._last_beat
      if waited < self.timeout:
        return False
      if cpu - self._last_cpu > self._idle_fraction * waited:
        # Busy (compiling, a long evaluation): a fresh window starts now.
        self._last_beat, self._last_cpu = now, cpu
        return False
      what, hint = self._what, self._hint
    self._fire(waited, what, hint)
    return True

  def _fire(self, waited: float, what: str, hint: str | None = None) -> None:
    self.fired = True
    advice = hint or (
        "this looks like a deadlock. On a CPU with several virtual devices, "
        "rerun with --host_devices=1 (or "
        "XLA_FLAGS=--xla_force_host_platform_device_count=1); resuming from "
        "the workdir continues from the last checkpoint.")
    report = (
        f"ltjax watchdog: no progress for {waited:.0f} s while waiting for "
        f"{what}, and the process was idle (under "
        f"{100 * self._idle_fraction:.0f} % of a core): {advice} Python "
        "stacks of all threads follow. The timeout is --watchdog_seconds "
        "(0 turns the watchdog off).")
    if self._on_fire is not None:
      self._on_fire(report)
      return
    sys.stderr.write("\n" + report + "\n")
    sys.stderr.flush()
    try:
      faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    except (AttributeError, ValueError, OSError):
      # A notebook's stderr has no file descriptor: format the stacks.
      sys.stderr.write(_format_stacks())
    sys.stderr.flush()
    os._exit(EXIT_CODE)  # pylint: disable=protected-access

  def _run(self) -> None:
    while not self._stop.wait(self._poll):
      if self.check():
        return

  def start(self) -> "Watchdog":
    self.beat()
    self._thread = threading.Thread(target=self._run, name="ltjax-watchdog",
                                    daemon=True)
    self._thread.start()
    return self

  def stop(self) -> None:
    self._stop.set()
    if self._thread not in (None, threading.current_thread()):
      self._thread.join()


@contextlib.contextmanager
def watching(timeout: float | None = None) -> Iterator["Watchdog | None"]:
  """Runs a watchdog (the `set_timeout` one by default) over the block.

  Nested uses share the outer watchdog. Yields the watchdog, or None when
  it is off.
  """
  global _active
  timeout = _timeout if timeout is None else timeout
  if _active is not None or not timeout:
    yield _active
    return
  _active = Watchdog(timeout).start()
  try:
    yield _active
  finally:
    _active.stop()
    _active = None


def beat(what: str = "", hint: str | None = None) -> None:
  """Records progress (on the running watchdog, if one runs)."""
  global _progress
  _progress = time.monotonic()
  if _active is not None:
    _active.beat(what, hint)


def seconds_since_progress() -> float:
  """Seconds since the last `beat` (of any phase)."""
  return time.monotonic() - _progress


def blocked_read_hint(where: str) -> str:
  """The advice for a phase that reads files (`where`: which ones)."""
  return (f"a read that never returns looks like this: a FIFO or other "
          f"special file among the data files, or a stalled network file "
          f"system. Check {where}; on a slow file system raise "
          f"--watchdog_seconds.")


def watched(fn: Callable) -> Callable:
  """Decorates `fn` to run under `watching()` (the default timeout)."""

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    with watching():
      return fn(*args, **kwargs)

  return wrapper
