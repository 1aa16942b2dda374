"""One invocation of a table: the protocol with its overrides, the regularizers and seeds, where it
goes; the checks on the output directory that need no TensorFlow (``check_paths``); and every
planned model's record as it stands on disk (``collect``)."""

from __future__ import annotations

import dataclasses
import json
import os

from tf_dpvae import runs
from tf_dpvae.config import REGULARIZERS
from tf_dpvae.errors import check_seed
from tf_dpvae.experiments.protocol import (PAIR, POST_HOC, Protocol, Table1Error, model_name,
                                           pair_configs, run_name)
from tf_dpvae.experiments.results import (evaluation_state, extract_values, read_json, read_timing,
                                          trained_step)


@dataclasses.dataclass
class Request:
    """One invocation: the protocol (with any overrides applied), the models, where."""

    protocol: Protocol
    regs: tuple[str, ...]
    seeds: tuple[int, ...]
    out: str
    inception_weights: str | None = None
    overrides: dict = dataclasses.field(default_factory=dict)  # recorded in table1.json
    post_hoc: bool = False   # also the POST_HOC rows (the command's default; --no-post-hoc: not)

    def __post_init__(self) -> None:
        if not self.regs or len(set(self.regs)) != len(self.regs):
            raise Table1Error(f"regs must be distinct names, got {list(self.regs)}")
        bad = [r for r in self.regs if r not in REGULARIZERS]
        if bad:
            raise Table1Error(f"unknown regularizer {bad[0]!r}; accepted: {', '.join(REGULARIZERS)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise Table1Error(f"seeds must be distinct, got {list(self.seeds)}")
        for seed in self.seeds:
            check_seed("seeds", seed, Table1Error)
        # every configuration must be valid before anything runs (e.g. latent-dim 1 with dp)
        for reg in self.regs:
            pair_configs(self.protocol, reg, self.seeds[0])

    @property
    def runs_root(self) -> str:
        return os.path.join(self.out, "runs")

    @property
    def priors(self) -> tuple[str, ...]:
        """The rows of each regularizer: the pair, then the post-hoc priors when asked for."""
        return PAIR + (POST_HOC if self.post_hoc else ())

    def specs(self) -> list[tuple[str, str, int]]:
        """(reg, prior, seed) of every model, seed-major: a first seed's table fills in first; a
        post-hoc row after the normal-prior model it is fitted to."""
        return [(reg, prior, seed) for seed in self.seeds for reg in self.regs for prior in self.priors]

    def run_dir(self, reg: str, prior: str, seed: int) -> str:
        return os.path.join(self.runs_root, run_name(reg, prior, seed))


def check_paths(request: Request) -> None:
    """Table1Error if an output path is a file where a directory belongs, or the Inception weights
    are not a file. Plain file-system checks: no TensorFlow, nothing written."""
    for path in (request.out, request.runs_root, os.path.join(request.out, "features")):
        if os.path.exists(path) and not os.path.isdir(path):
            raise Table1Error(f"{path!r} is a file; --out must be a directory (new or an earlier "
                              "table's)")
    for reg, prior, seed in request.specs():
        path = request.run_dir(reg, prior, seed)
        if os.path.exists(path) and not os.path.isdir(path):
            raise Table1Error(f"{path!r} is a file; a model's run directory belongs there")
    if request.inception_weights is not None and not os.path.isfile(request.inception_weights):
        raise Table1Error(f"--inception-weights {request.inception_weights!r} is not a file")
    check_same_table(request)


def check_same_table(request: Request) -> None:
    """Table1Error if ``<out>/table1.json`` records a table trained with other settings (latent size,
    configuration overrides, ...): its models are not this request's, as ``train`` refuses an
    ``--out`` holding a run with other settings. A table of an earlier version that records no
    overrides had none."""
    saved = read_json(os.path.join(request.out, "table1.json"))
    if saved is None or not isinstance(saved.get("protocol"), dict):
        return
    current = json.loads(json.dumps(request.protocol.training_settings()))
    recorded = {**current, "config_overrides": []}   # a key it lacks: as here (older versions)
    recorded.update({k: v for k, v in saved["protocol"].items() if k in recorded})
    differ = [f"{k} {recorded[k]!r} there, {current[k]!r} here" for k in current
              if recorded[k] != current[k]]
    if differ:
        raise Table1Error(f"--out {request.out!r} holds a table made with other settings "
                          f"({'; '.join(differ)}); choose another --out")


def collect(request: Request) -> dict[str, dict]:
    """Every planned model's record from disk: its numbers when evaluated with this protocol."""
    with_fid = request.inception_weights is not None
    records = {}
    for reg, prior, seed in request.specs():
        run_dir = request.run_dir(reg, prior, seed)
        done, why = evaluation_state(run_dir, request.protocol, with_fid)
        record = {"reg": reg, "prior": prior, "seed": seed, "model": model_name(reg, prior),
                  "run_dir": run_dir, "evaluated": done, "state": why,
                  "checkpoint_step": trained_step(run_dir),
                  "wall_seconds": read_timing(run_dir)}
        if done:
            metrics = read_json(os.path.join(run_dir, runs.EVAL_DIR, runs.METRICS_FILE))
            record.update(extract_values(metrics, request.protocol.leakage_tau))
        records[run_name(reg, prior, seed)] = record
    return records
