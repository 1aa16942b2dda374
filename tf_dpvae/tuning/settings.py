"""A whole search, validated before any trial starts (``make_settings``), the search directory's
check for a resume (``check_search_dir``), and a trial's configuration (``config_for``)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping

from tf_dpvae.config import ConfigError, RunConfig
from tf_dpvae.errors import check_positive_int
from tf_dpvae.tuning.objectives import get_objective
from tf_dpvae.tuning.space import PARAMETERS, SearchSpace, make_space
from tf_dpvae.tuning.tuners import TUNERS


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
    check_positive_int("max-trials", max_trials, ConfigError)
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
