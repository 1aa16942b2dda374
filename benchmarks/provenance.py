"""The line every benchmark prints above its table: command, UTC date, commit and the machine's load,
so that a number quoted in the README says when, where and at which commit it was measured."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commit() -> str:
    """The checkout's short commit, with "+dirty" when tracked files have uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


# The commit whose code the benchmark runs: read when the script starts (it imports this module at
# the top), not when it prints, since a long benchmark can outlive the checkout's HEAD.
COMMIT_AT_START = commit()


def stamp(argv=None) -> str:
    """"`benchmarks/NAME.py ARGS`, YYYY-MM-DD HH:MM UTC, commit C (at the start), load average L"."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(os.path.abspath(argv[0]), ROOT)
    load = os.getloadavg()[0]
    return (f"`{' '.join([script, *argv[1:]])}`, "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {COMMIT_AT_START} "
            f"(at the start), "
            f"1-minute load average {load:.1f} on {os.cpu_count()} cores")
