"""Statistics over seeds: mean ± standard error of every metric of every model of a table
(``aggregate``), and whether each dp model beats its normal-prior twin (``compare_pairs``), beside the
same questions asked of the paper's MNIST columns (``PAPER_MNIST``).

No TensorFlow import.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tf_dpvae.experiments.results import EMBEDDING_NAMES, PRDC, SAMPLE_KEYS, number
from tf_dpvae.experiments.protocol import run_name
from tf_dpvae.experiments.request import Request

# The paper's Table 1 (Bhalodia et al., ACCV 2020, "Generative metrics (lower is better)"), MNIST
# columns, copied from /work/shared/paper/dpvae-paper.txt (Table 1, around line 142): FID, LP
# (low-posterior FID), sKL, NLL (×10³, as printed). For the direction of each effect only: their FID is
# on Inception features of MNIST, ours a Fréchet distance on other features of another data set.
PAPER_MNIST = {
    "none": {"normal": {"fid": 137.4, "lp": 165.0, "skl": 1.26, "nll_e3": 3.56},
             "dp": {"fid": 129.0, "lp": 153.1, "skl": 0.88, "nll_e3": 3.53}},
    "beta": {"normal": {"fid": 144.2, "lp": 163.1, "skl": 4.49, "nll_e3": 4.12},
             "dp": {"fid": 127.1, "lp": 127.4, "skl": 1.07, "nll_e3": 2.98}},
    "betab": {"normal": {"fid": 130.8, "lp": 163.6, "skl": 2.74, "nll_e3": 3.11},
              "dp": {"fid": 113.3, "lp": 114.1, "skl": 1.32, "nll_e3": 2.80}},
    "tc": {"normal": {"fid": 149.8, "lp": 200.3, "skl": 4.48, "nll_e3": 2.91},
           "dp": {"fid": 133.3, "lp": 133.1, "skl": 2.07, "nll_e3": 2.70}},
    "factor": {"normal": {"fid": 130.5, "lp": 191.2, "skl": 1.04, "nll_e3": 3.50},
               "dp": {"fid": 120.8, "lp": 121.3, "skl": 0.85, "nll_e3": 3.60}},
    "info": {"normal": {"fid": 128.7, "lp": 133.2, "skl": 2.89, "nll_e3": 2.88},
             "dp": {"fid": 110.1, "lp": 110.5, "skl": 1.70, "nll_e3": 2.81}},
}


LP_TOLERANCE = 1.05  # "LP-FD ≈ FD": the dp models' low-posterior samples are as good as random ones


METRICS = ("fd", "lp_fd", "lp_fd_ratio", "skl", "nll", "neg_elbo", "leakage")


FID_METRICS = ("fid", "lp_fid")


COMPARED = ("fd", "lp_fd", "skl", "nll", "leakage")  # dp beats its twin when its mean is lower


DIAGNOSTICS = ("kl_qp", "kl_pq", "nll_ess_median")  # aggregated for the "where dp loses" section


# the sample metrics of every embedding, in the tables once any model has them (as FID)
SAMPLE_METRICS = tuple(f"{prefix}{key}" for prefix in EMBEDDING_NAMES for key in SAMPLE_KEYS)


# dp beats its twin when its mean is higher: on the manifold (precision, density), reaching all of it
# (recall, coverage); the Fréchet distance's features and the random conv net
COMPARED_HIGHER = PRDC + ("rc_precision", "rc_density", "z_precision", "z_density")


def mean_se(values) -> dict[str, Any]:
    """Mean and standard error (sd/√n, ddof = 1; None for n = 1) of the finite values given."""
    finite = [float(v) for v in values if number(v) is not None]
    n = len(finite)
    if n == 0:
        return {"mean": None, "se": None, "n": 0}
    mean = float(np.mean(finite))
    se = float(np.std(finite, ddof=1) / math.sqrt(n)) if n > 1 else None
    return {"mean": mean, "se": se, "n": n}


def metric_names(records: dict) -> tuple[str, ...]:
    with_fid = any("fid" in r.get("values", {}) for r in records.values())
    with_samples = any(r.get("values", {}).get(f"{prefix}precision") is not None
                       for r in records.values() for prefix in EMBEDDING_NAMES)
    return METRICS + (FID_METRICS if with_fid else ()) + (SAMPLE_METRICS if with_samples else ())


def aggregated_names(records: dict) -> tuple[str, ...]:
    return metric_names(records) + DIAGNOSTICS


def aggregate(request: Request, records: dict) -> dict[str, dict[str, dict]]:
    """aggregates[reg][prior] = {seeds: n evaluated, metric: {mean, se, n, values}, leakage_curve}
    (the metrics of the table and the ``DIAGNOSTICS``)."""
    names = aggregated_names(records)
    out: dict[str, dict[str, dict]] = {}
    for reg in request.regs:
        for prior in request.priors:
            done = [records[run_name(reg, prior, s)] for s in request.seeds
                    if records[run_name(reg, prior, s)]["evaluated"]]
            entry: dict[str, Any] = {"seeds": len(done), "seed_list": [r["seed"] for r in done]}
            for name in names:
                values = [r["values"].get(name) for r in done]
                entry[name] = {**mean_se(values), "values": values}
            entry["leakage_curve"] = mean_curve([r["curve"] for r in done])
            out.setdefault(reg, {})[prior] = entry
    return out


def mean_curve(curves: list[dict]) -> dict | None:
    """The mean over seeds of LS(τ) at each τ of the first curve (None where no seed has a value)."""
    if not curves:
        return None
    taus = curves[0]["tau"]
    means = []
    for i, tau in enumerate(taus):
        values = [c["leakage_score"][i] for c in curves
                  if i < len(c["tau"]) and math.isclose(c["tau"][i], tau)]
        means.append(mean_se(values)["mean"])
    return {"variant": curves[0]["variant"], "tau": taus, "leakage_score": means}


def _lower(a, b) -> bool | None:
    return None if a is None or b is None else a < b


def _higher(a, b) -> bool | None:
    return None if a is None or b is None else a > b


def compare_pairs(request: Request, aggregates: dict) -> dict[str, dict]:
    """Per regularizer: does the dp model's mean beat its twin's (lower) on each compared metric;
    is the dp model's LP-FD within 5% of its FD; and the same directions in the paper's MNIST columns."""
    out = {}
    for reg in request.regs:
        normal, dp = aggregates[reg]["normal"], aggregates[reg]["dp"]
        ours = {m: _lower(dp[m]["mean"], normal[m]["mean"]) for m in COMPARED}
        ours.update({m: _higher(dp[m]["mean"], normal[m]["mean"]) for m in COMPARED_HIGHER
                     if m in dp})
        lp_ok = (None if dp["fd"]["mean"] is None or dp["lp_fd"]["mean"] is None
                 else dp["lp_fd"]["mean"] <= LP_TOLERANCE * dp["fd"]["mean"])
        paper = PAPER_MNIST[reg]
        out[reg] = {
            "dp_better": ours, "dp_lp_fd_within_5pct": lp_ok,
            "paper_mnist_dp_better": {m: paper["dp"][m] < paper["normal"][m]
                                      for m in ("fid", "lp", "skl", "nll_e3")},
            "paper_mnist_dp_lp_within_5pct": paper["dp"]["lp"] <= LP_TOLERANCE * paper["dp"]["fid"]}
    return out
