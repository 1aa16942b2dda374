"""Reading an experiment's results from its run directories: the numbers of one ``eval/metrics.json``
(``extract_values``), whether a run is evaluated as a protocol asks (``evaluation_state``), the step
it was trained to, its wall time, its decoded samples (``request.collect`` does all of it for a
request).

No TensorFlow import (``trained_step`` reads the checkpoint state file as text).
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any

import numpy as np

from tf_dpvae import runs
from tf_dpvae.config import POST_HOC_KEY
from tf_dpvae.experiments.protocol import Protocol
from tf_dpvae.files import write_atomic

TIMING_FILE = "table1_timing.json"
SAMPLES_FILE = "samples.npz"


def number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def leakage_variant(leakage: dict) -> str:
    """The headline leakage variant's key: ``eq6_literal`` where metrics.json has it (the renamed
    variants), else ``eq6``."""
    return "eq6_literal" if "eq6_literal" in leakage else "eq6"


def extract_values(metrics_file: dict, tau: float = -4.0) -> dict[str, Any]:
    """The table's numbers from one ``eval/metrics.json`` (as a dict).

    Returns ``values`` (fd, lp_fd, lp_fd_ratio, skl, nll, neg_elbo, leakage = LS(τ) of the headline
    variant, and fid, lp_fid when true FID was computed; None where missing or not finite), the
    whole leakage ``curve`` (variant, tau, leakage_score), the Fréchet distance's key, the step.
    """
    met = metrics_file.get("metrics", {})
    fd_key = next((k for k in ("frechet_distance_classifier", "frechet_distance_data") if k in met),
                  "frechet_distance_data")
    fd = met.get(fd_key, {})
    random, low = number(fd.get("random")), number(fd.get("low_posterior"))
    values = {"fd": random, "lp_fd": low,
              "lp_fd_ratio": low / random if random and low is not None and random > 0 else None,
              "skl": number(met.get("symmetric_kl", {}).get("skl")),
              "nll": number(met.get("nll", {}).get("importance_sampled")),
              "neg_elbo": number(met.get("nll", {}).get("negative_elbo")),
              # diagnostics for the section that explains where dp does not win
              "kl_qp": number(met.get("symmetric_kl", {}).get("kl_qp")),
              "kl_pq": number(met.get("symmetric_kl", {}).get("kl_pq")),
              "nll_ess_median": number(met.get("nll", {}).get("median_effective_sample_size"))}
    if "fid" in met:
        values["fid"] = number(met["fid"].get("random"))
        values["lp_fid"] = number(met["fid"].get("low_posterior"))
    leak = met.get("leakage", {})
    variant = leakage_variant(leak)
    table = leak.get(variant) or {}
    taus = [float(t) for t in table.get("tau", [])]
    scores = [number(v) for v in table.get("leakage_score", [])]
    at = [i for i, t in enumerate(taus) if math.isclose(t, tau)]
    values["leakage"] = scores[at[0]] if at and at[0] < len(scores) else None
    values.update(sample_quality_values(met))
    classifier = {k: fd[f"classifier_{k}"] for k in ("test_accuracy", "accuracy_split",
                                                       "weights_sha256") if f"classifier_{k}" in fd}
    return {"values": values, "curve": {"variant": variant, "tau": taus, "leakage_score": scores},
            "sample_reference": sample_quality_reference(met),
            "fd_key": fd_key, "step": metrics_file.get("step"),
            "fd_skipped": bool(fd.get("skipped")), "classifier": classifier or None}


# Sample metrics (evaluation.prdc) in the table: metrics.json group → prefix of the table's keys.
# The Fréchet distance's own features (classifier for images, the data for vectors) have none.
SAMPLE_EMBEDDINGS = {"sample_quality_classifier": "", "sample_quality_data": "",
                     "sample_quality_random_conv": "rc_", "sample_quality_pixels": "px_",
                     "sample_quality_latent": "z_"}


EMBEDDING_NAMES = {"": "the Fréchet distance's features", "rc_": "a random conv net",
                   "px_": "pixels", "z_": "the representation space z (prior samples against q(z) "
                                          "samples; no low-posterior or real-data rows)"}


PRDC = ("precision", "recall", "density", "coverage")


SAMPLE_KEYS = PRDC + tuple(f"lp_{m}" for m in PRDC)


def sample_quality_values(met: dict) -> dict[str, float | None]:
    """``{prefix}{lp_}precision`` etc. of every embedding (``SAMPLE_EMBEDDINGS``) in one metrics.json's
    ``metrics``; None where an embedding was not computed or was skipped."""
    values = {}
    for group, prefix in SAMPLE_EMBEDDINGS.items():
        scores = met.get(group)
        if prefix == "" and scores is None and values.get("precision") is not None:
            continue   # one of the two Fréchet-feature groups is present, the other is not
        for key in SAMPLE_KEYS:
            values[f"{prefix}{key}"] = number((scores or {}).get(key))
    return values


def sample_quality_reference(met: dict) -> dict[str, float | None]:
    """The same metrics of the training data against the held-out data (``train_vs_held_out``):
    what samples that are real data score at these sizes."""
    values = {}
    for group, prefix in SAMPLE_EMBEDDINGS.items():
        reference = (met.get(group) or {}).get("train_vs_held_out") or {}
        if reference or f"{prefix}precision" not in values:
            values.update({f"{prefix}{m}": number(reference.get(m)) for m in PRDC})
    return values


def read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def evaluation_state(run_dir: str, protocol: Protocol, with_fid: bool) -> tuple[bool, str]:
    """(done, why): whether ``run_dir``'s evaluation is the one this protocol asks for."""
    metrics = read_json(os.path.join(run_dir, runs.EVAL_DIR, runs.METRICS_FILE))
    if metrics is None:
        return False, "not evaluated yet"
    trained = trained_step(run_dir)
    if trained != protocol.steps:
        return False, f"trained to step {trained}, the protocol trains {protocol.steps}"
    if metrics.get("checkpoint_kind", "latest") != "best" and os.path.isdir(
            runs.checkpoint_dir(run_dir, "best")):
        return False, "evaluated at the latest checkpoint, the protocol evaluates the best"
    settings = metrics.get("settings", {})
    differ = [k for k, v in protocol.eval_sizes().items() if settings.get(k) != v]
    if differ:
        return False, f"evaluated with other sizes ({', '.join(differ)})"
    if with_fid != ("fid" in metrics.get("metrics", {})):
        return False, "true FID " + ("requested" if with_fid else "not requested") + " this time"
    if not os.path.isfile(os.path.join(run_dir, runs.EVAL_DIR, SAMPLES_FILE)):
        return False, f"eval/{SAMPLES_FILE} is missing"
    return True, (f"trained to step {protocol.steps}, evaluated at its best checkpoint (step "
                  f"{metrics.get('step')})")


def trained_step(run_dir: str) -> int:
    """The training step a model stands at: a retrofit's is its source's latest checkpoint step (the
    retrofit's own checkpoints are numbered by the step they were fitted at), else
    ``checkpoint_step``."""
    record = (read_json(os.path.join(run_dir, runs.CONFIG_FILE)) or {}).get(POST_HOC_KEY)
    if isinstance(record, dict):
        step = record.get("source", {}).get("latest_step")
        return int(step) if isinstance(step, int) else 0
    return checkpoint_step(run_dir)


def checkpoint_step(run_dir: str) -> int:
    """The step of the run's latest checkpoint (0 if none), as its state file records it."""
    from tf_dpvae import checkpoints   # TensorFlow: imported when a run is read, not with the module

    return checkpoints.recorded_step(runs.checkpoint_dir(run_dir))


def read_timing(run_dir: str) -> dict[str, float]:
    timing = read_json(os.path.join(run_dir, TIMING_FILE)) or {}
    return {"train_seconds": float(timing.get("train_seconds", 0.0)),
            "eval_seconds": float(timing.get("eval_seconds", 0.0))}


def write_timing(run_dir: str, timing: dict) -> None:
    write_atomic(os.path.join(run_dir, TIMING_FILE), json.dumps(timing, indent=2, sort_keys=True))


def samples_payload(arrays: dict) -> bytes:
    """``samples.npz`` (random, low_posterior) from ``evaluate_run``'s ``arrays``, as bytes."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def save_samples(run_dir: str, arrays: dict) -> str:
    """``eval/samples.npz`` (random, low_posterior) from ``evaluate_run``'s ``arrays``, atomically.
    (The reproduction passes the same bytes to ``write_results`` instead, so that they belong to
    the ``eval/`` set they were drawn with.)"""
    path = os.path.join(run_dir, runs.EVAL_DIR, SAMPLES_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, samples_payload(arrays))
    return path
