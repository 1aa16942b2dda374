"""Atomic file and directory writes: a crash or a kill never leaves a half-written result behind.

``write_atomic`` writes one file (temporary file beside it, fsync, rename). ``publish_dir`` publishes a
whole directory as one set: it is built aside in ``.tmp-<name>-*`` and swapped in place of the old one
with Linux's ``renameat2(RENAME_EXCHANGE)``, so a reader (or a kill) sees the old set or the new one,
never a mixture. Where the exchange is not available (another OS, a file system without it), the old
directory is first renamed to ``.old-<name>-*`` and the new one renamed in; a kill between the two
renames leaves no ``<name>``, and the next ``publish_dir`` (or ``clean_stale_dirs``) puts the old set
back before anything else. Temporaries of a killed writer are removed by the next call, which must
therefore be the only writer of ``<name>`` (the run-directory lock, ``locks.hold``, makes it so).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_atomic(path: str, payload: bytes | str, mode: int | None = None) -> None:
    """Write ``payload`` to a temporary file beside ``path``, flush it to disk and rename it into place.

    The file gets ``mode`` (default 0o666) less the process's umask, like a file ``open`` creates
    (``tempfile.mkstemp`` alone would leave it 0600)."""
    data = payload.encode() if isinstance(payload, str) else payload
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, (0o666 if mode is None else mode) & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def clean_stale_files(directory: str) -> list[str]:
    """Remove the ``.tmp-*`` regular files a killed ``write_atomic`` left in ``directory`` (not
    directories: ``publish_dir``'s are its own to clean). Only for a directory this process alone
    writes (under the run-directory lock). Returns the paths removed."""
    removed = []
    if not os.path.isdir(directory):
        return removed
    for entry in os.scandir(directory):
        if entry.name.startswith(".tmp-") and entry.is_file(follow_symlinks=False):
            try:
                os.remove(entry.path)
                removed.append(entry.path)
            except FileNotFoundError:
                pass
    return removed


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def fsync_tree(root: str) -> None:
    """Flush every file and directory under ``root`` to disk."""
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(directory)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exchange(a: str, b: str) -> bool:
    """Atomically swap the paths ``a`` and ``b`` (both must exist); False if this system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), a)


def clean_stale_dirs(parent: str, name: str) -> list[str]:
    """Remove ``.tmp-<name>-*`` left by a killed ``publish_dir`` under ``parent``; if ``<name>`` is
    missing and a ``.old-<name>-*`` exists (a kill between the fallback's two renames), rename the
    newest back first. Returns what was removed or restored."""
    if not os.path.isdir(parent):
        return []
    done = []
    target = os.path.join(parent, name)
    old = sorted((e for e in os.listdir(parent) if e.startswith(f".old-{name}-")),
                 key=lambda e: os.path.getmtime(os.path.join(parent, e)))
    if old and not os.path.lexists(target):
        os.rename(os.path.join(parent, old.pop()), target)
        done.append(f"restored {target}")
    for entry in os.listdir(parent):
        if entry.startswith((f".tmp-{name}-", f".old-{name}-")):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
            done.append(f"removed {os.path.join(parent, entry)}")
    return done


def publish_dir(target: str, fill) -> str:
    """Build a new ``target`` directory with ``fill(tmp_dir)`` and put it in place of the old one as
    one set (see the module docstring). On any exception the old set stays and the temporary goes."""
    target = os.path.abspath(target)
    parent, name = os.path.split(target)
    os.makedirs(parent, exist_ok=True)
    clean_stale_dirs(parent, name)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp makes it private (0700)
        fill(tmp)
        fsync_tree(tmp)
        if not os.path.lexists(target):
            os.rename(tmp, target)
        elif exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)   # tmp now holds the old set
        else:
            aside = tempfile.mkdtemp(prefix=f".old-{name}-", dir=parent)
            os.rename(target, aside)   # a directory may replace an empty one
            os.rename(tmp, target)
            shutil.rmtree(aside, ignore_errors=True)
        fsync_dir(parent)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
