"""A run stopped by SIGINT / SIGTERM keeps its work: a checkpoint, then exit.

While a schedule runs (`stop_requests`), the first SIGINT (Ctrl-C) or
SIGTERM (what a preempted cloud VM, SLURM's `scancel` or a campaign
runner's deadline sends) only records the request: the driver saves a
checkpoint at the next step boundary, logs where, and raises `Interrupted`,
which the entry points turn into the exit code `EXIT_INTERRUPTED`. Starting
the same command again resumes exactly from that checkpoint. A second
SIGINT exits at once (code 130), without waiting for anything (a second
SIGTERM only repeats the request: a runner and its parent's death may both
send one). A run that makes no progress (no `_watchdog.beat`: a step, an
evaluation batch, a stage's epoch) for `LTJAX_STOP_GRACE_SECONDS` (default
300) after the first signal, because it hangs (a collective, a checkpoint
on a filesystem another host cannot see), exits then with code 143 and
says so: a hung job still stops at SIGTERM.

Handlers can only be installed from the main thread; elsewhere (a notebook
running the loop in a worker thread) the signals keep their usual meaning.
With several processes, a request received by any of them is shared at the
next log step (`config.log_every_steps`), where every process saves the
same step and stops.
"""

import contextlib
import os
import signal
import threading

from absl import logging

from ltjax import _watchdog

# Stopped by a signal after a checkpoint: the same command resumes. (Not
# the watchdog's 75: a hang is not a clean stop.)
EXIT_INTERRUPTED = 3
# Stopped by a signal but no step boundary came within the grace period.
EXIT_TERMINATED = 128 + signal.SIGTERM
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_ENV = "LTJAX_STOP_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 300.0


def grace_seconds() -> float:
  """Seconds from a stop request to a forced exit (`GRACE_ENV`)."""
  text = os.environ.get(GRACE_ENV, "")
  try:
    return float(text) if text else DEFAULT_GRACE_SECONDS
  except ValueError:
    raise ValueError(f"{GRACE_ENV}={text!r}: must be a number of seconds."
                     ) from None


def _exit_hung(signum: int, grace: float) -> None:
  logging.error(
      "%s received and no progress for %.0f s since (a hang): exiting "
      "without a new checkpoint; the last saved one resumes.",
      signal.Signals(signum).name, grace)
  logging.flush()
  os._exit(EXIT_TERMINATED)  # pylint: disable=protected-access


class Interrupted(Exception):
  """The run stopped at a signal after saving a checkpoint.

  Attributes:
    signum: the signal received.
    step: the step of the checkpoint written (None: no checkpointer).
  """

  def __init__(self, signum: int, step: int | None, where: str):
    name = signal.Signals(signum).name
    saved = (f"a checkpoint of step {step} is in {where}" if step is not None
             else "no checkpoint was kept (this loop keeps none)")
    super().__init__(f"stopped by {name}: {saved}; run the same command "
                     f"again to resume.")
    self.signum = signum
    self.step = step


class StopRequests:
  """Records the first SIGINT / SIGTERM; `requested` is its number or None."""

  def __init__(self, grace: float | None = None):
    self.requested = None
    self.grace = grace_seconds() if grace is None else grace
    self._timer = None

  def _handle(self, signum, frame):
    del frame
    if self.requested is not None:
      if signum == signal.SIGINT:
        os._exit(130)  # pylint: disable=protected-access
      return
    self.requested = signum
    logging.warning(
        "%s received: stopping at the next step boundary after a "
        "checkpoint (Ctrl-C again to exit at once; a run that reaches no "
        "step boundary in %.0f s exits then).", signal.Signals(signum).name,
        self.grace)
    self._arm(signum, self.grace)

  def _arm(self, signum: int, delay: float) -> None:
    self._timer = threading.Timer(delay, self._expire, args=(signum,))
    self._timer.daemon = True
    self._timer.start()

  def _expire(self, signum: int) -> None:
    """Exits if nothing progressed for the grace period, else waits on."""
    idle = _watchdog.seconds_since_progress()
    if idle >= self.grace:
      _exit_hung(signum, self.grace)
    else:
      self._arm(signum, self.grace - idle)

  def cancel(self) -> None:
    """Stops the grace timer (the run stopped, or ended, in time)."""
    if self._timer is not None:
      self._timer.cancel()


@contextlib.contextmanager
def stop_requests():
  """Installs the handlers for the block; yields its `StopRequests`."""
  requests = StopRequests()
  if threading.current_thread() is not threading.main_thread():
    yield requests
    return
  previous = {s: signal.getsignal(s) for s in _SIGNALS}
  for s in _SIGNALS:
    signal.signal(s, requests._handle)  # pylint: disable=protected-access
  try:
    yield requests
  finally:
    requests.cancel()
    for s, handler in previous.items():
      signal.signal(s, handler)
