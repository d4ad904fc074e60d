"""A run stopped by SIGINT / SIGTERM keeps its work: a checkpoint, then exit.

While a schedule runs (`stop_requests`), the first SIGINT (Ctrl-C) or
SIGTERM (what a preempted cloud VM, SLURM's `scancel` or a campaign
runner's deadline sends) only records the request: the driver saves a
checkpoint at the next step boundary, logs where, and raises `Interrupted`,
which the entry points turn into the exit code `EXIT_INTERRUPTED`. Starting
the same command again resumes exactly from that checkpoint. A second
SIGINT exits at once (code 130), without waiting for anything.

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

# Stopped by a signal after a checkpoint: the same command resumes. (Not
# the watchdog's 75: a hang is not a clean stop.)
EXIT_INTERRUPTED = 3
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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

  def __init__(self):
    self.requested = None

  def _handle(self, signum, frame):
    del frame
    if self.requested is not None and signum == signal.SIGINT:
      os._exit(130)  # pylint: disable=protected-access
    if self.requested is None:
      self.requested = signum
      logging.warning(
          "%s received: stopping at the next step boundary after a "
          "checkpoint (Ctrl-C again to exit at once).",
          signal.Signals(signum).name)


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
    for s, handler in previous.items():
      signal.signal(s, handler)
