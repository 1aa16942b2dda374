"""Run-directory locks: one process at a time trains, evaluates or exports in a run directory.

``hold(run_dir, purpose)`` is a context manager that takes an exclusive ``fcntl.flock`` on
``RUN_DIR/.lock`` and writes a JSON record of the holder into it (pid, host, start time, purpose,
command line). A second process that asks for the same directory gets ``RunLocked`` (a ``UserError``:
one line, exit status 2) naming the holder; it never waits for the lock (only, for at most
``RECORD_WAIT_S``, for the record of a holder that won by a hair to become readable).

Released on any exit: the record is emptied and the flock dropped when the block ends, and the OS
drops a flock when its process dies, however it dies (``kill -9`` included). A record left behind by a
dead process is therefore not a lock: the next process takes the flock, says it is taking over the
stale record, and writes its own. The lock file itself is never deleted (deleting it would let two
processes lock two different files under one name).

Within one process the lock is re-entrant: ``fit`` inside a block that already holds the directory
(a reproduction that trains and then evaluates, export after training) does not lock itself out.

No TensorFlow import; only the standard library and ``errors``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time

from tf_dpvae.errors import UserError

LOCK_FILE = ".lock"

_held: dict[str, int] = {}     # realpath of the run directory -> nesting depth in this process
_held_guard = threading.Lock()


class RunLocked(UserError):
    """Another process holds the run directory; the message names it (pid, host, start time)."""


def lock_path(run_dir: str) -> str:
    return os.path.join(run_dir, LOCK_FILE)


def read_record(run_dir: str) -> dict | None:
    """The holder's record in ``RUN_DIR/.lock``, or None (no file, empty, or unreadable)."""
    try:
        with open(lock_path(run_dir)) as f:
            text = f.read()
    except OSError:
        return None
    try:
        record = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def describe(record: dict | None) -> str:
    """``pid 123 on host h (train, since 2026-11-25T10:00:00+00:00)`` or a fallback."""
    if not record:
        return "another process (its record is not readable yet)"
    return (f"pid {record.get('pid', '?')} on host {record.get('host', '?')} "
            f"({record.get('purpose', '?')}, since {record.get('started', '?')})")


def _record(purpose: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)}


RECORD_WAIT_S = 5.0   # how long a loser waits for the winner's record (seconds)


def _process_alive(pid) -> bool:
    """Whether ``pid`` names a running process on this host (signal 0 probes without signalling)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, TypeError, ProcessLookupError):
        return False
    except PermissionError:
        return True   # it exists, owned by someone else
    return True


def _holder_record(run_dir: str, wait_s: float | None = None) -> dict | None:
    """The record of the process that holds the flock, waiting up to ``wait_s`` for it.

    The winner writes its record just after taking the flock, so a loser that lost by a hair reads
    an empty file, or the record of a dead holder that the winner is about to overwrite. Either is
    retried until a record of a live process (or one on another host, which cannot be probed)
    appears; after ``wait_s`` (default ``RECORD_WAIT_S``) whatever is there is reported.
    """
    deadline = time.monotonic() + (RECORD_WAIT_S if wait_s is None else wait_s)
    while True:
        record = read_record(run_dir)
        if record and (record.get("host") != socket.gethostname()
                       or _process_alive(record.get("pid"))):
            return record
        if time.monotonic() >= deadline:
            return record
        time.sleep(0.02)


def _lock_or_raise(fd: int, run_dir: str) -> None:
    """Take the exclusive flock on ``fd`` without waiting, or raise RunLocked naming the holder."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunLocked(f"{run_dir!r} is in use by {describe(_holder_record(run_dir))}; wait for "
                        f"it to finish or choose another directory") from None


def check_free(run_dir: str) -> None:
    """Raise RunLocked if another process holds ``run_dir`` now; write nothing (a probe before
    validating a directory's contents, so that a busy directory is reported as busy)."""
    if os.path.realpath(run_dir) in _held:
        return
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY)
    except OSError:
        return   # no lock file (or no directory): nobody holds it
    try:
        _lock_or_raise(fd, run_dir)
    finally:
        os.close(fd)


READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def _read_only(run_dir: str, log):
    """The lock of a run directory this process cannot write (a read-only share, an archive): an
    exclusive flock on the existing lock file opened read-only (a writer elsewhere still excludes
    us), with no record written; no lock file at all: nobody can be writing there (training writes
    one first), so the block runs unlocked. ``log`` hears which."""
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY)
    except OSError:
        if log is not None:
            log(f"{run_dir} is read-only and has no lock file: reading it without a lock")
        yield
        return
    try:
        _lock_or_raise(fd, run_dir)
        if log is not None:
            log(f"{run_dir} is read-only: holding its lock without writing a record")
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold(run_dir: str, purpose: str, log=None, read_only_ok: bool = False):
    """Hold ``run_dir`` (which must exist) exclusively for the block; see the module docstring.

    Raises RunLocked if another process holds it. ``log`` (a callable taking a line, default: none)
    hears about a stale record taken over. ``read_only_ok`` (for a command that only reads the run,
    such as export to another directory): a lock file this process cannot create or write is not an
    error; the lock is then taken as ``_read_only`` says, with a notice.
    """
    key = os.path.realpath(run_dir)
    with _held_guard:
        if key in _held:   # re-entrant within this process
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    try:
        fd = os.open(lock_path(run_dir), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if read_only_ok and err.errno in READ_ONLY_ERRNOS:
            with _read_only(run_dir, log):
                yield
            return
        raise RunLocked(f"cannot create the lock file {lock_path(run_dir)!r}: "
                        f"{err.strerror or err}") from None
    try:
        _lock_or_raise(fd, run_dir)
        stale = read_record(run_dir)
        if stale and log is not None:
            log(f"taking over the lock of {run_dir} left by {describe(stale)}, which is no longer "
                f"running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(_record(purpose), sort_keys=True) + "\n").encode(), 0)
        os.fsync(fd)
        with _held_guard:
            _held[key] = 0
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
            os.ftruncate(fd, 0)   # no record: nobody holds it (a dead holder leaves its record)
    finally:
        os.close(fd)   # drops the flock
