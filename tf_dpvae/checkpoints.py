"""Checkpoints that survive damage: found on disk, verified by reading them back, rotated only after a
newer one reads back whole.

A checkpoint is the pair ``ckpt-N.index`` + ``ckpt-N.data-00000-of-00001`` in one directory; N is the
optimizer step. TensorFlow's ``CheckpointManager`` trusts the ``checkpoint`` state file: a garbled one
makes it see no checkpoint at all (a silent restart from step 0) and rotate away checkpoints it no
longer knows, and it deletes the oldest checkpoint before anything has read the new one. Here:

- ``find(directory)`` lists the checkpoints from the files on disk (the state file is only reported
  on, never trusted) and reads them back newest first, every tensor (``damage``): a garbled
  ``.index``, a truncated or garbled ``.data`` (TensorFlow stores a CRC32C of every tensor) or a missing
  file is found before a restore would fail half-way. The newest one that reads back whole is the one
  to resume from; what was skipped, and why, is said in one line (``Found.notice``).
- ``Found.require`` raises ``CheckpointError`` (a ``UserError``: one line, exit 2) when checkpoints
  exist but none reads back: training never restarts from scratch over a run's checkpoints.
- ``Rotation.save(checkpoint_number=N)`` writes ``ckpt-N``, reads it back, and only then records it in
  the state file (atomically) and deletes the damaged checkpoints and the oldest intact ones beyond
  ``keep``. A new checkpoint that does not read back is reported, and nothing is deleted. A new
  ``Rotation`` first removes the temporaries of a save that was killed (``clean_temporaries``).

Only TensorFlow, ``errors`` and ``files``.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil

import tensorflow as tf

from tf_dpvae.errors import UserError
from tf_dpvae.files import clean_stale_files, write_atomic

PREFIX = "ckpt"
STATE_FILE = "checkpoint"
_NAME = re.compile(rf"^{PREFIX}-(\d+)\.(index|data-\d{{5}}-of-\d{{5}})$")
_TEMPORARY = re.compile(rf"^{PREFIX}-\d+_temp$|\.tempstate")


class CheckpointError(UserError):
    """A directory holds checkpoints but none of them reads back whole."""


def step_of(prefix: str, default: int = 0) -> int:
    """N of a checkpoint prefix ``.../ckpt-N`` (the optimizer step it was saved at), ``default`` for a
    name that is not one. The one parser of a checkpoint's step."""
    tail = os.path.basename(str(prefix)).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else default


def recorded_step(directory: str) -> int:
    """The step of the checkpoint the state file of ``directory`` names current
    (``model_checkpoint_path``), 0 if there is none or it cannot be read. Plain file reading: no
    TensorFlow, no check that the checkpoint reads back (``find`` is that)."""
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            for line in f:
                if line.startswith("model_checkpoint_path:"):
                    return step_of(line.split(":", 1)[1].strip().strip('"'))
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def tf_path(path: str) -> str | bytes:
    """``path`` as TensorFlow must receive it to name the same file, whatever the locale.

    TensorFlow encodes a ``str`` path as UTF-8. Under a locale that is not UTF-8 (``LC_ALL=C`` with
    Python's UTF-8 mode off) Python decodes a non-ASCII path's bytes with surrogate escapes, which
    UTF-8 cannot encode: TensorFlow then fails with UnicodeEncodeError, which once read as "the
    checkpoint is damaged" (issue 26). Such a path is handed over as the str its bytes spell in
    UTF-8. TensorFlow cannot name a file whose path bytes are not UTF-8 at all (it decodes the path
    it wrote as UTF-8): ``CheckpointError`` saying so."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        try:
            return os.fsencode(path).decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(f"{path!r} is not UTF-8 and TensorFlow reads and writes checkpoints "
                                  f"only under UTF-8 paths; rename the directory") from None


def on_disk(directory: str) -> list[str]:
    """The checkpoint prefixes (``DIR/ckpt-N``) of which any file exists in ``directory``, by N
    ascending. Whether each is whole is ``damage``'s question."""
    if not os.path.isdir(directory):
        return []
    steps = {int(m.group(1)) for m in map(_NAME.match, os.listdir(directory)) if m}
    return [os.path.join(directory, f"{PREFIX}-{n}") for n in sorted(steps)]


def damage(prefix: str) -> str | None:
    """Why the checkpoint ``prefix`` cannot be read back whole, as one line, or None if every tensor
    in it reads (each is checked against its stored CRC32C)."""
    if not os.path.isfile(prefix + ".index"):
        return "its .index file is missing"
    name = tf_path(prefix)   # a path TensorFlow cannot name is said as such, not as damage
    try:
        reader = tf.train.load_checkpoint(name)
        for name in reader.get_variable_to_dtype_map():
            reader.get_tensor(name)
    # what a damaged bundle raises: OpError (bad sstable, CRC mismatch, missing shard), IndexError
    # (a .data file shorter than its index says), ValueError/OSError from the reader's wrappers
    except (tf.errors.OpError, IndexError, ValueError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return first[:200]
    return None


def state_problem(directory: str) -> str | None:
    """Why the ``checkpoint`` state file cannot be read, or None (readable, or absent)."""
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        return None
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")   # its warnings about the parse error: the caller says it in one line
    try:
        state = tf.train.get_checkpoint_state(tf_path(directory))   # None for a file that does not parse
    except ValueError:   # parses, but names no checkpoint (an empty file, say)
        state = None
    finally:
        logger.setLevel(level)
    return None if state is not None else f"the state file {path} is unreadable"


@dataclasses.dataclass
class Found:
    """What ``find`` saw in ``directory``."""
    directory: str
    latest: str | None                       # the newest checkpoint that reads back whole
    older: list[str]                         # older ones, oldest first (not read back)
    damaged: list[tuple[str, str]]           # (prefix, why), newer than ``latest``, newest first
    state_problem: str | None

    def notice(self) -> str | None:
        """One line saying what was skipped and what is used instead, or None if nothing was off."""
        parts = []
        if self.state_problem:
            parts.append(f"{self.state_problem}; found the checkpoints from the files on disk")
        if self.damaged:
            parts.append("skipping damaged checkpoint" + ("s " if len(self.damaged) > 1 else " ")
                         + ", ".join(f"{os.path.basename(p)} ({why})" for p, why in self.damaged))
        if not parts:
            return None
        using = (f"using {os.path.basename(self.latest)}, the newest intact one" if self.latest
                 else "none is intact")
        return f"{self.directory}: {'; '.join(parts)}; {using}"

    def require(self, advice: str, error: type = None) -> None:
        """Raise ``error`` (default CheckpointError; a reader of runs passes ``runs.RunError``),
        ending in ``advice`` (what to do), if checkpoints exist but none reads back whole."""
        if self.damaged and not self.latest:
            raise (error or CheckpointError)(
                f"{self.directory} holds checkpoints but none reads back whole ("
                + ", ".join(f"{os.path.basename(p)}: {why}" for p, why in self.damaged)
                + f"); {advice}")


def find(directory: str) -> Found:
    """The checkpoints in ``directory``, read back newest first until one is whole (see ``Found``)."""
    prefixes = on_disk(directory)
    damaged = []
    while prefixes:
        newest = prefixes.pop()
        why = damage(newest)
        if why is None:
            return Found(directory, newest, prefixes, damaged, state_problem(directory))
        damaged.append((newest, why))
    return Found(directory, None, [], damaged, state_problem(directory))


def clean_temporaries(directory: str) -> list[str]:
    """Remove what a save killed half-way leaves in ``directory``: TensorFlow's ``ckpt-N_temp/``
    directories (the shards before they are merged) and ``*.tempstate*`` files, and the
    ``write_atomic`` temporaries of the state file. Only for a directory this process alone writes
    (under the run-directory lock). Returns the paths removed."""
    removed = clean_stale_files(directory)
    if not os.path.isdir(directory):
        return removed
    for entry in os.scandir(directory):
        if _TEMPORARY.search(entry.name):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.remove(entry.path)
            removed.append(entry.path)
    return removed


def remove(prefix: str) -> None:
    """Delete the files of the checkpoint ``prefix``."""
    for path in glob.glob(glob.escape(prefix) + ".index") + glob.glob(glob.escape(prefix) + ".data-*"):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class Rotation:
    """Saves ``checkpoint`` as ``DIR/ckpt-N`` and keeps the ``keep`` newest (see the module docstring).

    A drop-in for the part of ``tf.train.CheckpointManager`` that training uses: ``save(
    checkpoint_number=N)`` and ``latest_checkpoint``; the state file stays readable by
    ``tf.train.latest_checkpoint``.

    Args:
      checkpoint: a ``tf.train.Checkpoint``.
      found: ``find(directory)``: the checkpoints already there.
      keep: Python ``int`` ≥ 1, how many intact checkpoints to keep.
      log: callable taking one line; hears about a new checkpoint that did not read back.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, found: Found, keep: int, log=print):
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.checkpoint = checkpoint
        self.directory = found.directory
        self.keep = keep
        self.log = log
        self.kept = found.older + ([found.latest] if found.latest else [])   # oldest first
        self.damaged = [p for p, _ in found.damaged]
        clean_temporaries(self.directory)   # the writer is this process alone (the run's lock)

    @property
    def latest_checkpoint(self) -> str | None:
        return self.kept[-1] if self.kept else None

    def save(self, checkpoint_number: int) -> str | None:
        """Write ``ckpt-<checkpoint_number>``, read it back, then rotate; the path, or None if it
        did not read back (then nothing is deleted and the previous checkpoints stay current)."""
        os.makedirs(self.directory, exist_ok=True)
        self.checkpoint.save_counter.assign_add(1)   # as tf.train.Checkpoint.save: in the file too
        path = os.path.join(self.directory, f"{PREFIX}-{checkpoint_number}")
        try:
            self.checkpoint.write(tf_path(path))
        except UnicodeError:   # TensorFlow globs the str it wrote with the locale's encoding
            raise CheckpointError(
                f"TensorFlow cannot write checkpoints under {path!r}, a non-ASCII path, while the "
                f"locale is not UTF-8; run with LC_ALL=C.UTF-8 (or PYTHONUTF8=1)") from None
        why = damage(path)
        if why is not None:
            self.log(f"the new checkpoint {path} does not read back ({why}); keeping "
                     f"{self.latest_checkpoint or 'the earlier checkpoints'}")
            if path not in self.damaged:
                self.damaged.append(path)
            return None
        self.kept = [p for p in self.kept if p != path] + [path]
        self.damaged = [p for p in self.damaged if p != path]
        self._record()
        for prefix in self.damaged + self.kept[:-self.keep]:
            remove(prefix)
        self.damaged, self.kept = [], self.kept[-self.keep:]
        self._record()
        return path

    def _record(self) -> None:
        """The state file, in the text format ``tf.train.latest_checkpoint`` reads (a
        ``CheckpointState`` proto), with paths relative to the directory so that a run can move;
        written atomically."""
        lines = [f'model_checkpoint_path: "{os.path.basename(self.kept[-1])}"']
        lines += [f'all_model_checkpoint_paths: "{os.path.basename(p)}"' for p in self.kept]
        write_atomic(os.path.join(self.directory, STATE_FILE), "\n".join(lines) + "\n")
