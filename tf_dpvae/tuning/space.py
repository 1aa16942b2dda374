"""The search space: which settings can be tuned (``PARAMETERS``), one validated dimension each
(``Entry``: a range or a list of values), the default space of an objective and prior, and the
``--space`` file and ``--range``/``--values`` flags that give entries."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import keras_tuner as kt
from tensorboard.plugins.hparams import api as hparams_api

from tf_dpvae.config import ConfigError, RunConfig
from tf_dpvae.json_files import read_json_file


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


def _check_applies(base: RunConfig, name: str, p: Parameter) -> None:
    """ConfigError unless ``p`` is a setting of ``base``'s objective and prior."""
    reg, prior = base.objective.reg, base.prior.kind
    if p.regs is not None and reg not in p.regs:
        own = [n for n, q in PARAMETERS.items() if q.regs and reg in q.regs]
        raise ConfigError(f"search-space entry {name!r} is a weight of --reg {'/'.join(p.regs)}, not of "
                          f"--reg {reg} (its weights: {', '.join(own) or 'none'})")
    if p.needs_flow and prior != "dp":
        raise ConfigError(f"search-space entry {name!r} sets the flow, which --prior {prior} does not "
                          f"have; drop it or use --prior dp")


def _values_entry(base: RunConfig, name: str, key: str, spec: dict) -> Entry:
    """``{"values": [...]}`` → a list-of-values entry, every value checked against ``base``."""
    extra = sorted(set(spec) - {"values"})
    if extra:
        raise ConfigError(f"search-space entry {name!r}: give either values or min/max, not both "
                          f"(also got {extra})")
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"search-space entry {name!r}: values must be a non-empty list, "
                          f"got {values!r}")
    values = [_number(key, "each value", v, PARAMETERS[key].kind) for v in values]
    if len(set(values)) != len(values):
        raise ConfigError(f"search-space entry {name!r}: values repeat: {values}")
    for v in values:
        _check_value(base, key, v)
    return Entry(key, values=tuple(values))


def _range_entry(base: RunConfig, name: str, key: str, spec: dict) -> Entry:
    """``{"min": a, "max": b[, "log": true][, "step": s]}`` → a range entry, both ends checked."""
    kind = PARAMETERS[key].kind
    missing = [k for k in ("min", "max") if k not in spec]
    if missing:
        raise ConfigError(f"search-space entry {name!r}: missing {' and '.join(missing)} "
                          f"(give min and max, or values)")
    low, high = (_number(key, k, spec[k], kind) for k in ("min", "max"))
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
        step = _number(key, "step", step, kind)
        if step <= 0 or step > high - low:
            raise ConfigError(f"search-space entry {name!r}: step must be in (0, max − min], "
                              f"got {step!r}")
        if log:
            raise ConfigError(f"search-space entry {name!r}: step and log cannot be combined")
    _check_value(base, key, low)
    _check_value(base, key, high)
    return Entry(key, low=low, high=high, log=log, step=step)


def make_entry(base: RunConfig, name: str, spec: Any) -> Entry | Any:
    """Validate one entry of a search space against ``base``.

    ``spec``: ``{"min": a, "max": b[, "log": true][, "step": s]}``, ``{"values": [...]}``, a list of
    values, or a single number (fixed: returned as is, to be written into the base configuration).
    """
    key = name.replace("-", "_")
    if key not in PARAMETERS:
        raise ConfigError(f"unknown search-space entry {name!r}; accepted: {', '.join(PARAMETERS)}")
    p = PARAMETERS[key]
    _check_applies(base, name, p)
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
    return _values_entry(base, name, key, spec) if "values" in spec else _range_entry(
        base, name, key, spec)


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
