"""SAP, the Separated Attribute Predictability score (Kumar et al. 2018, §3), with disentanglement_lib's
protocol (Locatello et al. 2019: ``sap_score.num_train = 10000``, ``num_test = 5000``,
``continuous_factors = False``).

    S_jk  = how well code j alone predicts factor k:
            discrete (default)  test accuracy of sklearn ``LinearSVC(C=0.01, class_weight="balanced")``
                                fitted on the single code z_j (one-vs-rest over the factor's values)
            continuous          R² = Cov(z_j, v_k)² / (Var z_j · Var v_k) on the training codes
                                (0 for a code of variance ≤ 1e-12)
    SAP   = (1/K) Σ_k (S_(1)k − S_(2)k),  the gap between the two best codes for each factor

Continuous: in [0, 1], 1 when each factor is linearly read off one code and no other code correlates
with it. Discrete: every uninformative code still scores at chance, so the best attainable gap is below
1 (about 1 − 1/|v_k| for a balanced factor; a linear threshold on one code also cannot single out a
middle value of a factor with many values: DeepMind's posX, 32 values, caps it far lower).
"""

from __future__ import annotations

import warnings

import numpy as np

from tf_dpvae.evaluation.disentanglement.factor_codes import (DisentanglementError, check_codes, check_count,
                                                              sample_codes)

NUM_TRAIN = 10_000
NUM_TEST = 5_000


def score_matrix(train_codes, train_factors, test_codes, test_factors,
                 continuous: bool = False) -> np.ndarray:
    """S [d, K] (see the module docstring)."""
    d, k = train_codes.shape[1], train_factors.shape[1]
    s = np.zeros((d, k), np.float64)
    if continuous:
        for a in range(d):
            for b in range(k):
                cov = np.cov(train_codes[:, a], train_factors[:, b], ddof=1)
                if cov[0, 0] > 1e-12 and cov[1, 1] > 0:
                    s[a, b] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
        return s
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    for b in range(k):
        if len(np.unique(train_factors[:, b])) < 2:
            raise DisentanglementError(f"SAP: factor {b} takes a single value in the "
                                       f"{len(train_factors)} training samples; sample more points")
        for a in range(d):
            classifier = LinearSVC(C=0.01, class_weight="balanced")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                classifier.fit(train_codes[:, a:a + 1], train_factors[:, b])
            s[a, b] = np.mean(classifier.predict(test_codes[:, a:a + 1]) == test_factors[:, b])
    return s


def sap(train_codes, train_factors, test_codes=None, test_factors=None,
        continuous: bool = False) -> dict:
    """SAP of codes [N, d] (d ≥ 2) against factors [N, K]. The discrete variant needs the test pair.

    Returns {"sap": float, "sap_per_factor": [K], "score_matrix": [d][K], "continuous": bool}.
    """
    train_codes, train_factors = check_codes(train_codes, train_factors, "SAP training")
    if train_codes.shape[1] < 2:
        raise DisentanglementError(f"SAP needs at least 2 code dimensions (a gap between the best "
                                   f"and second-best code); got {train_codes.shape[1]}")
    if not continuous:
        if test_codes is None or test_factors is None:
            raise DisentanglementError("discrete SAP needs held-out test codes and factors")
        test_codes, test_factors = check_codes(test_codes, test_factors, "SAP test")
        if test_codes.shape[1] != train_codes.shape[1] or \
                test_factors.shape[1] != train_factors.shape[1]:
            raise DisentanglementError(f"SAP: training and test shapes differ: codes "
                                       f"{train_codes.shape} / {test_codes.shape}, factors "
                                       f"{train_factors.shape} / {test_factors.shape}")
    s = score_matrix(train_codes, train_factors, test_codes, test_factors, continuous)
    top = np.sort(s, axis=0)[::-1]
    per_factor = top[0] - top[1]
    return {"sap": float(np.mean(per_factor)), "sap_per_factor": per_factor.tolist(),
            "score_matrix": s.tolist(), "continuous": bool(continuous)}


def compute_sap(source, represent, seed=0, num_train: int = NUM_TRAIN, num_test: int = NUM_TEST,
                continuous: bool = False, batch_size: int = 1024) -> dict:
    """SAP on num_train (+ num_test for the discrete variant) factor vectors sampled from ``source``.
    Continuous factors are the factor indices (linear in the value for every dSprites factor)."""
    num_train, num_test = check_count("num_train", num_train), check_count("num_test", num_test)
    rng = np.random.default_rng(seed)
    train = sample_codes(source, represent, num_train, rng, batch_size)
    test = (None, None) if continuous else sample_codes(source, represent, num_test, rng, batch_size)
    return sap(*train, *test, continuous=continuous)
