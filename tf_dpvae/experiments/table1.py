"""Table 1 of the dpVAE paper (Bhalodia, Lee & Elhabian, ACCV 2020), reproduced: every regularizer
with the standard normal prior and with the decoupled prior, trained with identical settings inside
each pair, evaluated with the same metrics, summarized over seeds. ``python -m tf_dpvae.reproduce
table1`` is the command line (``cli/reproduce.py``); ``reproduce_table1(request)`` does the work,
``tabulate(request)`` rewrites the tables and figures from the runs on disk (``--table-only``).

Layout of the output directory ``<out>``:

    runs/<reg>-<prior>-seed<k>/   one ``training.fit`` run each; its ``eval/`` (``evaluate_run`` +
                                  ``write_results``), ``eval/samples.npz`` (random and low-posterior
                                  samples for the sheets), ``table1_timing.json`` (wall seconds of
                                  training, summed over resumptions, and of the last evaluation),
                                  ``logs`` (its one TensorBoard HParams session, training's;
                                  a post-hoc row's written here) and ``logs/table1`` (the table's
                                  numbers as that session's metrics)
    runs/                         the HParams experiment (``hparams.write_hparams_config``):
                                  ``tensorboard --logdir <out>/runs`` shows every model in one dashboard
    features/<dataset>/           image data: the feature classifier of the Fréchet distance
    table1.csv, table1.md, table1.json, leakage.png, samples_<reg>.png, reproduce.log

Resuming: a model whose ``eval/metrics.json`` records the protocol's step count and evaluation sizes
(and whose ``eval/samples.npz`` exists) is skipped; a model trained part of the way resumes from its
checkpoint (``training.fit`` does that by itself); one trained to the end but not evaluated is only
evaluated. The tables are rewritten after every model, the figures at the end.

TensorFlow is imported by the functions that train or evaluate, not with the module.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import os
import time
from typing import Any, Callable

from tf_dpvae import runs
from tf_dpvae.config import ConfigError
from tf_dpvae.experiments import hparams
from tf_dpvae.experiments.figures import write_figures
from tf_dpvae.experiments.markdown import fmt
from tf_dpvae.experiments.protocol import (POST_HOC, POST_HOC_NAMES, Table1Error, pair_configs,
                                           post_hoc_settings, run_name)
from tf_dpvae.experiments.render import write_tables
from tf_dpvae.experiments.request import Request, check_paths, collect
from tf_dpvae.experiments.results import (checkpoint_step, evaluation_state, read_json,
                                          read_timing, trained_step, write_timing)
from tf_dpvae.experiments.statistics import METRICS
from tf_dpvae.provenance import git_commit


def ensure_classifier(dataset: str, out: str, epochs: int, log: Callable[[str], None]) -> str:
    """The feature classifier of ``dataset`` under ``<out>/features/``: trained (through
    ``classifier.train_dataset_classifier``, as ``python -m tf_dpvae.features`` does) if missing."""
    from tf_dpvae.evaluation import classifier

    directory = classifier.default_classifier_dir(dataset, root=os.path.join(out, "features"))
    if os.path.isfile(os.path.join(directory, classifier.INFO_FILE)):
        info = read_json(os.path.join(directory, classifier.INFO_FILE)) or {}
        log(f"feature classifier: {directory} (cached; {info.get('accuracy_split', 'test')} accuracy "
            f"{info.get('test_accuracy', float('nan')):.4f})")
        return directory
    log(f"feature classifier: training it for {dataset} ({epochs} epochs) into {directory}")
    started = time.perf_counter()
    info = classifier.train_dataset_classifier(dataset, directory, epochs=epochs, verbose=0)
    log(f"feature classifier: {info['accuracy_split']} accuracy {info['test_accuracy']:.4f} "
        f"({time.perf_counter() - started:.0f} s)")
    return directory


class _Log:
    """Messages to the caller's ``log`` and appended, time-stamped, to ``<out>/reproduce.log``."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.path: str | None = None

    def __call__(self, message: str) -> None:
        self.log(message)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(f"{datetime.datetime.now().isoformat(timespec='seconds')} {message}\n")


def preflight(request: Request):
    """Checks that need TensorFlow, before anything is written: the data load (the first seed's
    splits are returned), image data have labels for the classifier, no existing run directory holds
    another configuration or is past the protocol's step count. Raises Table1Error, or the
    ``UserError`` of the module that found the problem (``ConfigError``, ``DataError``)."""
    from tf_dpvae import data as data_lib
    from tf_dpvae import training

    check_paths(request)
    p = request.protocol
    try:
        splits = data_lib.load(pair_configs(p, request.regs[0], request.seeds[0])["normal"].data,
                               request.seeds[0])
    except (data_lib.DataError, ConfigError) as err:   # its first line: the table's log is one line
        raise type(err)(str(err).splitlines()[0]) from None
    image = len(splits.example_shape) == 3
    if image and (splits.streamed or splits.train_labels is None):
        raise Table1Error(f"{p.dataset!r} has no in-memory class labels: the Fréchet distance's "
                          "feature classifier trains on them")
    if request.inception_weights is not None and not image:
        raise Table1Error(f"--inception-weights applies to image data; {p.dataset!r} has examples "
                          f"of shape {splits.example_shape}")
    if splits.num_train < p.batch_size:
        raise Table1Error(f"batch size {p.batch_size} is larger than {p.dataset!r}'s training set "
                          f"({splits.num_train} examples)")
    for reg, prior, seed in request.specs():
        run_dir = request.run_dir(reg, prior, seed)
        if prior in POST_HOC:   # written by the retrofit as one set; an incomplete one is redone
            continue
        config = pair_configs(p, reg, seed)[prior]
        saved = read_json(os.path.join(run_dir, runs.CONFIG_FILE))
        if saved is not None and reg == "tc":  # fit fills in N; the check must compare like with like
            config = config.replace(objective={
                "dataset_size": saved.get("objective", {}).get("dataset_size", 0)})
        training.check_out_dir(run_dir, config, flag="run directory", advice="choose another --out")
        step = checkpoint_step(run_dir)
        if step > p.steps:
            raise Table1Error(f"{run_dir!r} is already at step {step}, past this protocol's "
                              f"{p.steps}; choose another --out or give --steps {step} or more")
    return splits


@dataclasses.dataclass
class _Invocation:
    """What every model of one ``reproduce_table1`` call shares."""

    request: Request
    say: _Log
    commit: str
    settings: Any            # evaluation.run.EvalSettings, with the classifier
    splits: dict             # seed → data.Splits (one data set in memory at a time)
    status: dict = dataclasses.field(default_factory=dict)
    started: float = dataclasses.field(default_factory=time.perf_counter)

    def splits_for(self, seed: int):
        from tf_dpvae import data as data_lib

        if seed not in self.splits:
            self.splits.clear()
            config = pair_configs(self.request.protocol, self.request.regs[0], seed)["normal"]
            self.splits[seed] = data_lib.load(config.data, seed)
        return self.splits[seed]


def _start(request: Request, log: Callable[[str], None]) -> _Invocation:
    """Preflight, the output directory and its log, the feature classifier, the HParams experiment."""
    p = request.protocol
    first_splits = preflight(request)
    commit = git_commit()
    say = _Log(log)
    try:
        os.makedirs(request.runs_root, exist_ok=True)
    except OSError as err:   # root may pass every permission check and still not create it (/proc)
        raise Table1Error(f"--out {request.out!r} cannot be created: {err.strerror or err}") from None
    say.path = os.path.join(request.out, "reproduce.log")
    say(f"table1: protocol {p.name} ({p.steps:,} steps per model), regs {list(request.regs)}, "
        f"seeds {list(request.seeds)}, out {request.out}, commit {commit}")
    image = len(first_splits.example_shape) == 3
    classifier_dir = (ensure_classifier(p.dataset, request.out, p.classifier_epochs, say)
                      if image else None)
    settings = dataclasses.replace(
        p.evaluation, classifier_dir=None if classifier_dir is None else os.path.abspath(classifier_dir),
        inception_weights=request.inception_weights)
    hparams.write_hparams_config(request.runs_root, p.leakage_tau)
    return _Invocation(request, say, commit, settings, {request.seeds[0]: first_splits})


def _prepare(run: _Invocation, reg: str, prior: str, seed: int, tag: str, why: str):
    """Fit a post-hoc row's prior, or say how a pair's model will be trained; returns (config to
    train or None, what the model's status will say)."""
    from tf_dpvae.post_hoc import retrofit

    p, request, say = run.request.protocol, run.request, run.say
    run_dir = request.run_dir(reg, prior, seed)
    step = trained_step(run_dir)
    if prior in POST_HOC and step != p.steps:
        source = request.run_dir(reg, "normal", seed)
        if checkpoint_step(source) != p.steps:
            raise retrofit.RetrofitError(
                f"its normal-prior model {source!r} is not trained to step {p.steps}")
        say(f"{tag}: fitting the {POST_HOC_NAMES[prior]} to the codes of {source}")
        timing, t = read_timing(run_dir), time.perf_counter()
        retrofit.retrofit_run(source, post_hoc_settings(p, prior, seed), run_dir,
                              log=lambda msg: say(f"{tag}: {msg}"), progress=False, overwrite=True)
        timing["train_seconds"] = time.perf_counter() - t
        write_timing(run_dir, timing)
        hparams.write_trial_hparams(run_dir, reg, prior, seed, p.dataset, p.latent_dim)
        return None, "fitted and evaluated"
    if prior in POST_HOC:
        say(f"{tag}: fitted already; evaluating")
        hparams.write_trial_hparams(run_dir, reg, prior, seed, p.dataset, p.latent_dim)
        return None, "evaluated"
    if step < p.steps:
        config = pair_configs(p, reg, seed, run.splits_for(seed).num_train)[prior]
        say(f"{tag}: training {'from step ' + str(step) if step else 'from scratch'} to "
            f"step {p.steps:,}")
        os.makedirs(run_dir, exist_ok=True)
        return config, "trained and evaluated"
    say(f"{tag}: trained to step {step} already ({why}); evaluating")
    return None, "evaluated"


def _model(run: _Invocation, reg: str, prior: str, seed: int, tag: str) -> None:
    """Train or fit, then evaluate, one model of the table (skipped when done); its status."""
    import keras

    from tf_dpvae import training
    from tf_dpvae.datasets.base import DataError
    from tf_dpvae.evaluation import run as eval_run
    from tf_dpvae.evaluation.inception import InceptionError
    from tf_dpvae.post_hoc import retrofit
    from tf_dpvae.experiments.cell import train_and_evaluate_cell

    p, name = run.request.protocol, run_name(reg, prior, seed)
    run_dir = run.request.run_dir(reg, prior, seed)
    done, why = evaluation_state(run_dir, p, run.request.inception_weights is not None)
    if done:
        run.status[name] = f"skipped: {why}"
        run.say(f"{tag}: skipped ({why})")
        return
    say = run.say
    try:
        config, outcome = _prepare(run, reg, prior, seed, tag, why)
        cell = train_and_evaluate_cell(
            config, run.settings, run_dir, splits=run.splits_for(seed) if config else None,
            tau=p.leakage_tau, log=lambda msg: say(f"{tag}: {msg}"), timed=True,
            hparams_experiment=False)   # the table's, at runs/
        hparams.write_trial_metrics(run_dir, cell.values, cell.metrics["step"], p.leakage_tau)
        run.status[name] = outcome
        say(f"{tag}: evaluated in {cell.timing['eval_seconds']:.0f} s: " + ", ".join(
            f"{k} {fmt(cell.values[k])}" for k in METRICS if cell.values.get(k) is not None))
        del cell
    # one model's failure (its run, its evaluation or its retrofit), raised by the module that found it
    except (training.TrainingDiverged, eval_run.EvaluationError, retrofit.RetrofitError, runs.RunError,
            DataError, InceptionError, FloatingPointError) as err:
        run.status[name] = f"failed: {err}"
        say(f"{tag}: FAILED: {err}")
    finally:
        keras.backend.clear_session()
        gc.collect()


def reproduce_table1(request: Request, log: Callable[[str], None] = print,
                     progress: bool = True) -> dict[str, Any]:
    """Train, evaluate and tabulate every model of ``request`` (see the module docstring).

    Returns {"paths": written files, "status": run name → skipped/trained/evaluated/failed: reason,
    "failed": [...]}. Raises Table1Error before anything is written when the request cannot run.
    """
    from tqdm.auto import tqdm

    run = _start(request, log)
    specs = request.specs()
    bar = tqdm(specs, desc="table1", unit="model", disable=not progress, dynamic_ncols=True)
    for index, (reg, prior, seed) in enumerate(bar, 1):
        bar.set_postfix_str(run_name(reg, prior, seed))
        _model(run, reg, prior, seed, f"[{index}/{len(specs)}] {run_name(reg, prior, seed)}")
        write_tables(request, collect(request), run.commit, time.perf_counter() - run.started,
                     extra={"status": run.status})
    bar.close()
    outcome = tabulate(request, run.commit, run.started, run.status)
    failed = [name for name, s in run.status.items() if s.startswith("failed")]
    run.say(f"table1: done in {time.perf_counter() - run.started:.0f} s; "
            f"{outcome['evaluated']}/{outcome['models']} models evaluated"
            + (f"; failed: {', '.join(failed)}" if failed else ""))
    return {"paths": {**outcome["paths"], "log": run.say.path}, "status": run.status,
            "failed": failed}


def tabulate(request: Request, commit: str | None = None, started: float | None = None,
             status: dict | None = None) -> dict[str, Any]:
    """The figures and table1.csv/.md/.json from the runs on disk, training and evaluating nothing
    (``reproduce table1 --table-only``; and the end of ``reproduce_table1``). Returns {"paths":
    tables and "figures", "evaluated": models evaluated, "models": models planned}."""
    check_paths(request)
    started = time.perf_counter() if started is None else started
    records = collect(request)
    figures = write_figures(request, records)
    paths = write_tables(request, records, commit or git_commit(), time.perf_counter() - started,
                         extra={"status": status or {}})
    return {"paths": {**paths, "figures": figures}, "models": len(records),
            "evaluated": sum(r["evaluated"] for r in records.values())}
