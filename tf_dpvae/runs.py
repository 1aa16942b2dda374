"""A run directory written by ``training.fit``: its layout, and loading its trained model back.

The layout, owned here (training, retrofit, evaluation, export and the tables take these names):

    config.json            CONFIG_FILE: the configuration's sections (``config.RunConfig.to_dict``),
                           the example record (``EXAMPLE_KEY``), a retrofit's record (``POST_HOC_KEY``)
    checkpoints/           CHECKPOINT_DIR: ``ckpt-<step>`` (the format is ``checkpoints``'s)
    checkpoints/best/      BEST_DIR under it: the epoch with the lowest validation negative ELBO,
                           and BEST_RECORD (best.json) saying which it is
    logs/                  LOG_DIR: TensorBoard
    eval/                  EVAL_DIR: ``evaluate``'s results, ``METRICS_FILE`` among them

Export and evaluation read runs through this one module, so that the checkpoint layout
(``model.make_checkpoint``) is written in one place and read in one place. Nothing here imports
TensorFlow at import time (``load_run`` does when called): the commands check a run directory
before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from typing import TYPE_CHECKING

from tf_dpvae.config import EXAMPLE_KEY, POST_HOC_KEY, ConfigError, RunConfig
from tf_dpvae.post_hoc_config import PostHocConfig
from tf_dpvae.json_files import read_json_file
from tf_dpvae.errors import UserError

if TYPE_CHECKING:   # annotations only: the modules import TensorFlow
    from tf_dpvae import data as data_lib
    from tf_dpvae.model import DPVAE

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
# checkpoints/best/: the lowest validation negative ELBO (training_callbacks.BestCheckpoint)
BEST_DIR = "best"
BEST_RECORD = "best.json"       # under checkpoints/best/: the step, epoch and value it was chosen by
LOG_DIR = "logs"
EVAL_DIR = "eval"
METRICS_FILE = "metrics.json"   # under eval/


ARRAYS_PREFIX = "arrays:"   # data.dataset of a run trained on arrays passed in Python (datasets.local)


def default_run_name(config: RunConfig) -> str:
    """``<reg>-<prior>-<dataset>-seed<seed>``, one safe path component: the run directory ``train``
    and ``tf_dpvae.fit`` choose under ``runs/`` when given none. The seed is part of it, so a second
    seed is a second run rather than a refused resumption."""
    import re

    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.data.dataset).strip("_") or "data"
    return f"{config.objective.reg}-{config.prior.kind}-{dataset}-seed{config.train.seed}"


class RunError(UserError):
    """The directory is not a usable run; the message says what is missing and what to do."""


# What every "not a run directory" message says is accepted.
TRAIN_COMMAND = "python -m tf_dpvae.train"
RUN_DIR_ACCEPTED = (f"give a directory written by {TRAIN_COMMAND} (it holds {CONFIG_FILE} and "
                    f"{CHECKPOINT_DIR}/)")


def run_dir_problem(path: str) -> str | None:
    """Why ``path`` is not a run directory, as one line naming it and what is accepted, or None if
    it holds a run's ``config.json``: the one check every command and reader of a run makes (a
    cheap one, before TensorFlow loads). A run without a checkpoint yet passes; reading one then
    says so (``latest_checkpoint``)."""
    if not os.path.exists(path):
        reason = "it does not exist"
    elif not os.path.isdir(path):
        reason = "it is a file"
    elif not os.path.isfile(os.path.join(path, CONFIG_FILE)):
        reason = f"it has no {CONFIG_FILE}"
    else:
        return None
    return f"{path!r} is not a run directory: {reason}; {RUN_DIR_ACCEPTED}"


def require_run_dir(path: str) -> None:
    """``RunError`` with ``run_dir_problem``'s line unless ``path`` is a run directory."""
    problem = run_dir_problem(path)
    if problem:
        raise RunError(problem)


def is_run(directory: str) -> bool:
    """Whether ``directory`` holds a run's ``config.json`` (``run_dir_problem`` finds nothing)."""
    return run_dir_problem(directory) is None


def checkpoint_dir(run_dir: str, kind: str = "latest") -> str:
    """Where the run keeps its ``latest`` checkpoints (``checkpoints/``) or its ``best`` one."""
    base = os.path.join(run_dir, CHECKPOINT_DIR)
    return os.path.join(base, BEST_DIR) if kind == "best" else base


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclasses.dataclass
class LoadedRun:
    config: RunConfig
    model: DPVAE
    checkpoint: str
    step: int
    splits: data_lib.Splits | None
    checkpoint_kind: str = "latest"   # "best" or "latest": which one was read
    post_hoc: dict | None = None      # a retrofitted run's record (read_post_hoc), else None


def read_config(run_dir: str) -> RunConfig:
    """The run's ``config.json`` as a validated ``RunConfig``."""
    require_run_dir(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        values = read_json_file(path, "file")
    except ConfigError as err:   # unreadable, not text, not JSON: damaged or truncated
        reason = str(err).removeprefix(f"file {path!r} ")
        raise RunError(f"{path} is not a valid run configuration: it {reason}; restore it from a "
                       f"copy") from None
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise RunError(f"{path} is not a valid run configuration: it is damaged (not a JSON object "
                       f"of sections); restore it from a copy")
    try:
        return RunConfig.from_dict(values)
    except (ConfigError, TypeError, AttributeError, ValueError) as err:
        raise RunError(f"{path} is not a valid run configuration: {err}") from None


def read_example(run_dir: str) -> tuple[tuple[int, ...], str] | None:
    """(shape, dtype) of one example as training recorded it in ``config.json``, or None for a run
    written before the record existed (its data set must then be loaded to learn the shape)."""
    read_config(run_dir)   # a RunError for a directory that is not a run, or a damaged config.json
    example = read_json_file(os.path.join(run_dir, CONFIG_FILE), "file").get(EXAMPLE_KEY)
    if not isinstance(example, dict) or not isinstance(example.get("shape"), list):
        return None
    return tuple(int(d) for d in example["shape"]), str(example.get("dtype", "float32"))


def read_standardization(run_dir: str) -> dict | None:
    """The standardization of the run's vector data as training recorded it in ``config.json``
    (``Splits.standardization``: {"mean": [D], "std": [D]}, x in data units = x·std + mean), or None
    (images, or a run written before the record existed)."""
    read_config(run_dir)
    example = read_json_file(os.path.join(run_dir, CONFIG_FILE), "file").get(EXAMPLE_KEY)
    constants = example.get("standardization") if isinstance(example, dict) else None
    if not isinstance(constants, dict) or not all(isinstance(constants.get(k), list)
                                                  for k in ("mean", "std")):
        return None
    return {"mean": [float(v) for v in constants["mean"]], "std": [float(v) for v in constants["std"]]}


def read_post_hoc(run_dir: str) -> dict | None:
    """A retrofitted run's record under ``POST_HOC_KEY`` in ``config.json`` (``post_hoc.retrofit_run``):
    {"settings": PostHocConfig, "source": {...}, "fit": {...}}, with ``settings`` validated; None for
    a run trained as usual. Raises ``RunError`` for a record that does not parse."""
    read_config(run_dir)   # a RunError for a directory that is not a run
    with open(os.path.join(run_dir, CONFIG_FILE)) as f:
        record = json.load(f).get(POST_HOC_KEY)
    if record is None:
        return None
    try:
        settings = PostHocConfig(**record["settings"])
    except (KeyError, TypeError, ConfigError) as err:
        raise RunError(f"{os.path.join(run_dir, CONFIG_FILE)} has a {POST_HOC_KEY!r} record that is "
                       f"not valid: {err}") from None
    return {**record, "settings": settings}


def _intact(directory: str, log, advice: str = "train the run again") -> str | None:
    """The newest checkpoint in ``directory`` that reads back whole (``checkpoints.find``), saying
    what was skipped; None if there is none at all; RunError ending in ``advice`` if there are some
    but none is intact."""
    from tf_dpvae import checkpoints

    found = checkpoints.find(directory)
    found.require(advice, error=RunError)
    if found.notice() and log is not None:
        log(found.notice())
    return found.latest


def latest_checkpoint(run_dir: str, log=None) -> str:
    """The newest checkpoint of the run that reads back whole (a damaged newer one is skipped and
    ``log`` hears which), found from the files on disk, whatever the state file says."""
    path = _intact(checkpoint_dir(run_dir), log)
    if path is None:
        raise RunError(f"{run_dir!r} has no checkpoint yet ({CHECKPOINT_DIR}/ is written at the end "
                       f"of each epoch); train it first")
    return path


def checkpoint_path(run_dir: str, which: str = "best", log=None) -> tuple[str, str]:
    """(path, kind) of the checkpoint to read: ``best`` (the epoch with the lowest validation
    negative ELBO) or ``latest``. A run without a best checkpoint (written before it existed, or
    stopped before its first validation) gives its latest, with kind "latest". A damaged best one
    with no intact one beside it is a RunError (``--checkpoint latest`` reads the other)."""
    if which not in ("best", "latest"):
        raise RunError(f"checkpoint must be 'best' or 'latest', got {which!r}")
    if which == "best":
        best = _intact(checkpoint_dir(run_dir, "best"), log,
                       "read the latest checkpoint instead (--checkpoint latest)")
        if best is not None:
            return best, "best"
    return latest_checkpoint(run_dir, log), "latest"


def load_run(run_dir: str, input_shape=None, with_data: bool = False,
             checkpoint: str = "best", log=None) -> LoadedRun:
    """Rebuild the run's model from its configuration and load a checkpoint's weights: ``best``
    (default) or ``latest`` (see ``checkpoint_path``).

    ``input_shape`` (one example's shape) defaults to the one training recorded in ``config.json``
    (``read_example``), so the data set is loaded only for ``with_data`` (which returns it too) or
    for a run written before the record existed. A retrofitted run (``read_post_hoc``) gets the prior
    fitted after training in place of the one it was trained with. Raises ``RunError`` for a
    directory that is not a run, has no checkpoint, or whose checkpoint does not fit the model, and
    the data's own ``DataError`` when the data set cannot be loaded. A damaged checkpoint is skipped
    for the newest intact one of its kind, and ``log`` (a callable taking a line; default: stderr)
    hears so.
    """
    import tensorflow as tf

    from tf_dpvae import checkpoints
    from tf_dpvae import data as data_lib
    from tf_dpvae.model import build_model, restore_weights

    if log is None:
        log = _stderr
    config = read_config(run_dir)
    post_hoc = read_post_hoc(run_dir)
    checkpoint, kind = checkpoint_path(run_dir, checkpoint, log)
    splits = None
    if input_shape is None and not with_data:
        example = read_example(run_dir)
        input_shape = example[0] if example else None
    if with_data or input_shape is None:
        if config.data.dataset.startswith(ARRAYS_PREFIX):
            raise RunError(f"{run_dir!r} was trained on arrays passed in Python ({config.data.dataset}), "
                           f"which the run does not store, so its data cannot be loaded; save the "
                           f"arrays with numpy.save('data.npy', x) and train with data='npz:data.npy' "
                           f"(or --dataset npz:data.npy) to evaluate or retrofit it")
        splits = data_lib.load(config.data, config.train.seed)   # or its own DataError
        input_shape = splits.example_shape
    model = build_model(config, (None, *tuple(input_shape)),
                        post_hoc=post_hoc["settings"] if post_hoc else None)
    try:
        restore_weights(model, checkpoint)
    except (tf.errors.OpError, AssertionError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RunError(f"checkpoint {checkpoint} does not fit the model of {CONFIG_FILE}: "
                       f"{first}") from None
    return LoadedRun(config, model, checkpoint, checkpoints.step_of(checkpoint, default=-1),
                     splits if with_data else None, kind, post_hoc)
