"""``run_search``: run (or resume) a search in its directory, rank the completed trials, write the
table and ``best_config.json``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from tf_dpvae import data as data_lib
from tf_dpvae.config import RunConfig
from tf_dpvae.files import write_atomic
from tf_dpvae.tuning.hypermodel import DPVAEHyperModel
from tf_dpvae.tuning.objectives import get_objective
from tf_dpvae.tuning.settings import SearchSettings, check_search_dir, config_for
from tf_dpvae.tuning.tables import format_table, to_csv, trial_rows
from tf_dpvae.tuning.tuners import make_tuner


@dataclasses.dataclass
class SearchResult:
    out_dir: str
    rows: list[dict]
    best_trial: str | None
    best_config: RunConfig | None
    best_config_path: str | None
    table: str
    new_trials: int
    seconds: float


def write_hparams_config(settings: SearchSettings, log_root: str) -> None:
    """The HParams experiment: the hyperparameters' domains and the metrics to compare."""
    metrics = [hparams_api.Metric(f"final/{name}", display_name=name)
               for name in dict.fromkeys([settings.objective, "val_loss", "val_nelbo", "val_recon",
                                          "val_kl", "loss"])]
    with tf.summary.create_file_writer(log_root).as_default():
        hparams_api.hparams_config(hparams=[e.hparam() for e in settings.space.entries],
                                   metrics=metrics)


def best_completed_trial(oracle):
    """The completed trial with the best finite score, or None. keras-tuner's own
    ``get_best_trials`` pads its answer with failed trials when too few completed, so a search in
    which every trial failed would otherwise name a failed trial the best."""
    completed = [t for t in oracle.trials.values()
                 if str(t.status).split(".")[-1].upper() == "COMPLETED" and t.score is not None
                 and math.isfinite(float(t.score))]
    if not completed:
        return None
    pick = max if oracle.objective.direction == "max" else min
    return pick(completed, key=lambda t: float(t.score))


def run_search(settings: SearchSettings, out_dir: str, verbose: int = 0, log=print) -> SearchResult:
    """Run (or resume) the search in ``out_dir``; write the table and ``best_config.json``."""
    resuming = check_search_dir(out_dir, settings)
    splits = data_lib.load(settings.base.data, settings.base.train.seed)
    check = get_objective(settings.objective).check
    if check is not None:  # e.g. fd on images without a cached classifier: fail before any trial
        check(splits, settings.base)
    os.makedirs(out_dir, exist_ok=True)
    if not resuming:
        write_atomic(os.path.join(out_dir, "search.json"),
                     json.dumps(settings.identity(), indent=2, sort_keys=True))
        write_hparams_config(settings, os.path.join(out_dir, "logs"))
    hypermodel = DPVAEHyperModel(settings, splits, out_dir, verbose=verbose)
    tuner = make_tuner(settings, hypermodel, out_dir)
    before = sum(t.status in ("COMPLETED", "FAILED", "INVALID") for t in tuner.oracle.trials.values())
    if resuming:
        log(f"resuming the search in {out_dir}: {before} trial(s) done, "
            f"{max(settings.max_trials - before, 0)} to go")
    started = time.monotonic()
    try:
        tuner.search(verbose=verbose)
    except RuntimeError as err:
        # keras-tuner gives up after max_consecutive_failed_trials failures in a row; the table
        # still says what happened to each trial, and no failed trial is ranked.
        if "consecutive failures" not in str(err):
            raise
        log(f"the search stopped: {str(err).strip().splitlines()[0]}")
    seconds = time.monotonic() - started
    after = sum(t.status in ("COMPLETED", "FAILED", "INVALID") for t in tuner.oracle.trials.values())

    best = best_completed_trial(tuner.oracle)
    best_trial = best.trial_id if best else None
    best_config = best_path = None
    if best:
        best_config = config_for(settings, best.hyperparameters.values)
        best_path = os.path.join(out_dir, "best_config.json")
        write_atomic(best_path, best_config.to_json())
    rows = trial_rows(tuner, settings, out_dir)
    table = format_table(rows, settings.objective, best_trial)
    write_atomic(os.path.join(out_dir, "trials.md"), table + "\n")
    write_atomic(os.path.join(out_dir, "trials.csv"), to_csv(rows))
    return SearchResult(out_dir, rows, best_trial, best_config, best_path, table, after - before,
                        seconds)
