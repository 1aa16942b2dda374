"""The trial table (markdown and CSV) and the pair table."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Mapping

import keras_tuner as kt

from tf_dpvae import training
from tf_dpvae.tuning.settings import SearchSettings


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


def format_pair(results: Mapping[str, training.RunResult]) -> str:
    """Markdown table: the final validation metrics of both priors."""
    names = ("val_loss", "val_recon", "val_kl", "loss")
    lines = ["| prior | " + " | ".join(names) + " | steps | run directory |",
             "|---|" + "---|" * len(names) + "---|---|"]
    for kind, r in results.items():
        lines.append(f"| {kind} | " + " | ".join(_fmt(r.final_logs.get(n)) for n in names)
                     + f" | {r.step} | {r.out_dir} |")
    return "\n".join(lines)
