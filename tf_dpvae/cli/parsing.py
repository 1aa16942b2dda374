"""Shared pieces of the commands (no TensorFlow import): the one-line-error parser, argument types,
the mapping of ``UserError`` to one line and exit status 2, and the run-directory tag."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import sys
from typing import Callable

from tf_dpvae import interrupts
from tf_dpvae.errors import SEED_LIMIT, UserError

USAGE_ERROR = 2   # bad input: argparse's own status, and every UserError's


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that description and epilog lines that start with spaces (the
    examples) are kept as written; other paragraphs are wrapped as usual."""

    def _fill_text(self, text, width, indent):
        out = []
        for line in text.splitlines():
            out.append(indent + line if line.startswith(" ") or not line
                       else super()._fill_text(line, width, indent))
        return "\n".join(out)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage block) and exit status 2; help
    texts keep their examples' lines (``HelpFormatter``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


RUN_DIR_HELP = "a run directory written by tf-dpvae train (or retrofit)"
PROGRESS_HELP = "no progress bars (a line per epoch instead); bars are drawn only on a terminal"


def examples(*lines: str) -> str:
    """An epilog: "examples:" and the command lines, indented (``HelpFormatter`` keeps them)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, the one progress switch of every long command (dest ``no_progress``)."""
    parser.add_argument("--no-progress", action="store_true", default=False, help=PROGRESS_HELP)


def keras_verbose(no_progress: bool) -> int:
    """Keras's ``verbose``: a progress bar (1) on a terminal unless ``--no-progress``, else a line per
    epoch (2)."""
    return 1 if sys.stdout.isatty() and not no_progress else 2


@contextlib.contextmanager
def progress_bars(enabled: bool):
    """With ``enabled`` False, every tqdm bar the library draws while the command runs is off
    (tqdm reads ``TQDM_DISABLE`` as its default; the library's bars take no switch of their own);
    the variable is restored afterwards, as commands also run in-process (tests)."""
    if enabled:
        yield
        return
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous


MAX_MESSAGE = 2000   # characters of one error line; a 50 MB value is not echoed whole (issue 26)


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text``, or its start and end around "… (N characters left out) …" if it is over ``limit``."""
    if len(text) <= limit:
        return text
    keep = (limit - 40) // 2
    return f"{text[:keep]}… ({len(text) - 2 * keep:,} characters left out) …{text[-keep:]}"


def report(prog: str, err: BaseException) -> int:
    """Print ``PROG: error: MESSAGE`` on stderr as one line (a message's lines joined by "; ", cut
    to ``MAX_MESSAGE`` characters); return exit status 2."""
    message = "; ".join(line.strip() for line in str(err).strip().splitlines()) or type(err).__name__
    print(f"{prog}: error: {shorten(message)}", file=sys.stderr)
    return USAGE_ERROR


# OS errors a user fixes outside the program (space, permissions, a read-only share): one line, exit 2
DISK_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "operation not permitted", errno.EMFILE: "too many open files"}
DISK_MESSAGES = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def disk_problem(err: BaseException) -> str | None:
    """One line for an error of the disk or file system (``DISK_ERRNOS``, or TensorFlow's own
    errors whose message says "No space left on device"), or None for anything else."""
    if isinstance(err, OSError) and err.errno in DISK_ERRNOS:
        where = f" writing {err.filename!r}" if err.filename else ""
        return (f"{DISK_ERRNOS[err.errno]}{where} ({errno.errorcode[err.errno]}); what was written "
                f"before stays intact: make room or fix the permission, then rerun the same command")
    text = str(err)
    if type(err).__module__.startswith("tensorflow") and any(m in text for m in DISK_MESSAGES):
        first = next((line for line in text.splitlines() if any(m in line for m in DISK_MESSAGES)))
        first = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:\w+\]", "", first).strip()   # TF's op names
        return (f"{first[:300]}; what was written before stays intact: make room, then rerun "
                f"the same command")
    return None


def guarded(prog: str, body: Callable[[], int]) -> int:
    """``body()``'s exit status, run with SIGINT and SIGTERM raising ``Interrupted``; or, after one
    line on stderr: 2 for a ``UserError`` or a disk error (``disk_problem``), 128 + the signal's
    number for an interrupt (130 Ctrl-C, 143 SIGTERM)."""
    try:
        with interrupts.raising_on_signals():
            return body()
    except UserError as err:
        return report(prog, err)
    except KeyboardInterrupt as err:
        stop = interrupts.as_interrupted(err)
        print(f"{prog}: interrupted by {stop.name}" + (f"; {stop.message}" if stop.message else ""),
              file=sys.stderr)
        return stop.status
    except Exception as err:  # noqa: BLE001 - only disk errors are turned into a line; others re-raised
        problem = disk_problem(err)
        if problem is None:
            raise
        return report(prog, UserError(problem))


def run_command(parser: argparse.ArgumentParser, argv, body: Callable[[str, argparse.Namespace], int]) -> int:
    """A command's ``main``: parse ``argv`` with ``parser`` (bad flags: usage and exit 2, argparse's
    way) and return ``body(prog, args)``'s exit status under ``guarded``."""
    args = parser.parse_args(argv)
    return guarded(parser.prog, lambda: body(parser.prog, args))


def path_tag(name: str, fallback: str = "data") -> str:
    """``name`` as one safe path component: runs of characters outside ``[A-Za-z0-9_.-]`` become
    ``_`` (``npz:/a/b.npz`` → ``npz_a_b.npz``), so a data set's name never nests directories."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or fallback


def positive_int(text: str) -> int:
    """An argparse type: a whole number > 0, else an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed, a whole number in [0, 2**31), else an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**31), got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:   # errors.check_seed's range, as an argparse type
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**31), got {value}")
    return value


def float_list(text: str) -> tuple[float, ...]:
    """An argparse type: comma-separated numbers (``-50,-10``), else an error naming the value."""
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def assignment(text: str) -> tuple[str, object]:
    """An argparse type: ``SECTION.FIELD=VALUE`` → ("SECTION.FIELD", value), the value read as JSON
    where it parses (``4``, ``0.5``, ``true``, ``"x"``) and as the plain string otherwise (``spline``)."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key or not all(key.split(".", 1)) or not raw:
        raise argparse.ArgumentTypeError(f"expected SECTION.FIELD=VALUE (e.g. prior.num_blocks=8), "
                                         f"got {text[:200]!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, (list, dict)):
        raise argparse.ArgumentTypeError(f"expected a single value after '=', got {raw[:200]!r}")
    return key.strip(), value


def out_dir_problem(out: str | None, flag: str = "--out") -> str | None:
    """Why ``out`` (a directory to create or reuse) cannot be written, as one line, or None. None
    for ``out=None`` (the command's default). Checked before TensorFlow loads: an empty path, a
    file, a path under a file, or a nearest existing directory that this user cannot write."""
    if out is None:
        return None
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:   # bytes that are not UTF-8, surrogate-escaped by Python
        return (f"{flag} must be a UTF-8 path, got {shorten(ascii(out), 200)} (TensorFlow writes "
                f"checkpoints and summaries only under UTF-8 paths)")
    if not out.strip():
        return f"{flag} must be a directory path, got {out!r} (leave it out for the default)"
    if os.path.exists(out):
        if not os.path.isdir(out):
            return f"{flag} {out!r} is a file; give a directory"
        existing = out
    else:
        existing = os.path.dirname(os.path.abspath(out))
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            return f"{flag} {out!r} cannot be created: {existing!r} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {out!r} is not writable: no write permission on {existing!r}"
    return None
