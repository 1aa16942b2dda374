"""Disentanglement metrics on data with ground-truth factors (issue 13), one pure module per metric,
with the protocols and default sizes of disentanglement_lib (Locatello et al. 2019):

    mig         Mutual Information Gap: codes discretized into 20 equal-width bins, plug-in MI / H(v_k)
    factor_vae  FactorVAE score: majority-vote classifier on the least-variable normalized code
    dci         disentanglement, completeness, informativeness from gradient-boosted trees
    sap         SAP: gap between the two codes that best predict each factor (linear SVM, or R²)
    factor_codes  the shared error, input checks and (codes, factors) pairs drawn from a factor source

``disentanglement_scores(represent, source, seed)`` computes all four for one representation function
(observations → codes, e.g. a VAE's encoder means) on a factor source (``datasets.factors``;
``factor_source_for(splits)`` gives a data set's). This package imports NumPy, SciPy and scikit-learn
only: no TensorFlow, no model.
"""

from __future__ import annotations

import time

import numpy as np

from tf_dpvae.evaluation.disentanglement import dci as dci_lib
from tf_dpvae.evaluation.disentanglement import factor_vae as factor_vae_lib
from tf_dpvae.evaluation.disentanglement import mig as mig_lib
from tf_dpvae.evaluation.disentanglement import sap as sap_lib
from tf_dpvae.evaluation.disentanglement.factor_codes import (DisentanglementError, check_count, check_source,
                                                              sample_codes)

METRICS = ("mig", "factor_vae", "dci", "sap")

__all__ = ["METRICS", "DisentanglementError", "disentanglement_scores", "factor_source_for",
           "headline"]


def factor_source_for(splits):
    """The factor source of a data set's ``Splits``, or a DisentanglementError (a ConfigError, exit 2)
    saying that the data have no ground-truth factors."""
    source = getattr(splits, "factor_source", None)
    if source is None:
        raise DisentanglementError(
            f"data set {getattr(splits, 'name', splits)!r} has no ground-truth factors; the "
            f"disentanglement metrics need a data set with factors: dsprites_procedural (offline), "
            f"dsprites or shapes3d (prepared TFDS files)")
    check_source(source)
    return source


def disentanglement_scores(represent, source, seed: int = 0, *, metrics=METRICS,
                           num_train: int = mig_lib.NUM_TRAIN, num_test: int = dci_lib.NUM_TEST,
                           num_bins: int = mig_lib.NUM_BINS,
                           factor_vae_batch_size: int = factor_vae_lib.BATCH_SIZE,
                           factor_vae_train: int = factor_vae_lib.NUM_TRAIN,
                           factor_vae_eval: int = factor_vae_lib.NUM_EVAL,
                           factor_vae_variance: int = factor_vae_lib.NUM_VARIANCE_ESTIMATE,
                           prune_threshold: float = factor_vae_lib.PRUNE_THRESHOLD,
                           sap_continuous: bool = False, batch_size: int = 1024,
                           dci_estimator: str = "gbt", dci_alpha: float = dci_lib.LASSO_ALPHA) -> dict:
    """The disentanglement metrics of ``represent`` (observations [n, ...] → codes [n, d]) on
    ``source`` (a ``datasets.factors.FactorSource``), all with disentanglement_lib's default sizes.

    One training sample (num_train factor vectors) and one test sample (num_test) are drawn from
    ``seed`` and shared by MIG (training sample), DCI and SAP (both); disentanglement_lib draws a
    fresh sample per metric, which differs only by sampling noise. The FactorVAE score draws its own
    fixed-factor batches (from seed + 1). ``dci_estimator`` ("gbt", the reference, or "lasso" with
    ``dci_alpha``) chooses DCI's importance regressor (``dci``'s docstring).

    Returns {"mig": {...}, "factor_vae": {...}, "dci": {...}, "sap": {...}} for the metrics asked
    for (each the dict of its module), "scores" (the headline numbers, see ``headline``), "settings"
    and "seconds" (time per metric, sampling included in "sampling").
    """
    check_source(source)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise DisentanglementError(f"metrics must be a non-empty subset of {', '.join(METRICS)}; got "
                                   f"{metrics!r}")
    settings = {"seed": seed, "num_train": check_count("num_train", num_train),
                "num_test": check_count("num_test", num_test),
                "num_bins": check_count("num_bins", num_bins),
                "factor_vae_batch_size": check_count("factor_vae_batch_size", factor_vae_batch_size),
                "factor_vae_train": check_count("factor_vae_train", factor_vae_train),
                "factor_vae_eval": check_count("factor_vae_eval", factor_vae_eval),
                "factor_vae_variance": check_count("factor_vae_variance", factor_vae_variance),
                "prune_threshold": prune_threshold, "sap_continuous": bool(sap_continuous),
                "dci_estimator": dci_estimator,
                **({"dci_alpha": float(dci_alpha)} if dci_estimator == "lasso" else {}),
                "batch_size": check_count("batch_size", batch_size),
                "source": getattr(source, "name", type(source).__name__),
                "factor_names": list(getattr(source, "factor_names", ())),
                "factor_sizes": [int(s) for s in source.factor_sizes]}
    if dci_estimator not in dci_lib.ESTIMATORS:
        raise DisentanglementError(f"dci_estimator must be one of {', '.join(dci_lib.ESTIMATORS)}, "
                                   f"got {dci_estimator!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DisentanglementError(f"seed must be a non-negative integer, got {seed!r}")
    out, seconds = _scores(represent, source, seed, metrics, settings, dci_alpha)
    return {**out, "scores": headline(out), "settings": settings, "seconds": seconds}


def _scores(represent, source, seed, metrics, s: dict, dci_alpha) -> tuple[dict, dict]:
    """(results per metric, seconds per metric and for "sampling") of ``disentanglement_scores``,
    with its checked sizes ``s``: the shared training and test samples, then each metric."""
    out, seconds = {}, {}
    if any(m in metrics for m in ("mig", "dci", "sap")):
        t = time.perf_counter()
        rng = np.random.default_rng(seed)
        train = sample_codes(source, represent, s["num_train"], rng, s["batch_size"])
        test = sample_codes(source, represent, s["num_test"], rng, s["batch_size"]) \
            if ("dci" in metrics or ("sap" in metrics and not s["sap_continuous"])) else (None, None)
        seconds["sampling"] = time.perf_counter() - t
    for name in metrics:
        t = time.perf_counter()
        if name == "mig":
            out["mig"] = mig_lib.mutual_information_gap(*train, num_bins=s["num_bins"])
        elif name == "dci":
            out["dci"] = dci_lib.dci(*train, *test, seed=seed, estimator=s["dci_estimator"],
                                     alpha=dci_alpha)
        elif name == "sap":
            out["sap"] = sap_lib.sap(*train, *test, continuous=s["sap_continuous"])
        else:
            out["factor_vae"] = factor_vae_lib.compute_factor_vae(
                source, represent, seed + 1, batch_size=s["factor_vae_batch_size"],
                num_train=s["factor_vae_train"], num_eval=s["factor_vae_eval"],
                num_variance_estimate=s["factor_vae_variance"], prune_threshold=s["prune_threshold"],
                encode_batch=s["batch_size"])
        seconds[name] = time.perf_counter() - t
    return out, seconds


def headline(results: dict) -> dict:
    """The one-number summaries of ``disentanglement_scores``' per-metric dicts:
    mig, factor_vae_score, dci_disentanglement, dci_completeness, dci_informativeness_test, sap."""
    scores = {}
    if "mig" in results:
        scores["mig"] = results["mig"]["mig"]
    if "factor_vae" in results:
        scores["factor_vae_score"] = results["factor_vae"]["factor_vae_score"]
    if "dci" in results:
        scores["dci_disentanglement"] = results["dci"]["disentanglement"]
        scores["dci_completeness"] = results["dci"]["completeness"]
        scores["dci_informativeness_test"] = results["dci"]["informativeness_test"]
    if "sap" in results:
        scores["sap"] = results["sap"]["sap"]
    return scores
