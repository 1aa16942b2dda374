"""Export a trained run as a versioned SavedModel in TF Serving's layout.

    OUT/<version>/saved_model.pb, variables/      the signatures of ``signatures.py``
    OUT/<version>/assets.extra/tf_dpvae_export.json   where it came from: the run's name, the checkpoint
                                                   (relative to the run), its step and validation −ELBO,
                                                   the package version and commit, shapes, the
                                                   num_samples limit, and for vector data the
                                                   standardization that maps samples to data units (TF
                                                   Serving ignores this folder apart from its warm-up file)

The metadata holds no absolute path: a version copied to a server or another machine says nothing of
the machine it was exported on (``portable``).

Versions are positive integers; an export takes the next one (1 for an empty OUT) and never touches an
existing version. The version is written into a temporary directory inside OUT whose name TF Serving
ignores (``.tmp-export-*``, not an integer), flushed to disk, and renamed into place only when complete:
a crash or an exception never leaves a half-written version where a server would load it. While it
writes, the export holds a flock on ``.tmp-export-*/.writing``; the next export into OUT removes every
temporary whose flock nobody holds (its writer was killed), so temporaries never pile up.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time

import tensorflow as tf

from tf_dpvae import files, locks, runs
from tf_dpvae.errors import UserError
from tf_dpvae.export import DEFAULT_MAX_SAMPLES, out_problem
from tf_dpvae.export.signatures import SIGNATURE_NAMES, build_archive
from tf_dpvae.model import DPVAE

METADATA = os.path.join("assets.extra", "tf_dpvae_export.json")
TMP_PREFIX = ".tmp-export-"
WRITING = ".writing"          # in a temporary: flock-held by the export writing it
STALE_GRACE_SECONDS = 600     # a temporary without a marker older than this is a killed export's


class ExportError(UserError):
    """The run cannot be exported; the message names the path or value and says why."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: str          # OUT/<version>
    version: int
    step: int | None   # the training step of the exported weights (None for a live model)
    reused: bool = False  # True: an identical export (same checkpoint) already existed; nothing written


def default_out(run_dir: str) -> str:
    """``saved_models/<run directory's name>``, relative to the working directory."""
    return os.path.join("saved_models", os.path.basename(os.path.normpath(run_dir)))


def existing_versions(out: str) -> list[int]:
    """The version numbers present in ``out`` (sub-directories named by a decimal integer), sorted."""
    if not os.path.isdir(out):
        return []
    return sorted(int(name) for name in os.listdir(out)
                  if name.isdigit() and os.path.isdir(os.path.join(out, name)))


def read_metadata(version_dir: str) -> dict | None:
    path = os.path.join(version_dir, METADATA)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def restore(run_dir: str, input_shape=None, checkpoint: str = "best") -> runs.LoadedRun:
    """The model of ``run_dir`` at its ``best`` (default) or ``latest`` checkpoint, with its
    configuration and step.

    Loaded through ``runs.load_run``: every model variable must be in the checkpoint, so one from
    another architecture fails loudly instead of exporting freshly initialized weights.

    Args:
      run_dir: a run directory written by ``training.fit``.
      input_shape: the shape of one example, e.g. (2,) or (28, 28, 1); default: the one training
        recorded in ``config.json`` (the data set is loaded only for a run without the record).

    Raises:
      ``runs.RunError`` (not a run directory, no checkpoint, or one that does not fit) and
      ``DataError`` (the data set, when it must be loaded) as raised.
    """
    return runs.load_run(run_dir, input_shape, checkpoint=checkpoint)


def write_version(write, out: str) -> tuple[str, int]:
    """Run ``write(tmp_dir)`` to fill a fresh temporary directory inside ``out``, then rename it to
    ``out/<next version>``. Returns (path, version). On any exception (or interrupt) the temporary
    directory is removed and no version appears."""
    problem = out_problem(out)
    if problem:
        raise ExportError(problem)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:   # root passes every permission check and still cannot create /proc/x
        raise ExportError(f"--out {out!r} cannot be created: {err.strerror or err}") from None
    clean_stale_temporaries(out)
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=out)
    marker = None
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a server running as another user must read it
        marker = _claim(tmp)
        write(tmp)
        os.unlink(os.path.join(tmp, WRITING))   # still held through the open descriptor
        files.fsync_tree(tmp)
        while True:
            version = max(existing_versions(out), default=0) + 1
            target = os.path.join(out, str(version))
            try:
                # Atomic; fails (rather than merging) if a concurrent export took this number first.
                os.rename(tmp, target)
                break
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not os.path.isdir(target):
                    raise
        files.fsync_dir(out)
        return target, version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if marker is not None:
            os.close(marker)


def _claim(tmp: str) -> int:
    """Create ``tmp/.writing`` and hold an exclusive flock on it while the export writes: a later
    export sees the temporary as alive for as long as this process lives."""
    fd = os.open(os.path.join(tmp, WRITING), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def clean_stale_temporaries(out: str, grace_seconds: float = STALE_GRACE_SECONDS) -> list[str]:
    """Remove the ``.tmp-export-*`` directories in ``out`` left by exports that were killed: those
    whose ``.writing`` flock nobody holds, or (killed before the marker existed, or after it was
    removed) older than ``grace_seconds`` with no marker. Another export's live temporary is kept.
    Returns the paths removed."""
    removed = []
    if not os.path.isdir(out):
        return removed
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if not name.startswith(TMP_PREFIX) or not os.path.isdir(path):
            continue
        try:
            fd = os.open(os.path.join(path, WRITING), os.O_RDONLY)
        except FileNotFoundError:
            try:
                stale = time.time() - os.path.getmtime(path) > grace_seconds
            except OSError:
                continue
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale = True
            except BlockingIOError:
                stale = False
            finally:
                os.close(fd)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def export_model(model: DPVAE, out: str, max_samples: int = DEFAULT_MAX_SAMPLES,
                 metadata: dict | None = None) -> ExportResult:
    """Export a built model as the next version in ``out``; see the module docstring."""
    archive = build_archive(model, max_samples)
    info = {
        **(metadata or {}),
        "example_shape": list(model.get_build_config()["input_shape"][1:]),
        "latent_dim": int(model.prior.latent_dim),
        "prior": model.prior.kind,   # normal, dp, or gmm (a retrofit's mixture)
        "likelihood": model.likelihood,
        "max_samples": max_samples,
        "signatures": list(SIGNATURE_NAMES),
        "tensorflow": tf.__version__,
    }

    def write(directory):
        archive.write_out(directory, verbose=False)
        os.makedirs(os.path.join(directory, "assets.extra"), exist_ok=True)
        with open(os.path.join(directory, METADATA), "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)

    path, version = write_version(write, out)
    return ExportResult(path=path, version=version, step=metadata.get("step") if metadata else None)


def export_run(run_dir: str, out: str | None = None, max_samples: int = DEFAULT_MAX_SAMPLES,
               input_shape=None, skip_if_exported: bool = False,
               checkpoint: str = "best") -> ExportResult:
    """Export the best (default) or latest ``checkpoint`` of ``run_dir`` to ``out`` (default ``default_out(run_dir)``).

    skip_if_exported: if the newest version in ``out`` was exported from this very checkpoint with the
    same ``max_samples``, return it (``reused=True``) instead of writing an identical new version (used
    after training, where a rerun of a finished run would otherwise add a copy each time).
    """
    runs.require_run_dir(run_dir)
    # The run directory is locked for the export (locks.hold): training cannot rotate the checkpoint
    # away while it is read, and a second export or evaluation waits its turn (RunLocked, exit 2).
    # An archived run on a read-only share exports without writing into it (a notice says so); a
    # stale lock record taken over is said too.
    with locks.hold(run_dir, "export", log=_notice, read_only_ok=True):
        return _export_run(run_dir, out, max_samples, input_shape, skip_if_exported, checkpoint)


def _notice(line: str) -> None:
    print(line, file=sys.stderr)


def portable(value, run_dir: str):
    """``value`` (a JSON-ready structure) with every absolute path in its strings made portable: a path
    inside the run directory's parent becomes relative to the run directory (``checkpoints/best/
    ckpt-540``, ``../source-run``), any other its file name; ``npz:``/``folder:`` data set names keep
    their prefix. Nothing of the exporting machine's layout is left."""
    if isinstance(value, dict):
        return {k: portable(v, run_dir) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, run_dir) for v in value]
    if not isinstance(value, str):
        return value
    prefix, sep, rest = value.partition(":")
    if sep and prefix.isalpha() and os.path.isabs(rest):
        return f"{prefix}:{portable(rest, run_dir)}"
    if not os.path.isabs(value):
        return value
    run = os.path.abspath(run_dir)
    if os.path.commonpath([os.path.dirname(run), value]) == os.path.dirname(run):
        return os.path.relpath(value, run)
    return os.path.basename(os.path.normpath(value))


def checkpoint_digest(checkpoint: str) -> str:
    """sha256 of the checkpoint's ``.index`` file: it holds every tensor's CRC32C, so it names the
    weights (two runs of the same name and step differ here)."""
    import hashlib

    with open(f"{checkpoint}.index", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def validation_nelbo(checkpoint: str) -> float | None:
    """The validation negative ELBO a best checkpoint was selected by
    (``training_callbacks.BestCheckpoint`` stores it inside as ``selection``), or None (a latest
    checkpoint, a retrofit's)."""
    from tf_dpvae import checkpoints

    try:
        value = float(tf.train.load_variable(checkpoints.tf_path(checkpoint),
                                             "selection/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError):
        return None
    return value if value != float("inf") else None


def _export_run(run_dir, out, max_samples, input_shape, skip_if_exported, checkpoint):
    from tf_dpvae import __version__
    from tf_dpvae.export import DATA_UNITS_RECIPE
    from tf_dpvae.provenance import git_commit

    out = out or default_out(run_dir)
    run = restore(run_dir, input_shape, checkpoint)
    step = run.step
    source = {"run": os.path.basename(os.path.abspath(run_dir)),
              "checkpoint": os.path.relpath(os.path.abspath(run.checkpoint), os.path.abspath(run_dir)),
              "checkpoint_kind": run.checkpoint_kind, "step": step,
              "checkpoint_sha256": checkpoint_digest(run.checkpoint)}
    if skip_if_exported and existing_versions(out):
        latest = max(existing_versions(out))
        previous = read_metadata(os.path.join(out, str(latest))) or {}
        if all(previous.get(k) == v for k, v in {**source, "max_samples": max_samples}.items()):
            return ExportResult(os.path.join(out, str(latest)), latest, step, reused=True)
    post_hoc = ({"post_hoc": {**run.post_hoc, "settings": run.post_hoc["settings"].to_dict()}}
                if run.post_hoc else {})
    standardization = runs.read_standardization(run_dir)
    data_units = ({"standardization": standardization, "data_units": DATA_UNITS_RECIPE}
                  if standardization else {})
    return export_model(run.model, out, max_samples, metadata=portable({
        **source, "validation_negative_elbo": validation_nelbo(run.checkpoint),
        "tf_dpvae": __version__, "commit": git_commit(), "config": run.config.to_dict(), **post_hoc,
        **data_units}, run_dir))
