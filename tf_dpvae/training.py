"""``fit(config, out_dir)``: the one place that joins data and model.

Run directory:
    config.json          the resolved configuration (atomic write)
    checkpoints/         ``checkpoints.Rotation`` over ``model.make_checkpoint``: every model variable
                         by path (RNG state included), both optimizers (step, hence the β-B capacity
                         schedule and the learning-rate schedule); a rerun resumes from the newest
                         checkpoint that reads back whole, found from the files on disk (a damaged
                         one is skipped, saying so; none intact is an error, never a fresh start)
    checkpoints/best/    the weights of the epoch with the lowest validation negative ELBO (R + KL),
                         with that value; best.json says which step it is. Export and evaluation read
                         it by default (``runs.checkpoint_path``)
    logs/                TensorBoard, every summary at the optimizer's step (``summaries``): logs/run
                         (the HParams session, the run as text, the best epoch, the projector),
                         logs/train (every ``train.log_every`` steps; the train step's graph),
                         logs/validation (every epoch), logs/latents, logs/images
    figure.png           2-D data: samples, q(z), and the generation space (paper Figs. 1 and 3) of
                         the best checkpoint

The callbacks that guard the run and keep its checkpoints are ``training_callbacks``'; the
TensorBoard ones are ``summaries``' and ``summary_images``'.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys

import keras

from tf_dpvae import data as data_lib
from tf_dpvae import checkpoints, distribute, interrupts, locks, runs
from tf_dpvae.config import (EXAMPLE_KEY, MAX_STEPS, POST_HOC_KEY, ConfigError, RunConfig,
                             with_legacy_values)
from tf_dpvae.files import clean_stale_files, write_atomic
from tf_dpvae.json_files import read_json_file
from tf_dpvae.model import DPVAE, build_model, make_checkpoint
from tf_dpvae.summaries import (BestEpochSummaries, LatentProjector, LatentSummaries, RunText,
                                StepScalars, TrainGraph, ValidationScalars, write_hparams)
from tf_dpvae.summary_images import FigureSummaries, ImageSummaries, moons_figure_png
from tf_dpvae.training_callbacks import (BestCheckpoint, CheckpointOnEpoch,
                                         CommonValidationNoise, NaNGuard, StopAtStep)

# Settings that may change between a run and its resumption (a longer run, a smoke test).
# Where it runs may change too: a run started on one device can resume mirrored, and the reverse.
RESUMABLE_CHANGES = {("train", "epochs"), ("train", "steps"), ("train", "strategy"),
                     ("train", "devices"), ("train", "jit"), ("train", "log_every"),
                     ("train", "peer_timeout")}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class RunResult:
    out_dir: str
    step: int
    resumed_from: int
    final_logs: dict
    figure: str | None
    checkpoint: str | None
    model: DPVAE | None = None   # holding the best checkpoint's weights when there is one
    best_checkpoint: str | None = None
    best_value: float | None = None   # its validation negative ELBO


def planned_steps(train, num_train: int) -> int:
    """The run's planned length in optimizer steps, epochs × ⌊N / B⌋: the learning-rate schedule's
    T. ``steps`` only says where to stop (a run stopped early and resumed later follows the same
    trajectory as one that ran straight through), so it does not enter.

    Raises ConfigError when the training set holds less than one batch (before anything is written).
    """
    if num_train < train.batch_size:
        raise ConfigError(f"batch-size {train.batch_size} is larger than the training set "
                          f"({num_train} examples); use a batch size of at most {num_train}")
    total = train.epochs * (num_train // train.batch_size)
    if total > MAX_STEPS:
        raise ConfigError(f"epochs {train.epochs:,} × {num_train // train.batch_size:,} steps per epoch "
                          f"is {total:,} steps, more than the {MAX_STEPS:,} an int32 step counter "
                          f"holds; use fewer epochs (or --steps to stop early)")
    return total


def run_record(config: RunConfig, splits: data_lib.Splits) -> str:
    """``config.json``: the configuration's sections and, under ``EXAMPLE_KEY``, the shape and dtype
    of one example, so that export and a restore without data never load the data set."""
    example = {"shape": list(splits.example_shape), "dtype": splits.example_dtype}
    if splits.standardization is not None:   # vector data: what maps samples back to data units
        example["standardization"] = splits.standardization
    record = {**config.to_dict(), EXAMPLE_KEY: example}
    return json.dumps(record, indent=2, sort_keys=True)


def check_out_dir(out_dir: str, config: RunConfig, flag: str = "--out",
                  advice: str | None = None) -> bool:
    """Validate ``out_dir`` before anything is written. Returns True if it holds a run to resume.

    ``flag`` names the directory in the messages (the command's flag, or "run directory" for a
    caller that chose it); ``advice`` ends the messages about a run that cannot be resumed (default:
    "choose a new <flag> to start another run").

    Raises ConfigError if it is a file, holds a damaged ``config.json``, or holds a run whose
    configuration differs in anything but the run length.
    """
    advice = advice or f"choose a new {flag} to start another run"
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"{flag} {out_dir!r} is a file; give a directory (new or an earlier run's)")
    saved = os.path.join(out_dir, runs.CONFIG_FILE)
    if not os.path.exists(saved):
        return False
    previous = read_json_file(saved, "the run's configuration")
    if not isinstance(previous, dict) or not all(isinstance(v, dict) for v in previous.values()):
        raise ConfigError(f"the run's configuration {saved!r} is damaged (not a JSON object of "
                          f"sections); restore it from a copy, or choose a new {flag}")
    if POST_HOC_KEY in previous:
        raise ConfigError(f"{flag} {out_dir!r} holds a retrofit (a prior fitted after training by "
                          f"python -m tf_dpvae.retrofit), which training cannot resume; {advice}")
    previous = with_legacy_values(previous)
    current = config.to_dict()
    # A normal-prior model has no flow: its flow settings (defaults that a release may change) do
    # not describe it, so an older normal-prior run still resumes and a table still reuses it.
    normal = current["prior"]["kind"] == "normal" == previous.get("prior", {}).get("kind")
    differences = sorted(
        f"{section}.{key}" for section, values in current.items() for key, value in values.items()
        if (section, key) not in RESUMABLE_CHANGES
        and not (normal and section == "prior")
        and previous.get(section, {}).get(key, value) != value)
    if differences:
        raise ConfigError(f"{flag} {out_dir!r} holds a run with different settings "
                          f"({', '.join(differences)}); {advice}")
    return True


def undo_on_failure(out_dir: str, before: set[str] | None):
    """An exit callback (``ExitStack.push``) for a training attempt in ``out_dir``: if the attempt
    fails (an exception, an interrupt) before any checkpoint exists there, it removes what the
    attempt created (``config.json``, ``logs/``, ...; the directory itself if it was new), so that a
    run directory appears only once a run has started (issue 26) and a corrected rerun is not
    refused as "a run with different settings". ``before``: the entries that existed before the
    attempt (None: the directory did not exist). Never suppresses the exception."""
    def undo(exc_type, exc, tb):
        saved = (checkpoints.on_disk(runs.checkpoint_dir(out_dir))
                 or checkpoints.on_disk(runs.checkpoint_dir(out_dir, "best")))
        if exc_type is None or saved or not os.path.isdir(out_dir):
            return False
        keep = before or set()
        for name in sorted(set(os.listdir(out_dir)) - keep - {locks.LOCK_FILE}):
            path = os.path.join(out_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(path)
        with contextlib.suppress(OSError):   # the lock file last, still held (locks.hold)
            if locks.LOCK_FILE not in keep:
                os.remove(locks.lock_path(out_dir))
            if before is None:   # a new directory: removed whole
                os.rmdir(out_dir)
        return False
    return undo


def save_on_interrupt(err: KeyboardInterrupt, model: DPVAE, manager: checkpoints.Rotation,
                      guard: NaNGuard) -> interrupts.Interrupted:
    """Save a checkpoint at the current step after an interrupt (a second signal is ignored while it
    is written), and return the ``Interrupted`` to raise, its message saying what was kept.

    A train step is one TensorFlow call, which a Python signal handler cannot split: the weights and
    the optimizer's step seen here belong to the same step. Weights that are no longer finite are not
    saved (``NaNGuard.healthy``); the earlier checkpoint is then the one kept."""
    stop = interrupts.as_interrupted(err)
    step = int(model.optimizer.iterations.numpy())
    latest = manager.latest_checkpoint
    with interrupts.ignored():
        if latest and latest.endswith(f"-{step}"):
            path = latest
        elif step > 0 and guard.model is not None and guard.healthy():
            path = manager.save(checkpoint_number=step)
        else:
            path = None
    if path:
        kept = f"saved {path} at step {step}; rerun the same command to resume from it"
    elif latest:
        kept = f"nothing saved at step {step}; {latest} is kept, a rerun resumes from it"
    else:
        kept = f"no checkpoint at step {step}; a rerun starts from the beginning"
    return stop.with_message(kept)


def steps_per_execution(train, steps_per_epoch: int, first_step: int, last_step: int,
                        strategy) -> int:
    """Training steps per call of the compiled training function (one ``tf.while_loop``): the
    greatest k that divides the epoch's length, ``train.log_every``, the step a run resumes from and
    the steps it runs, so that every point a callback acts on (an epoch's end, a scalar point, the
    stop at ``--steps``) is the end of a call, and the host syncs once per k steps instead of every
    step. k = gcd(steps per epoch, log_every, first step, last − first) (gcd(a, 0) = a): 50 for the
    default two-moons run. One step per call under a multi-replica or multi-worker strategy."""
    if strategy.num_replicas_in_sync > 1 or train.strategy == "multiworker":
        return 1
    return max(1, math.gcd(steps_per_epoch, train.log_every, first_step, last_step - first_step))


# ------------------------------------------------------------------ shared by fit and the tuner
def resolve_config(config: RunConfig, splits: data_lib.Splits) -> RunConfig:
    """The configuration as trained on ``splits``: β-TC's data-set size N (``dataset_size`` 0) is
    taken from the training split."""
    if config.data.dataset not in (splits.name, splits.loaded_from):
        # splits that config.data.dataset does not name (arrays passed to fit): record where the data
        # came from, never the default data set, so evaluate and retrofit refuse instead of loading
        # other data (runs.load_run)
        name = splits.name if splits.name.startswith(runs.ARRAYS_PREFIX) else runs.ARRAYS_PREFIX + splits.name
        config = config.replace(data={"dataset": name})
    if config.objective.reg == "tc" and config.objective.dataset_size == 0:
        config = config.replace(objective={"dataset_size": splits.num_train})
    return config


def new_model(config: RunConfig, splits: data_lib.Splits) -> DPVAE:
    """The configuration's model for ``splits``' examples, seeded (``train.seed``), built (called
    once), compiled with its learning-rate schedule over the planned steps, and with both optimizers'
    slots created (so that a checkpoint restores their state). Call it inside the strategy's scope."""
    keras.utils.set_random_seed(config.train.seed)
    model = build_model(config, (None,) + splits.example_shape,
                        total_steps=planned_steps(config.train, splits.num_train))
    model.build_optimizers()
    return model


def make_pipelines(config: RunConfig, splits: data_lib.Splits, **options):
    """(train, validation) datasets (``data.make_pipelines``) with the configuration's batch size,
    seed and pairing (FactorVAE's discriminator sees a second, independently shuffled copy);
    ``options``: repeat, skip_batches, fresh_iterators."""
    return data_lib.make_pipelines(splits, config.train.batch_size, config.train.seed,
                                   paired=config.objective.reg == "factor", **options)


def build_callbacks(config: RunConfig, splits: data_lib.Splits, log_dir: str, guard: NaNGuard,
                    last_step: int = 0, checkpoints=(), summaries: bool = True) -> list:
    """The callbacks of a training, in order: ``guard`` (first: it stops at a non-finite loss),
    ``StopAtStep(last_step)`` (0: none), ``CommonValidationNoise``, ``checkpoints`` (a run's
    ``BestCheckpoint`` then ``CheckpointOnEpoch``), the validation scalars under ``log_dir`` and, with
    ``summaries``, the rest of ``summaries``' TensorBoard (step scalars, the best epoch, the run's
    text, latent histograms, the image or 2-D figure summaries)."""
    callbacks = [guard]
    if last_step:
        callbacks.append(StopAtStep(last_step))
    callbacks += [CommonValidationNoise(), *checkpoints,
                  ValidationScalars(os.path.join(log_dir, "validation"))]
    if not summaries:
        return callbacks
    val_batch = splits.head("validation", 500)
    image = len(splits.example_shape) == 3
    callbacks += [StepScalars(os.path.join(log_dir, "train"), config.train.log_every),
                  LatentSummaries(os.path.join(log_dir, "latents"), val_batch)]
    callbacks.append(TrainGraph(os.path.join(log_dir, "train")))
    if image:
        images = ImageSummaries(os.path.join(log_dir, "images"), val_batch[:32], config.train.seed)
        callbacks.append(images)
        draw = images.samples_grid
    elif splits.example_shape == (2,):
        figures = FigureSummaries(os.path.join(log_dir, "latents"), splits.train, config.train.seed,
                                  guard)
        callbacks.append(figures)
        draw = figures.draw
    else:
        draw = None
    best = next((c for c in checkpoints if isinstance(c, BestCheckpoint)), None)
    if best is not None:
        callbacks += [BestEpochSummaries(log_dir, best, draw),
                      RunText(log_dir, config, os.path.join(best.directory, runs.BEST_RECORD))]
        callbacks.append(LatentProjector(log_dir, best, splits))
    return callbacks


def fit(config: RunConfig, out_dir: str, splits: data_lib.Splits | None = None,
        verbose: int | None = None, log=print, hparams_experiment: bool = True) -> RunResult:
    """Train (or resume) the run ``config`` describes in ``out_dir``; see the module docstring.

    The run directory is locked (``locks.hold``) from the moment it is created until the run ends:
    a second process training, evaluating or exporting in it gets ``locks.RunLocked`` (exit 2).
    ``hparams_experiment``: also declare the HParams experiment in the run's logs (off where a caller
    declares one for a folder of runs, as Table 1 does: TensorBoard takes one experiment).

    Ctrl-C (or SIGTERM under ``interrupts.raising_on_signals``) during training saves a checkpoint at
    the current step and raises ``interrupts.Interrupted`` saying what was kept
    (``save_on_interrupt``); an attempt that fails before any checkpoint exists removes what it
    wrote (``undo_on_failure``)."""
    with contextlib.ExitStack() as held:
        return _fit(config, out_dir, splits, verbose, log, held, hparams_experiment)


def _fit(config: RunConfig, out_dir: str, splits: data_lib.Splits | None, verbose: int | None,
         log, held: contextlib.ExitStack, hparams_experiment: bool = True) -> RunResult:
    if splits is None:
        splits = data_lib.load(config.data, config.train.seed)
    config = resolve_config(config, splits)
    total_steps = planned_steps(config.train, splits.num_train)
    last_step = min(total_steps, config.train.steps) if config.train.steps else total_steps
    locks.check_free(out_dir)   # a directory in use is reported as such, not as a mismatch
    check_out_dir(out_dir, config)   # checked before anything is built
    strategy = distribute.make_strategy(config.train.strategy, config.train.devices,
                                        config.train.peer_timeout)
    distribute.check_batch(config.train.batch_size, strategy)
    model, manager, resumed_from = _start(config, splits, out_dir, strategy, held, log)
    write_atomic(os.path.join(out_dir, runs.CONFIG_FILE), run_record(config, splits))

    steps_per_epoch = splits.num_train // config.train.batch_size
    # The data stream resumes at the very batch where the run stopped; a run resumed mid-epoch keeps
    # its step count, so its later epochs end `resumed_from % steps_per_epoch` steps later than
    # they would have (StopAtStep ends the last one on time).
    train_ds, val_ds = make_pipelines(
        config, splits, repeat=True, skip_batches=resumed_from,
        fresh_iterators=strategy.num_replicas_in_sync > 1 or config.train.strategy == "multiworker")
    guard = NaNGuard()
    log_dir = os.path.join(out_dir, runs.LOG_DIR)
    best = BestCheckpoint(runs.checkpoint_dir(out_dir, "best"), guard, model,
                          start_step=config.objective.reg_warmup_steps, log=log)
    # best before the latest: a kill between the two saves at worst repeats an epoch
    callbacks = build_callbacks(config, splits, log_dir, guard, last_step,
                                checkpoints=(best, CheckpointOnEpoch(manager, guard)))
    final_logs = {}
    if resumed_from < last_step:
        write_hparams(log_dir, config, experiment=hparams_experiment)
        model.steps_per_execution = steps_per_execution(config.train, steps_per_epoch, resumed_from,
                                                        last_step, strategy)
        model.train_function = model.test_function = None   # traced again for that many steps
        try:
            history = model.fit(train_ds, validation_data=val_ds, epochs=config.train.epochs,
                                steps_per_epoch=steps_per_epoch,
                                initial_epoch=resumed_from // steps_per_epoch, callbacks=callbacks,
                                verbose=(1 if sys.stdout.isatty() else 2) if verbose is None
                                else verbose, shuffle=False)  # tf.data shuffles, seeded
        except KeyboardInterrupt as err:   # Ctrl-C, or SIGTERM under interrupts.raising_on_signals
            raise save_on_interrupt(err, model, manager, guard) from None
        final_logs = {k: float(v[-1]) for k, v in history.history.items() if v}
    else:
        log(f"nothing to do: the run already reached step {resumed_from} of {last_step}")
    if guard.bad_step is not None:
        kept = manager.latest_checkpoint or "none (no epoch had finished)"
        raise TrainingDiverged(
            f"the loss or the weights became non-finite at step {guard.bad_step}; training stopped. "
            f"The last good checkpoint is kept: {kept}. Try a smaller --lr, --clip-norm or smaller "
            f"objective weights.")
    return _finish(config, splits, out_dir, model, manager, best, resumed_from, final_logs)


def _start(config: RunConfig, splits: data_lib.Splits, out_dir: str, strategy,
           held: contextlib.ExitStack, log):
    """(model, checkpoint rotation, step resumed from): the model built in ``strategy``'s scope, the
    run directory created and locked (``held``), the newest intact checkpoint restored."""
    # Everything that creates variables (model, optimizers' slots, the checkpoint's restore) runs in
    # the strategy's scope; for the default strategy (one device) the scope changes nothing.
    with strategy.scope():
        model = new_model(config, splits)
        model.monitor_steps()   # gradient norms for TensorBoard, outside the checkpoint
        # Only now is the configuration known to make a model: a bad one leaves nothing written.
        before = set(os.listdir(out_dir)) if os.path.isdir(out_dir) else None
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"--out {out_dir!r} cannot be created: {err.strerror or err}") from None
        held.enter_context(locks.hold(out_dir, "train", log))
        held.push(undo_on_failure(out_dir, before))   # runs before the lock is released
        clean_stale_files(out_dir)   # config.json's or figure.png's temporary, if a run was killed
        # Again under the lock: another process may have started a run here since the first check.
        resuming = check_out_dir(out_dir, config)
        checkpoint = make_checkpoint(model)
        found = checkpoints.find(runs.checkpoint_dir(out_dir))
        # checkpoints but none intact: exit 2, never a fresh start over them
        found.require("refusing to start over in their place: move the directory aside (or "
                      "choose a new --out) to start a new run")
        if found.notice():
            log(found.notice())
        manager = checkpoints.Rotation(checkpoint, found, keep=3, log=log)
        resumed_from = 0
        if manager.latest_checkpoint:
            checkpoint.restore(checkpoints.tf_path(manager.latest_checkpoint)).assert_existing_objects_matched()
            resumed_from = int(model.optimizer.iterations.numpy())
            log(f"resuming from {manager.latest_checkpoint} (step {resumed_from})")
        elif resuming:
            log(f"{out_dir} has a configuration but no checkpoint yet; starting from step 0")
    return model, manager, resumed_from


def _finish(config: RunConfig, splits: data_lib.Splits, out_dir: str, model: DPVAE,
            manager: checkpoints.Rotation, best: BestCheckpoint, resumed_from: int,
            final_logs: dict) -> RunResult:
    """The run's result, with the best checkpoint's weights in the model (what export and
    evaluation read by default) and, for 2-D data, ``figure.png`` of that model."""
    best_path = best.restore_into(model)
    figure_path = None
    if splits.example_shape == (2,):
        png = moons_figure_png(model, splits.train, config.train.seed)
        figure_path = os.path.join(out_dir, "figure.png")
        write_atomic(figure_path, png)
    return RunResult(out_dir=out_dir, step=int(model.optimizer.iterations.numpy()),
                     resumed_from=resumed_from, final_logs=final_logs, figure=figure_path,
                     checkpoint=manager.latest_checkpoint, model=model, best_checkpoint=best_path,
                     best_value=float(best.value.numpy()) if best_path else None)
