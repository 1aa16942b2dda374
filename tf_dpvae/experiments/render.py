"""table1.csv and table1.json (and, through ``markdown``, table1.md) from the records of a table's
runs, each written atomically by ``write_tables``.

No TensorFlow import.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np

from tf_dpvae.experiments.markdown import fd_description, fmt, now, render_markdown, tau_tag
from tf_dpvae.experiments.request import Request
from tf_dpvae.experiments.statistics import PAPER_MNIST, aggregate, compare_pairs, metric_names
from tf_dpvae.files import write_atomic


def csv_columns(names: tuple[str, ...], tau: float) -> list[str]:
    columns = ["regularizer", "prior", "seeds"]
    for name in names:
        label = f"leakage_tau{tau_tag(tau)}" if name == "leakage" else name
        columns += [f"{label}_mean", f"{label}_se"]
    return columns


def render_csv(request: Request, records: dict, aggregates: dict) -> str:
    names = metric_names(records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_columns(names, request.protocol.leakage_tau))
    for reg in request.regs:
        for prior in request.priors:
            entry = aggregates[reg][prior]
            row = [reg, prior, entry["seeds"]]
            for name in names:
                row += [fmt(entry[name]["mean"], 10), fmt(entry[name]["se"], 10)]
            writer.writerow(row)
    return buf.getvalue()


def _clean(value):
    """JSON-ready: NaN/inf → None, tuples → lists, NumPy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def render_json(request: Request, records: dict, aggregates: dict, pairs: dict, commit: str,
                wall: dict, extra: dict | None = None) -> str:
    payload = {
        "protocol": request.protocol.to_dict(), "overrides": request.overrides,
        "regs": list(request.regs), "seeds": list(request.seeds), "commit": commit,
        "written": now(), "inception_weights": request.inception_weights,
        "leakage_tau": request.protocol.leakage_tau, "fd_description": fd_description(records),
        "models": records, "aggregates": aggregates, "pairs": pairs,
        "paper_mnist_table1": PAPER_MNIST, "wall_seconds": wall, **(extra or {})}
    return json.dumps(_clean(payload), indent=2, sort_keys=True, allow_nan=False)


def wall_times(records: dict, invocation_seconds: float) -> dict[str, float]:
    return {"train_total_seconds": sum(r["wall_seconds"]["train_seconds"] for r in records.values()),
            "eval_total_seconds": sum(r["wall_seconds"]["eval_seconds"] for r in records.values()),
            "this_invocation_seconds": invocation_seconds}


def write_tables(request: Request, records: dict, commit: str, invocation_seconds: float,
                 extra: dict | None = None) -> dict[str, str]:
    """table1.csv, table1.md, table1.json from the records (each written atomically)."""
    aggregates = aggregate(request, records)
    pairs = compare_pairs(request, aggregates)
    wall = wall_times(records, invocation_seconds)
    paths = {name: os.path.join(request.out, f"table1.{name}") for name in ("csv", "md", "json")}
    write_atomic(paths["csv"], render_csv(request, records, aggregates))
    write_atomic(paths["md"], render_markdown(request, records, aggregates, pairs, commit, wall))
    write_atomic(paths["json"], render_json(request, records, aggregates, pairs, commit, wall, extra))
    return paths
