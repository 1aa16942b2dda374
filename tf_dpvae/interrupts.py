"""Ctrl-C and SIGTERM as exceptions that carry their signal (no TensorFlow import).

A command runs its body inside ``raising_on_signals()``: SIGINT and SIGTERM then raise ``Interrupted``
in the main thread (SIGTERM would otherwise kill the process with no chance to save a checkpoint or
release a lock). Code that can save its state catches it (``training.fit`` saves a checkpoint at the
current step), adds what it kept to the message and re-raises; ``cli.parsing.guarded`` prints one line
and exits with the conventional status, 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).

``Interrupted`` subclasses ``KeyboardInterrupt``, so that library code that already cleans up on a
Ctrl-C (``files.write_atomic``, ``export.savedmodel.write_version``) cleans up on a SIGTERM too.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. ``signum``: the signal; ``status``: 128 + signum; the message
    says what was kept (set by whoever saved state on the way out)."""

    def __init__(self, signum: int = signal.SIGINT, message: str = ""):
        super().__init__(message)
        self.signum = int(signum)
        self.message = message

    @property
    def status(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def with_message(self, message: str) -> "Interrupted":
        return Interrupted(self.signum, message)


def as_interrupted(err: KeyboardInterrupt) -> Interrupted:
    """``err`` as an ``Interrupted`` (a plain KeyboardInterrupt is a SIGINT)."""
    return err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT, str(err))


def _raise(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def raising_on_signals(signums=SIGNALS):
    """Within the block, each of ``signums`` raises ``Interrupted`` in the main thread; the previous
    handlers come back afterwards. Outside the main thread (where handlers cannot be set) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def ignored(signums=SIGNALS):
    """Within the block, ``signums`` are ignored (a checkpoint being saved on the way out is not cut
    short by a second Ctrl-C). Outside the main thread a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
