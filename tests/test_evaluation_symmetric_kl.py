"""tf_dpvae.evaluation.symmetric_kl: sKL against closed forms and hand answers (the leakage score:
test_evaluation_leakage.py)."""

import numpy as np
import pytest
import scipy.stats

from tf_dpvae import aggregate_posterior as ap
from tf_dpvae.evaluation import symmetric_kl


def standard_normal_log_density(z):
    return scipy.stats.norm.logpdf(z).sum(axis=1)


def test_symmetric_kl_is_zero_when_q_equals_p():
    rng = np.random.default_rng(3)
    zp, zq = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    one = (np.zeros((1, 2)), np.zeros((1, 2)))  # q = a one-component mixture equal to N(0, I)
    result = symmetric_kl.symmetric_kl(standard_normal_log_density(zp),
                                       ap.aggregate_posterior_log_density(zp, *one),
                                       standard_normal_log_density(zq),
                                       ap.aggregate_posterior_log_density(zq, *one))
    assert abs(result["skl"]) < 1e-9 and result["skl_se"] < 1e-9


def test_symmetric_kl_matches_the_closed_form_for_two_gaussians():
    rng = np.random.default_rng(4)
    mu, var = np.array([0.8, -0.5]), np.array([0.5, 2.0])
    n = 5000
    zp = rng.normal(size=(n, 2))
    zq = mu + np.sqrt(var) * rng.normal(size=(n, 2))
    q = (mu[None], np.log(var)[None])
    result = symmetric_kl.symmetric_kl(standard_normal_log_density(zp),
                                       ap.aggregate_posterior_log_density(zp, *q),
                                       standard_normal_log_density(zq),
                                       ap.aggregate_posterior_log_density(zq, *q))
    kl_qp = 0.5 * np.sum(var + mu ** 2 - 1 - np.log(var))           # KL[N(μ, σ²) ‖ N(0, 1)]
    kl_pq = 0.5 * np.sum(1 / var + mu ** 2 / var - 1 + np.log(var))  # KL[N(0, 1) ‖ N(μ, σ²)]
    assert abs(result["kl_qp"] - kl_qp) < 4 * result["kl_qp_se"]
    assert abs(result["kl_pq"] - kl_pq) < 4 * result["kl_pq_se"]
    assert abs(result["skl"] - (kl_pq + kl_qp)) < 4 * result["skl_se"]
    assert result["skl_se"] < 0.05 * (kl_pq + kl_qp)  # the tolerance above is a tight one


def test_tail_summary_by_hand_and_in_the_skl_result():
    """99 terms of 1 and one of 901: the top 1 % carries 901/1000 of the sum, the rest average 1."""
    ratios = np.concatenate([np.ones(99), [901.0]])
    summary = symmetric_kl.tail_summary(np.random.default_rng(0).permutation(ratios))
    assert summary == pytest.approx({"median": 1.0, "top_share": 0.901, "trimmed": 1.0})
    assert symmetric_kl.tail_summary(ratios, top_fraction=0.02)["trimmed"] == pytest.approx(1.0)
    zero = np.zeros(100)
    result = symmetric_kl.symmetric_kl(ratios, zero, zero, zero)
    assert result["kl_pq"] == pytest.approx(10.0)
    assert result["kl_pq_top_share"] == pytest.approx(0.901)
    assert result["kl_pq_median"] == pytest.approx(1.0) and result["kl_pq_trimmed"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="top_fraction 1.5"):
        symmetric_kl.tail_summary(ratios, top_fraction=1.5)
