"""What every benchmark script shares, imported first (``import provenance``: ``benchmarks/`` is first
on ``sys.path`` when a script runs): the repository on ``sys.path`` (so ``tf_dpvae`` imports from this
checkout), TensorFlow's C++ log quiet (``TF_CPP_MIN_LOG_LEVEL=3`` unless set), the commit, and the line
every benchmark prints above its table (``stamp``): command, UTC date, commit and the machine's load,
so that a number quoted in the README says when, where and at which commit it was measured.

The commit is ``tf_dpvae.provenance.git_commit``'s, the one the experiments record: "+dirty" when
tracked files (or untracked Python files) differ from it; here in its short form.
"""

from __future__ import annotations

import datetime
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tf_dpvae.provenance import git_commit  # noqa: E402  (ROOT is on sys.path now)


def commit() -> str:
    """The checkout's short commit, with "+dirty" as ``tf_dpvae.provenance.git_commit`` defines it."""
    return git_commit(ROOT, short=True)


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


def print_table(text: str, out: str | None = None) -> None:
    """Print a benchmark's table and, when ``out`` names a file, also write it there in one piece
    (``tf_dpvae.files.write_atomic``: a kill leaves the old file or the new one), making its
    folder as needed."""
    print(text)
    if out:
        from tf_dpvae.files import write_atomic

        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        write_atomic(out, text)


def flat_numbers(tree, prefix: str = "", skip=()) -> dict:
    """{dotted key: float} of every number in a nested dict (lists indexed: ``a.0.b``), the keys in
    ``skip`` left out at every depth; how two ``metrics.json`` are compared number by number."""
    out = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key not in skip:
                out.update(flat_numbers(value, f"{prefix}{key}.", skip))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            out.update(flat_numbers(value, f"{prefix}{i}.", skip))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        out[prefix[:-1]] = float(tree)
    return out


def read_table1(out_dir: str) -> dict:
    """``<out_dir>/table1.json`` of a ``reproduce table1 --out`` directory; a clear exit if it has none."""
    import json

    path = os.path.join(out_dir, "table1.json")
    if not os.path.isfile(path):
        raise SystemExit(f"{out_dir!r} holds no table1.json: give a reproduce table1 --out directory")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def short_commit(commit) -> str:
    """The first 7 hex digits of a commit a result recorded, with "+dirty" when it had it."""
    text = str(commit or "?")
    return text[:7] + ("+dirty" if text.endswith("+dirty") else "")
