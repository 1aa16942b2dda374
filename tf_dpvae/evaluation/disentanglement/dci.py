"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams 2018), with
disentanglement_lib's protocol (Locatello et al. 2019: ``dci.num_train = 10000``, ``num_test = 5000``,
one sklearn ``GradientBoostingClassifier()`` with its default settings per factor).

    R_jk   = feature importance of code j in the gradient-boosted trees that classify factor k from all
             codes (|feature_importances_|, impurity-based; R is [d, K])
    D_j    = 1 − H_K(P_j·),  P_jk = R_jk / Σ_k' R_jk'     (entropy with log base K)
    D      = Σ_j ρ_j D_j,    ρ_j = Σ_k R_jk / Σ_jk R_jk    (disentanglement: one code, one factor)
    C_k    = 1 − H_d(P̃_·k),  P̃_jk = R_jk / Σ_j' R_j'k    (entropy with log base d)
    C      = Σ_k ρ̃_k C_k,    ρ̃_k = Σ_j R_jk / Σ_jk R_jk   (completeness: one factor, one code)
    I      = mean over factors of the classifier's accuracy, on the training codes (informativeness_train)
             and on held-out codes (informativeness_test)

Informativeness here is an accuracy (higher is better), as disentanglement_lib reports it, not the
prediction error of Eastwood & Williams. Entropies add 1e-11 to every entry, as disentanglement_lib
does, so an all-zero row or column counts as uniform. The trees get ``random_state = seed``.

``estimator="lasso"`` is Eastwood & Williams' other regressor, for when the trees are too slow (about
450 CPU s at the reference sizes on 2 cores, against well under a second): one sklearn ``Lasso(alpha)``
per factor regressing the factor's index, standardized, on the codes, standardized (both with the
training sample's mean and standard deviation), R_jk = |coefficient|, and informativeness the
coefficient of determination R² (on the training and on the held-out codes) instead of an accuracy.
Its D and C see linear relations only, so they are not comparable with the trees' numbers; the
trees stay the reference default.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from tf_dpvae.evaluation.disentanglement.factor_codes import (DisentanglementError, check_codes, check_count,
                                                              sample_codes)

NUM_TRAIN = 10_000
NUM_TEST = 5_000
ESTIMATORS = ("gbt", "lasso")
LASSO_ALPHA = 0.02  # on standardized codes and factors (Eastwood & Williams' lasso regularization)
_EPS = 1e-11


def importance_gbt(train_codes, train_factors, test_codes, test_factors, seed=0):
    """(R float64 [d, K], train accuracy, test accuracy): one GradientBoostingClassifier per factor."""
    from sklearn.ensemble import GradientBoostingClassifier

    d, k = train_codes.shape[1], train_factors.shape[1]
    importance = np.zeros((d, k), np.float64)
    train_acc, test_acc = [], []
    for b in range(k):
        if len(np.unique(train_factors[:, b])) < 2:
            raise DisentanglementError(f"DCI: factor {b} takes a single value in the "
                                       f"{len(train_factors)} training samples; sample more points")
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(train_codes, train_factors[:, b])
        importance[:, b] = np.abs(model.feature_importances_)
        train_acc.append(np.mean(model.predict(train_codes) == train_factors[:, b]))
        test_acc.append(np.mean(model.predict(test_codes) == test_factors[:, b]))
    return importance, float(np.mean(train_acc)), float(np.mean(test_acc))


def importance_lasso(train_codes, train_factors, test_codes, test_factors, alpha=LASSO_ALPHA):
    """(R float64 [d, K], train R², test R²): one Lasso per factor, standardized codes → standardized
    factor index (means and standard deviations of the training sample; a constant code has scale
    1). R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², ȳ the sample's own mean, averaged over factors."""
    from sklearn.linear_model import Lasso

    mean, std = train_codes.mean(axis=0), train_codes.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (train_codes - mean) / std, (test_codes - mean) / std
    d, k = train_codes.shape[1], train_factors.shape[1]
    importance = np.zeros((d, k), np.float64)
    train_r2, test_r2 = [], []
    for b in range(k):
        y_mean, y_std = train_factors[:, b].mean(), train_factors[:, b].std()
        if y_std == 0:
            raise DisentanglementError(f"DCI: factor {b} takes a single value in the "
                                       f"{len(train_factors)} training samples; sample more points")
        y_train = (train_factors[:, b] - y_mean) / y_std
        y_test = (test_factors[:, b] - y_mean) / y_std
        model = Lasso(alpha=alpha)
        model.fit(x_train, y_train)
        importance[:, b] = np.abs(model.coef_)
        train_r2.append(model.score(x_train, y_train))
        test_r2.append(model.score(x_test, y_test))
    return importance, float(np.mean(train_r2)), float(np.mean(test_r2))


def disentanglement(importance) -> float:
    """D = Σ_j ρ_j (1 − H_K(P_j·)) of an importance matrix [d, K] (K ≥ 2; K = 1 gives 1 − 0·... = 1)."""
    r = np.asarray(importance, np.float64)
    k = r.shape[1]
    per_code = 1.0 - scipy.stats.entropy(r.T + _EPS, base=k) if k > 1 else np.ones(r.shape[0])
    weights = r if r.sum() > 0 else np.ones_like(r)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness(importance) -> float:
    """C = Σ_k ρ̃_k (1 − H_d(P̃_·k)) of an importance matrix [d, K] (d = 1 gives 1)."""
    r = np.asarray(importance, np.float64)
    d = r.shape[0]
    per_factor = 1.0 - scipy.stats.entropy(r + _EPS, base=d) if d > 1 else np.ones(r.shape[1])
    weights = r if r.sum() > 0 else np.ones_like(r)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def dci(train_codes, train_factors, test_codes, test_factors, seed=0, estimator="gbt",
        alpha=LASSO_ALPHA) -> dict:
    """DCI of codes [N, d] against discrete factors [N, K], the importance estimator (``gbt``:
    gradient-boosted trees, the reference; ``lasso``: see the module docstring, with ``alpha`` > 0)
    fitted on the training pair.

    Returns {"disentanglement", "completeness", "informativeness_train", "informativeness_test"
    (accuracies for gbt, R² for lasso), "importance": [d][K], "estimator", and "alpha" for lasso}.
    """
    if estimator not in ESTIMATORS:
        raise DisentanglementError(f"DCI: estimator must be one of {', '.join(ESTIMATORS)}, got "
                                   f"{estimator!r}")
    if estimator == "lasso" and not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
                                     and np.isfinite(alpha) and alpha > 0):
        raise DisentanglementError(f"DCI: lasso alpha must be a positive number, got {alpha!r}")
    train_codes, train_factors = check_codes(train_codes, train_factors, "DCI training")
    test_codes, test_factors = check_codes(test_codes, test_factors, "DCI test")
    if train_codes.shape[1] != test_codes.shape[1] or train_factors.shape[1] != test_factors.shape[1]:
        raise DisentanglementError(f"DCI: training and test shapes differ: codes "
                                   f"{train_codes.shape} / {test_codes.shape}, factors "
                                   f"{train_factors.shape} / {test_factors.shape}")
    if estimator == "gbt":
        importance, train_acc, test_acc = importance_gbt(train_codes, train_factors, test_codes,
                                                         test_factors, seed)
        extra = {}
    else:
        importance, train_acc, test_acc = importance_lasso(train_codes, train_factors, test_codes,
                                                           test_factors, alpha)
        extra = {"alpha": float(alpha)}
    return {"disentanglement": disentanglement(importance), "completeness": completeness(importance),
            "informativeness_train": train_acc, "informativeness_test": test_acc,
            "importance": importance.tolist(), "estimator": estimator, **extra}


def compute_dci(source, represent, seed=0, num_train: int = NUM_TRAIN, num_test: int = NUM_TEST,
                batch_size: int = 1024, estimator: str = "gbt", alpha: float = LASSO_ALPHA) -> dict:
    """DCI on num_train + num_test factor vectors sampled from ``source``."""
    num_train, num_test = check_count("num_train", num_train), check_count("num_test", num_test)
    rng = np.random.default_rng(seed)
    train = sample_codes(source, represent, num_train, rng, batch_size)
    test = sample_codes(source, represent, num_test, rng, batch_size)
    return dci(*train, *test, seed=seed, estimator=estimator, alpha=alpha)
