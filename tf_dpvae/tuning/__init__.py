"""Hyperparameter search with keras-tuner: search space, HyperModel, tuners, trial table, best config.

One module per job; this package re-exports what the tune command and the tests use:

    space        tunable settings, validated entries (ranges, value lists), the default space, the
                 --space file and the --range/--values flags
    objectives   what trials are ranked by (val_loss, val_nelbo, fd, lp_fd): the OBJECTIVES registry
    frechet_objectives   fd and lp_fd: Fréchet distances of a trial's samples (TensorFlow; loaded
                 only when chosen)
    settings     SearchSettings (make_settings), the search directory's resume check, a trial's config
    tuners       the TUNERS registry (random, hyperband, bayesian) with each one's budget; make_tuner
    hypermodel   DPVAEHyperModel: builds and trains a trial with ``training``'s own helpers
    tables       the trial table (markdown, CSV) and the pair table
    search       run_search: run or resume, rank the completed trials, write best_config.json
    pair         run_pair: the normal-prior winner and the dp model with the same hyperparameters

A search lives in one directory:

    search.json          the search's settings (base configuration, space, tuner, objective); a rerun
                         must match them, and then resumes: keras-tuner reloads its oracle
                         (``overwrite=False``), finished trials are not repeated, an interrupted one is
                         retried
    search/              keras-tuner's project: oracle state, one ``trial_<id>/`` per trial (weights of
                         the trial's best epoch)
    trials/<id>.json     our record of each trial: seed, values, epochs, final metrics, wall time
    logs/                TensorBoard: the HParams experiment (hyperparameter domains and metrics) at the
                         root, one run per trial in ``trial_<id>/`` (hparams, final metrics, and the
                         usual ``train``/``validation`` scalars)
    trials.md, trials.csv    the summary table (also printed)
    best_config.json     the best trial's full configuration, in the format ``train --config`` reads

Every trial uses the base configuration's seed (data split, shuffling, initial weights, noise), so
trials differ only in their hyperparameters, and ``train --config best_config.json`` with the same
epochs retrains the winner to the same numbers.

The objective's weights are part of the loss, so ``val_loss`` rewards small weights for its own sake
(a smaller β lowers R + β·KL without a better model). ``val_nelbo`` (validation R + KL, the negative
ELBO, the same quantity whatever the weights) compares trials fairly; ``fd`` and ``lp_fd`` (sample
quality) need ``tf_dpvae.evaluation``.
"""

from tf_dpvae.tuning.hypermodel import DerivedMetrics, DPVAEHyperModel
from tf_dpvae.tuning.objectives import (BUILTIN_OBJECTIVES, OBJECTIVES, TuningObjective,
                                        get_objective)
from tf_dpvae.tuning.pair import run_pair
from tf_dpvae.tuning.search import (SearchResult, best_completed_trial, run_search,
                                    write_hparams_config)
from tf_dpvae.tuning.settings import SearchSettings, check_search_dir, config_for, make_settings
from tf_dpvae.tuning.space import (PARAMETERS, SPEC_KEYS, Entry, Parameter, SearchSpace,
                                   default_space, make_entry, make_space, parse_range_flag,
                                   parse_values_flag, read_space_file)
from tf_dpvae.tuning.tables import format_pair, format_table, to_csv, trial_rows
from tf_dpvae.tuning.tuners import TUNERS, BayesianTuner, HyperbandTuner, RandomTuner, make_tuner

__all__ = [
    "BUILTIN_OBJECTIVES", "OBJECTIVES", "PARAMETERS", "SPEC_KEYS", "TUNERS", "BayesianTuner",
    "DPVAEHyperModel", "DerivedMetrics", "Entry", "HyperbandTuner", "Parameter", "RandomTuner",
    "SearchResult", "SearchSettings", "SearchSpace", "TuningObjective", "best_completed_trial",
    "check_search_dir", "config_for", "default_space", "format_pair", "format_table",
    "get_objective", "make_entry", "make_settings", "make_space", "make_tuner", "parse_range_flag",
    "parse_values_flag", "read_space_file", "run_pair", "run_search", "to_csv", "trial_rows",
    "write_hparams_config",
]
