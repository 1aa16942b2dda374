"""Hyperparameter search with keras-tuner: search space, HyperModel, tuners, trial table, best config.

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

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import time
from typing import Any, Callable, Mapping

import keras
import keras_tuner as kt
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from tf_dpvae import data as data_lib
from tf_dpvae import training
from tf_dpvae.config import ConfigError, RunConfig, read_json_file
from tf_dpvae.files import write_atomic
from tf_dpvae.model import build_model


# ----------------------------------------------------------------------------------- search space
@dataclasses.dataclass(frozen=True)
class Parameter:
    """A tunable setting: where it lives in the configuration, its type, and when it applies."""

    section: str
    field: str
    kind: type                          # int or float
    regs: tuple[str, ...] | None        # objectives it is a weight of; None = any objective
    needs_flow: bool = False            # only meaningful with the decoupled prior
    default: Mapping[str, Any] | None = None   # its range in the default space (None: not tuned)


PARAMETERS: dict[str, Parameter] = {
    "beta": Parameter("objective", "beta", float, ("beta",), default={"min": 1.0, "max": 20.0,
                                                                        "log": True}),
    "capacity_gamma": Parameter("objective", "capacity_gamma", float, ("betab",),
                                default={"min": 1.0, "max": 100.0, "log": True}),
    "capacity_max": Parameter("objective", "capacity_max", float, ("betab",),
                              default={"min": 1.0, "max": 25.0}),
    "tc_alpha": Parameter("objective", "tc_alpha", float, ("tc",), default={"min": 0.5, "max": 2.0}),
    "tc_beta": Parameter("objective", "tc_beta", float, ("tc",), default={"min": 1.0, "max": 20.0,
                                                                          "log": True}),
    "tc_gamma": Parameter("objective", "tc_gamma", float, ("tc",), default={"min": 0.5, "max": 2.0}),
    "factor_gamma": Parameter("objective", "factor_gamma", float, ("factor",),
                              default={"min": 1.0, "max": 100.0, "log": True}),
    "info_alpha": Parameter("objective", "info_alpha", float, ("info",)),
    "info_lambda": Parameter("objective", "info_lambda", float, ("info",),
                             default={"min": 1.0, "max": 1000.0, "log": True}),
    "latent_dim": Parameter("model", "latent_dim", int, None, default={"values": [2, 4, 8]}),
    "hidden_units": Parameter("model", "hidden_units", int, None),
    "hidden_layers": Parameter("model", "hidden_layers", int, None),
    "flow_blocks": Parameter("prior", "num_blocks", int, None, needs_flow=True,
                             default={"min": 2, "max": 8, "step": 2}),
    "flow_units": Parameter("prior", "hidden_units", int, None, needs_flow=True,
                            default={"values": [16, 32, 64, 128]}),
    "flow_layers": Parameter("prior", "hidden_layers", int, None, needs_flow=True),
    "lr": Parameter("train", "lr", float, None, default={"min": 1e-4, "max": 1e-2, "log": True}),
}
SPEC_KEYS = ("min", "max", "log", "step", "values")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One dimension of the search: a range (``low``..``high``) or a list of ``values``."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    values: tuple | None = None

    @property
    def parameter(self) -> Parameter:
        return PARAMETERS[self.name]

    def declare(self, hp: kt.HyperParameters):
        """Register this dimension with keras-tuner and return the trial's value."""
        if self.values is not None:
            return hp.Choice(self.name, list(self.values))
        sampling = "log" if self.log else "linear"
        if self.parameter.kind is int:
            return hp.Int(self.name, self.low, self.high, step=self.step or 1, sampling=sampling)
        return hp.Float(self.name, self.low, self.high, step=self.step, sampling=sampling)

    def hparam(self) -> hparams_api.HParam:
        """The HParams-dashboard description of this dimension."""
        if self.values is not None:
            domain = hparams_api.Discrete(list(self.values))
        elif self.parameter.kind is int:
            domain = hparams_api.IntInterval(int(self.low), int(self.high))
        else:
            domain = hparams_api.RealInterval(float(self.low), float(self.high))
        return hparams_api.HParam(self.name, domain)

    def to_spec(self) -> dict[str, Any]:
        if self.values is not None:
            return {"values": list(self.values)}
        spec = {"min": self.low, "max": self.high, "log": self.log}
        if self.step is not None:
            spec["step"] = self.step
        return spec


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    entries: tuple[Entry, ...]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def to_dict(self) -> dict[str, dict]:
        return {e.name: e.to_spec() for e in self.entries}


def _number(name: str, key: str, value: Any, kind: type):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and kind is int:
        ok = float(value).is_integer()
    if not ok:
        what = "an integer" if kind is int else "a finite number"
        raise ConfigError(f"search-space entry {name!r}: {key} must be {what}, got {value!r}")
    return int(value) if kind is int else float(value)


def _check_value(base: RunConfig, name: str, value) -> None:
    """Validate one candidate value the way the configuration would (e.g. β >= 0, latent-dim >= 2 for dp)."""
    p = PARAMETERS[name]
    try:
        base.replace(**{p.section: {p.field: value}})
    except ConfigError as err:
        raise ConfigError(f"search-space entry {name!r}: value {value!r} is not accepted ({err})") \
            from None


def make_entry(base: RunConfig, name: str, spec: Any) -> Entry | Any:
    """Validate one entry of a search space against ``base``.

    ``spec``: ``{"min": a, "max": b[, "log": true][, "step": s]}``, ``{"values": [...]}``, a list of
    values, or a single number (fixed: returned as is, to be written into the base configuration).
    """
    key = name.replace("-", "_")
    if key not in PARAMETERS:
        raise ConfigError(f"unknown search-space entry {name!r}; accepted: {', '.join(PARAMETERS)}")
    p = PARAMETERS[key]
    reg, prior = base.objective.reg, base.prior.kind
    if p.regs is not None and reg not in p.regs:
        own = [n for n, q in PARAMETERS.items() if q.regs and reg in q.regs]
        raise ConfigError(f"search-space entry {name!r} is a weight of --reg {'/'.join(p.regs)}, not of "
                          f"--reg {reg} (its weights: {', '.join(own) or 'none'})")
    if p.needs_flow and prior != "dp":
        raise ConfigError(f"search-space entry {name!r} sets the flow, which --prior {prior} does not "
                          f"have; drop it or use --prior dp")
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):  # a single number: a fixed value
        value = _number(key, "the fixed value", spec, p.kind)
        _check_value(base, key, value)
        return value
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"search-space entry {name!r}: unknown keys {unknown}; accepted: "
                          f"{', '.join(SPEC_KEYS)}")
    if "values" in spec:
        extra = sorted(set(spec) - {"values"})
        if extra:
            raise ConfigError(f"search-space entry {name!r}: give either values or min/max, not both "
                              f"(also got {extra})")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"search-space entry {name!r}: values must be a non-empty list, "
                              f"got {values!r}")
        values = [_number(key, "each value", v, p.kind) for v in values]
        if len(set(values)) != len(values):
            raise ConfigError(f"search-space entry {name!r}: values repeat: {values}")
        for v in values:
            _check_value(base, key, v)
        return Entry(key, values=tuple(values))
    missing = [k for k in ("min", "max") if k not in spec]
    if missing:
        raise ConfigError(f"search-space entry {name!r}: missing {' and '.join(missing)} "
                          f"(give min and max, or values)")
    low, high = (_number(key, k, spec[k], p.kind) for k in ("min", "max"))
    if low > high:
        raise ConfigError(f"search-space entry {name!r}: inverted range, min {low!r} > max {high!r}")
    if low == high:
        raise ConfigError(f"search-space entry {name!r}: empty range, min = max = {low!r}; give a "
                          f"single value to fix it")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"search-space entry {name!r}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"search-space entry {name!r}: a log range needs min > 0, got {low!r}")
    step = spec.get("step")
    if step is not None:
        step = _number(key, "step", step, p.kind)
        if step <= 0 or step > high - low:
            raise ConfigError(f"search-space entry {name!r}: step must be in (0, max − min], "
                              f"got {step!r}")
        if log:
            raise ConfigError(f"search-space entry {name!r}: step and log cannot be combined")
    _check_value(base, key, low)
    _check_value(base, key, high)
    return Entry(key, low=low, high=high, log=log, step=step)


def default_space(reg: str, prior: str) -> dict[str, dict]:
    """The objective's own weights, latent size, flow depth and width (dp only), learning rate."""
    return {name: dict(p.default) for name, p in PARAMETERS.items()
            if p.default is not None and (p.regs is None or reg in p.regs)
            and (prior == "dp" or not p.needs_flow)}


def make_space(base: RunConfig, given: Mapping[str, Any] | None = None,
               use_defaults: bool = True) -> tuple[SearchSpace, RunConfig]:
    """The search space and the base configuration with its fixed entries applied.

    ``given`` entries replace the default space's entries of the same name (``use_defaults=False``:
    only ``given``). Raises ConfigError naming the first bad entry.
    """
    specs: dict[str, Any] = {}
    if use_defaults:
        specs.update(default_space(base.objective.reg, base.prior.kind))
    for name, spec in (given or {}).items():
        specs[name.replace("-", "_")] = spec
    entries, fixed = [], {}
    for name, spec in specs.items():
        made = make_entry(base, name, spec)
        if isinstance(made, Entry):
            entries.append(made)
        else:
            p = PARAMETERS[name]
            fixed.setdefault(p.section, {})[p.field] = made
    if fixed:
        base = base.replace(**fixed)
    if not entries:
        raise ConfigError("the search space is empty: every entry is fixed; give at least one range")
    return SearchSpace(tuple(entries)), base


def read_space_file(path: str) -> dict[str, Any]:
    """A search space from a JSON file: ``{"beta": {"min": 1, "max": 10, "log": true}, ...}``."""
    values = read_json_file(path, "--space")
    if not isinstance(values, dict):
        raise ConfigError(f"--space {path!r} must hold a JSON object of entries, e.g. "
                          f'{{"lr": {{"min": 1e-4, "max": 1e-2, "log": true}}}}; '
                          f"got {type(values).__name__}")
    return values


def parse_range_flag(text: str) -> tuple[str, dict]:
    """``NAME=MIN:MAX[:log]`` → (name, spec)."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or not name or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise ConfigError(f"--range {text!r} must look like NAME=MIN:MAX or NAME=MIN:MAX:log")
    try:
        low, high = (float(v) for v in parts[:2])
    except ValueError:
        raise ConfigError(f"--range {text!r}: MIN and MAX must be numbers") from None
    kind = PARAMETERS.get(name.replace("-", "_"), Parameter("", "", float, None)).kind
    if kind is int and low.is_integer() and high.is_integer():
        low, high = int(low), int(high)
    return name, {"min": low, "max": high, "log": len(parts) == 3}


def parse_values_flag(text: str) -> tuple[str, list]:
    """``NAME=V1,V2,...`` → (name, [values])."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise ConfigError(f"--values {text!r} must look like NAME=V1,V2,...")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError:
        raise ConfigError(f"--values {text!r}: every value must be a number") from None
    kind = PARAMETERS.get(name.replace("-", "_"), Parameter("", "", float, None)).kind
    if kind is int and all(v.is_integer() for v in values):
        values = [int(v) for v in values]
    return name, values


# -------------------------------------------------------------------------------------- objectives
@dataclasses.dataclass(frozen=True)
class TuningObjective:
    """What a trial is scored by. ``compute`` is None for a metric Keras logs every epoch; otherwise
    it is called after training as ``compute(model, splits, config) -> float``. ``check``, if given,
    is called as ``check(splits, config)`` before any trial and raises ConfigError if the objective
    cannot run here (e.g. image data without a cached feature classifier)."""

    name: str
    direction: str
    description: str
    compute: Callable | None = None
    check: Callable | None = None


BUILTIN_OBJECTIVES = ("val_loss", "val_nelbo")   # computed from Keras's logs: always available


def _frechet_objective(name: str, description: str, low_posterior: bool) -> TuningObjective:
    """A Fréchet objective of ``evaluation.objectives``, imported only when it is chosen; a
    ConfigError naming what is missing if this installation lacks it."""
    try:
        from tf_dpvae.evaluation import objectives
    except ImportError:
        raise ConfigError(f"objective {name!r} needs tf_dpvae.evaluation (not installed in this "
                          f"build); accepted here: {', '.join(BUILTIN_OBJECTIVES)}") from None
    try:
        compute = (objectives.low_posterior_fd_objective if low_posterior
                   else objectives.frechet_distance_objective)
    except AttributeError as err:
        raise ConfigError(f"objective {name!r} needs tf_dpvae.evaluation.objectives.{err.name}, "
                          f"which this build's evaluation module does not provide") from None
    return TuningObjective(name, "min", description, compute, objectives.check)


# name -> loader returning the TuningObjective; a loader raises ConfigError if it cannot run here.
OBJECTIVES: dict[str, Callable[[], TuningObjective]] = {
    "val_loss": lambda: TuningObjective("val_loss", "min", "validation loss (the tuned objective "
                                        "itself: favours small weights)"),
    "val_nelbo": lambda: TuningObjective("val_nelbo", "min", "validation negative ELBO, R + KL "
                                         "(independent of the objective's weights)"),
    "fd": lambda: _frechet_objective("fd", "Fréchet distance of samples to validation data",
                                     low_posterior=False),
    "lp_fd": lambda: _frechet_objective("lp_fd", "Fréchet distance of low-posterior samples",
                                        low_posterior=True),
}


def get_objective(name: str) -> TuningObjective:
    """The objective called ``name``, or a ConfigError naming it and what is accepted."""
    if name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {name!r}; accepted: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]()


# ---------------------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """A whole search, validated: build with ``make_settings``."""

    base: RunConfig
    space: SearchSpace
    tuner: str
    objective: str
    max_trials: int

    def identity(self) -> dict[str, Any]:
        """What a rerun in the same directory must repeat exactly (max_trials may grow)."""
        return {"base": self.base.to_dict(), "space": self.space.to_dict(), "tuner": self.tuner,
                "objective": self.objective}


def make_settings(base: RunConfig, tuner: str, objective: str, max_trials: int,
                  space: Mapping[str, Any] | None = None, use_defaults: bool = True) -> SearchSettings:
    """Validate everything about a search before any trial starts; ConfigError names the bad part."""
    if tuner not in TUNERS:
        raise ConfigError(f"unknown tuner {tuner!r}; accepted: {', '.join(TUNERS)}")
    get_objective(objective)
    if not (isinstance(max_trials, int) and not isinstance(max_trials, bool) and max_trials > 0):
        raise ConfigError(f"max-trials must be a positive integer, got {max_trials!r}")
    if tuner == "hyperband" and base.train.epochs < 2:
        raise ConfigError(f"the hyperband tuner needs --epochs >= 2 (it trains trials for a growing "
                          f"number of epochs), got {base.train.epochs}")
    search_space, base = make_space(base, space, use_defaults)
    return SearchSettings(base, search_space, tuner, objective, max_trials)


def check_search_dir(out_dir: str, settings: SearchSettings) -> bool:
    """True if ``out_dir`` holds this search already (resume); ConfigError if it holds another."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--out {out_dir!r} is a file; give a directory (new or an earlier search's)")
    saved = os.path.join(out_dir, "search.json")
    if not os.path.exists(saved):
        if os.path.isdir(out_dir) and os.listdir(out_dir):
            raise ConfigError(f"--out {out_dir!r} is not empty and holds no search.json; choose a new "
                              f"directory")
        return False
    with open(saved) as f:
        previous = json.load(f)
    current = settings.identity()
    different = sorted(k for k in current if previous.get(k) != current[k])
    if different:
        detail = []
        for k in different:
            if isinstance(current[k], dict) and isinstance(previous.get(k), dict):
                keys = sorted(set(current[k]) | set(previous[k]))
                detail += [f"{k}.{key}" for key in keys if current[k].get(key) != previous[k].get(key)]
            else:
                detail.append(k)
        raise ConfigError(f"--out {out_dir!r} holds a search with different settings "
                          f"({', '.join(detail)}); choose a new --out to start another search")
    return True


def config_for(settings: SearchSettings, values: Mapping[str, Any]) -> RunConfig:
    """The base configuration with a trial's hyperparameter values written in."""
    sections: dict[str, dict] = {}
    for name in settings.space.names:
        p = PARAMETERS[name]
        value = values[name]
        sections.setdefault(p.section, {})[p.field] = p.kind(value)
    return settings.base.replace(**sections)


# ------------------------------------------------------------------------------------- HyperModel
class DerivedMetrics(keras.callbacks.Callback):
    """Adds ``val_nelbo`` = val_recon + val_kl (and ``nelbo``) to the epoch's logs.

    Must come before keras-tuner's callbacks and History (Keras appends History last), which read the
    same logs dictionary.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            if f"{prefix}recon" in logs and f"{prefix}kl" in logs:
                logs[f"{prefix}nelbo"] = float(logs[f"{prefix}recon"]) + float(logs[f"{prefix}kl"])


class DPVAEHyperModel(kt.HyperModel):
    """Builds and trains a ``DPVAE`` for one trial: the base configuration plus the trial's values.

    Training repeats ``training.fit``'s order (seed, pipelines, model), so a trial and a ``train`` run
    of the same configuration match.
    """

    def __init__(self, settings: SearchSettings, splits: data_lib.Splits, out_dir: str,
                 verbose: int = 0):
        super().__init__(name="dpvae")
        self.settings = settings
        self.splits = splits
        self.out_dir = out_dir
        self.verbose = verbose
        self.objective = get_objective(settings.objective)

    def trial_config(self, values: Mapping[str, Any]) -> RunConfig:
        config = config_for(self.settings, values)
        if config.objective.reg == "tc" and config.objective.dataset_size == 0:
            config = config.replace(objective={"dataset_size": len(self.splits.train)})
        return config

    def build(self, hp):
        values = {e.name: e.declare(hp) for e in self.settings.space.entries}
        config = self.trial_config(values)
        keras.utils.set_random_seed(config.train.seed)
        # build_model builds (calls) the model, which get_best_models() and Hyperband's weight
        # reloading need, and compiles it with the trial's learning rate. The optimizers' slots are
        # created too, so that Hyperband's continuation of an earlier trial restores their state
        # (Adam moments, the step count behind betab's capacity schedule) along with the weights.
        model = build_model(config, (None,) + self.splits.example_shape,
                            total_steps=training.planned_steps(config.train, len(self.splits.train)))
        model.build_optimizers()
        return model

    def fit(self, hp, model, *args, trial_id: str = "", callbacks=None, epochs=None,
            initial_epoch=0, **kwargs):
        config = self.trial_config(hp.values)
        epochs = epochs or config.train.epochs
        verbose = kwargs.pop("verbose", self.verbose)
        train_ds, val_ds = data_lib.make_pipelines(
            self.splits, config.train.batch_size, config.train.seed,
            paired=config.objective.reg == "factor")
        log_dir = os.path.join(self.out_dir, "logs", f"trial_{trial_id}")
        trial_values = {e.name: hp.values[e.name] for e in self.settings.space.entries}
        writer = tf.summary.create_file_writer(log_dir)
        with writer.as_default():
            hparams_api.hparams(trial_values, trial_id=f"trial_{trial_id}")
        guard = training.NaNGuard()
        cbs = [DerivedMetrics(), guard,
               keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", write_graph=False)]
        if config.train.steps:
            cbs.append(training.StopAtStep(config.train.steps))
        cbs += list(callbacks or [])   # keras-tuner's: they read the logs DerivedMetrics completes
        started = time.monotonic()
        history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, shuffle=False,
                            initial_epoch=initial_epoch, callbacks=cbs, verbose=verbose)
        seconds = time.monotonic() - started
        final = {k: float(v[-1]) for k, v in history.history.items() if v}
        if guard.bad_step is not None or not all(map(math.isfinite, final.values())):
            # A failed trial is recorded as such; keras-tuner moves on to the next one.
            raise kt.errors.FailedTrialError(
                f"trial {trial_id}: the loss became non-finite (step {guard.bad_step})")
        result: Any = history
        if self.objective.compute is not None:
            final[self.objective.name] = float(self.objective.compute(model, self.splits, config))
            result = dict(final)
        with writer.as_default(step=int(model.optimizer.iterations.numpy())):
            for name, value in final.items():
                tf.summary.scalar(f"final/{name}", value)
        writer.flush()
        record = {"trial_id": trial_id, "seed": config.train.seed, "values": trial_values,
                  "initial_epoch": initial_epoch, "epochs": epochs,
                  "steps": int(model.optimizer.iterations.numpy()), "seconds": round(seconds, 3),
                  "final": final}
        os.makedirs(os.path.join(self.out_dir, "trials"), exist_ok=True)
        write_atomic(os.path.join(self.out_dir, "trials", f"{trial_id}.json"),
                     json.dumps(record, indent=2, sort_keys=True))
        return result


class _PassTrialId:
    """Tuner mixin: hands the trial's id to ``HyperModel.fit`` (for its log directory and record)."""

    def run_trial(self, trial, *args, **kwargs):
        kwargs["trial_id"] = trial.trial_id
        return super().run_trial(trial, *args, **kwargs)


class RandomTuner(_PassTrialId, kt.RandomSearch):
    pass


class HyperbandTuner(_PassTrialId, kt.Hyperband):
    pass


class BayesianTuner(_PassTrialId, kt.BayesianOptimization):
    pass


# The tuners by name: the tune command's --tuner choices are this registry's keys.
TUNERS: dict[str, type[kt.Tuner]] = {"random": RandomTuner, "hyperband": HyperbandTuner,
                                     "bayesian": BayesianTuner}


def make_tuner(settings: SearchSettings, hypermodel: DPVAEHyperModel, out_dir: str) -> kt.Tuner:
    """A keras-tuner tuner for the search; ``overwrite=False`` makes it reload an earlier search."""
    objective = kt.Objective(settings.objective, direction=hypermodel.objective.direction)
    common = dict(hypermodel=hypermodel, objective=objective, seed=settings.base.train.seed,
                  directory=out_dir, project_name="search", overwrite=False)
    tuner_cls = TUNERS[settings.tuner]
    if tuner_cls is HyperbandTuner:   # a budget of epochs instead of a number of trials
        tuner = tuner_cls(max_epochs=settings.base.train.epochs, factor=3, **common)
    else:
        tuner = tuner_cls(max_trials=settings.max_trials, **common)
    # Hyperband has no max_trials argument, but its oracle honours the attribute; setting it for all
    # tuners also lets a rerun with a larger --max-trials extend a reloaded search.
    tuner.oracle.max_trials = settings.max_trials
    return tuner


def write_hparams_config(settings: SearchSettings, log_root: str) -> None:
    """The HParams experiment: the hyperparameters' domains and the metrics to compare."""
    metrics = [hparams_api.Metric(f"final/{name}", display_name=name)
               for name in dict.fromkeys([settings.objective, "val_loss", "val_nelbo", "val_recon",
                                          "val_kl", "loss"])]
    with tf.summary.create_file_writer(log_root).as_default():
        hparams_api.hparams_config(hparams=[e.hparam() for e in settings.space.entries],
                                   metrics=metrics)


# ---------------------------------------------------------------------------------- trial table
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


def trial_rows(tuner: kt.Tuner, settings: SearchSettings, out_dir: str) -> list[dict]:
    """One row per trial, in trial order: id, status, score, values, final metrics, time."""
    rows = []
    # keras-tuner pads ids to the width of max_trials, which a resumed search may have raised:
    # order by number, not by string.
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda kv: int(kv[0])):
        path = os.path.join(out_dir, "trials", f"{trial_id}.json")
        record = {}
        if os.path.exists(path):
            with open(path) as f:
                record = json.load(f)
        final = record.get("final", {})
        row = {"trial": trial_id, "status": str(trial.status).split(".")[-1].lower(),
               "score": trial.score}
        row.update({name: trial.hyperparameters.values.get(name) for name in settings.space.names})
        row.update({m: final.get(m) for m in ("val_loss", "val_nelbo", "val_recon", "val_kl")})
        row["epochs"] = record.get("epochs")
        row["seconds"] = record.get("seconds")
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: list[dict], objective: str, best: str | None) -> str:
    """A markdown table of the trials; the best is marked with *."""
    if not rows:
        return "(no trials)"
    columns = list(rows[0])
    header = [f"score ({objective})" if c == "score" else c for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = [_fmt(row[c]) for c in columns]
        if row["trial"] == best:
            cells[0] += " *"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ search
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


def run_pair(best: RunConfig, out_dir: str, splits: data_lib.Splits | None = None,
             verbose: int = 0, log=print) -> dict[str, training.RunResult]:
    """The "no additional tuning" protocol: train the normal-prior winner and the ``dp`` model with
    the very same hyperparameters (same seed, data and epochs), each in its own run directory
    ``out_dir/normal`` and ``out_dir/dp`` (a rerun resumes them).

    The flow's own settings (depth, width) come from the base configuration: they were not tuned.
    """
    if splits is None:
        splits = data_lib.load(best.data, best.train.seed)
    results = {}
    for kind in ("normal", "dp"):
        config = best.replace(prior={"kind": kind})
        result = training.fit(config, os.path.join(out_dir, kind), splits=splits, verbose=verbose,
                              log=log)
        if not result.final_logs and result.model is not None:
            # Already trained by an earlier run: measure the validation metrics again.
            _, val_ds = data_lib.make_pipelines(splits, config.train.batch_size, config.train.seed,
                                                paired=config.objective.reg == "factor")
            evaluated = result.model.evaluate(val_ds, verbose=0, return_dict=True)
            result.final_logs = {f"val_{k}": float(v) for k, v in evaluated.items()}
        results[kind] = result
    return results


def format_pair(results: Mapping[str, training.RunResult]) -> str:
    """Markdown table: the final validation metrics of both priors."""
    names = ("val_loss", "val_recon", "val_kl", "loss")
    lines = ["| prior | " + " | ".join(names) + " | steps | run directory |",
             "|---|" + "---|" * len(names) + "---|---|"]
    for kind, r in results.items():
        lines.append(f"| {kind} | " + " | ".join(_fmt(r.final_logs.get(n)) for n in names)
                     + f" | {r.step} | {r.out_dir} |")
    return "\n".join(lines)
