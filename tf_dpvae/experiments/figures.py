"""The figures of a Table 1 reproduction: leakage.png (every pair's mean LS(τ)) and samples_<reg>.png
(random and low-posterior samples of a pair, and of its post-hoc rows), drawn by ``plots``."""

from __future__ import annotations

import os

import numpy as np

from tf_dpvae import runs
from tf_dpvae.experiments.protocol import MODEL_NAMES, PAIR, model_name, run_name
from tf_dpvae.experiments.request import Request
from tf_dpvae.experiments.results import SAMPLES_FILE, read_json
from tf_dpvae.experiments.statistics import aggregate, mean_se
from tf_dpvae.files import write_atomic


def write_figures(request: Request, records: dict) -> list[str]:
    """leakage.png (every pair's mean LS(τ)) and samples_<reg>.png per pair with samples (and the
    post-hoc rows' samples under them when the request has them)."""
    from tf_dpvae import plots

    written = []
    aggregates = aggregate(request, records)
    curves = []
    for reg in request.regs:
        for prior in PAIR:
            curve = aggregates[reg][prior]["leakage_curve"]
            if curve:
                curves.append({"label": MODEL_NAMES[reg][0], "name": model_name(reg, prior),
                               "prior": prior, "tau": curve["tau"], "score": curve["leakage_score"],
                               "full_score": _full_density_curve(request, records, reg, prior,
                                                                 curve["tau"])})
    if curves:
        path = os.path.join(request.out, "leakage.png")
        fig = plots.leakage_comparison_figure(
            curves, tau_mark=request.protocol.leakage_tau,
            title=f"leakage score LS(τ) of eq. (6), mean over seeds {list(request.seeds)}; "
                  f"{request.protocol.dataset}, {request.protocol.steps:,} steps per model; "
                  "dashed: normal prior, solid: decoupled prior")
        write_atomic(path, plots.figure_to_png(fig))
        written.append(path)
    for reg in request.regs:
        for seed in request.seeds:
            arrays = {}
            for prior in request.priors:
                record = records[run_name(reg, prior, seed)]
                if record["evaluated"]:
                    with np.load(os.path.join(record["run_dir"], runs.EVAL_DIR, SAMPLES_FILE)) as f:
                        arrays[prior] = (f["random"], f["low_posterior"])
            if all(prior in arrays for prior in PAIR):   # the pair, and the post-hoc rows evaluated
                rows = [(model_name(reg, prior), *arrays[prior]) for prior in request.priors
                        if prior in arrays]
                path = os.path.join(request.out, f"samples_{reg}.png")
                fig = plots.paired_samples_figure(
                    rows, title=f"{model_name(reg, 'normal')} vs {model_name(reg, 'dp')}, seed {seed}, "
                                f"step {request.protocol.steps:,}",
                    caption=plots.low_posterior_definition(request.protocol.lp_pool)
                    + "; lowest log q(z) first. Random samples: n prior draws, decoded E[x | z].")
                write_atomic(path, plots.figure_to_png(fig))
                written.append(path)
                break
    return written


def _full_density_curve(request: Request, records: dict, reg: str, prior: str, taus) -> list | None:
    """The mean over evaluated seeds of the ``full_density`` leakage variant (threshold and ratio on
    log p(z)) at ``taus``, from each run's metrics.json: the leakage figure's second panel."""
    rows = []
    for seed in request.seeds:
        record = records[run_name(reg, prior, seed)]
        if record["evaluated"]:
            metrics = read_json(os.path.join(record["run_dir"], runs.EVAL_DIR, runs.METRICS_FILE)) or {}
            table = metrics.get("metrics", {}).get("leakage", {}).get("full_density")
            if table and len(table.get("tau", [])) == len(taus):
                rows.append(table["leakage_score"])
    if not rows:
        return None
    return [mean_se([row[i] for row in rows])["mean"] for i in range(len(taus))]
