"""Where a result came from: the source tree's git commit (tables, TensorBoard text, exports, and the
benchmarks' stamp through ``benchmarks/provenance.py``): one definition of the commit and of "dirty"."""

from __future__ import annotations

import os
import subprocess


def git_commit(directory: str | None = None, short: bool = False) -> str:
    """``git rev-parse HEAD`` of the source tree (``--short`` with ``short``), with "+dirty" if tracked
    files (or untracked Python files, which could change what runs) differ from it; "unknown" outside
    a git checkout."""
    directory = directory or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", directory, "rev-parse", *(["--short"] if short else []),
                               "HEAD"], capture_output=True,
                              text=True, check=True, timeout=30).stdout.strip()
        status = subprocess.run(["git", "-C", directory, "status", "--porcelain"],
                                capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = any(not line.startswith("??") or line.rstrip().endswith(".py")
                for line in status.splitlines() if line.strip())
    return head + ("+dirty" if dirty else "")
