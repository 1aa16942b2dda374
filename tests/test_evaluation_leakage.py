"""The leakage score of eq. (6) against hand computations, on a decoupled prior that is not the identity."""

import numpy as np
import pytest
import tensorflow as tf

from tf_dpvae import divergences as dv
from tf_dpvae.evaluation import leakage
from tf_dpvae.priors import DecoupledPrior, StandardNormalPrior


def non_identity_prior(latent_dim=2, seed=0):
    """A decoupled prior with random non-zero coupling weights (a fresh one is the identity map: its
    coupling heads start at zero)."""
    prior = DecoupledPrior(latent_dim, num_blocks=4, hidden_units=16)
    prior.build((None, latent_dim))
    rng = np.random.default_rng(seed)
    for coupling in prior.couplings:
        for weight in coupling.weights:
            weight.assign(rng.normal(scale=0.6, size=weight.shape).astype(np.float32))
    return prior


def eq6_by_hand(log_q, threshold_log_density, ratio_log_density, tau):
    """LS(τ) as a loop over samples: S_τ = log q − ratio where threshold < τ, else 0; the mean of S_τ."""
    total = 0.0
    for lq, threshold, ratio in zip(log_q, threshold_log_density, ratio_log_density):
        total += (lq - ratio) if threshold < tau else 0.0
    return total / len(log_q)


def test_leakage_score_matches_a_hand_computation():
    log_q = np.array([-1.0, -4.0, -2.0, -10.0])
    log_p = np.array([-2.0, -8.0, -5.0, -20.0])
    out = leakage.leakage_scores(log_q, log_p, log_p, [-30.0, -10.0, -6.0, -4.0, 0.0])
    # τ = −30: none below; −10: sample 3 (S = 10); −6: samples 1, 3 (S = 4, 10);
    # −4: samples 1, 2, 3 (4, 3, 10); 0: all (1, 4, 3, 10). LS = sum / 4.
    np.testing.assert_allclose(out["leakage_score"], [0, 10 / 4, 14 / 4, 17 / 4, 18 / 4])
    np.testing.assert_allclose(out["fraction_below"], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(out["conditional_mean"][1:], [10, 7, 17 / 3, 4.5])
    assert np.isnan(out["conditional_mean"][0])
    np.testing.assert_allclose(out["leakage_score"][1:],
                               out["fraction_below"][1:] * out["conditional_mean"][1:])


def test_threshold_and_ratio_densities_play_their_own_parts():
    log_q = np.array([-1.0, -4.0])
    threshold = np.array([-10.0, 0.0])   # only sample 0 is below τ = −5
    ratio = np.array([-3.0, -100.0])     # sample 1's ratio would dominate if it were counted
    out = leakage.leakage_scores(log_q, threshold, ratio, [-5.0])
    np.testing.assert_allclose(out["leakage_score"], [(-1.0 + 3.0) / 2])
    np.testing.assert_allclose(out["fraction_below"], [0.5])


def test_literal_eq6_on_a_non_identity_decoupled_prior():
    prior = non_identity_prior()
    z = tf.random.stateless_normal([300, 2], seed=[4, 2]) * 2.0
    z0, log_det = prior.forward(z)
    log_det = log_det.numpy().astype(np.float64)
    assert np.abs(log_det).max() > 0.5 and np.std(log_det) > 0.1  # g is not the identity (nor a shift)
    log_base = dv.standard_normal_log_density(z0).numpy().astype(np.float64)   # log N(g(z); 0, I)
    log_p = log_base + log_det                                                  # log p(z), eq. (2)
    np.testing.assert_allclose(log_p, prior.log_prob(z).numpy(), rtol=1e-5, atol=1e-5)
    log_q = np.random.default_rng(1).normal(-3.0, 2.0, size=len(log_p))
    taus = np.quantile(np.concatenate([log_p, log_base]), [0.05, 0.2, 0.4, 0.6, 0.8, 0.95])

    literal = leakage.leakage_scores(log_q, log_p, log_base, taus)
    hand = [eq6_by_hand(log_q, log_p, log_base, tau) for tau in taus]
    np.testing.assert_allclose(literal["leakage_score"], hand, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(literal["fraction_below"], [np.mean(log_p < tau) for tau in taus])

    variants = leakage.leakage_variants(log_q, log_p, log_base, taus)
    assert list(variants) == list(leakage.VARIANTS) and leakage.HEADLINE_VARIANT == "eq6_literal"
    np.testing.assert_allclose(variants["eq6_literal"]["leakage_score"], hand, rtol=1e-12, atol=1e-12)
    base_hand = [eq6_by_hand(log_q, log_base, log_base, tau) for tau in taus]
    full_hand = [eq6_by_hand(log_q, log_p, log_p, tau) for tau in taus]
    np.testing.assert_allclose(variants["base_density"]["leakage_score"], base_hand, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(variants["full_density"]["leakage_score"], full_hand, rtol=1e-12,
                               atol=1e-12)
    # the three differ here, so the test tells which density went where
    assert np.abs(np.subtract(hand, base_hand)).max() > 1e-3
    assert np.abs(np.subtract(hand, full_hand)).max() > 1e-3


def test_variants_coincide_for_the_normal_prior():
    prior = StandardNormalPrior(2)
    z = tf.random.stateless_normal([100, 2], seed=[5, 5]) * 2.0
    z0, log_det = prior.forward(z)
    log_base = dv.standard_normal_log_density(z0).numpy()
    log_p = (log_base + log_det.numpy()).astype(np.float64)
    log_q = np.random.default_rng(2).normal(-3.0, 2.0, size=len(log_p))
    variants = leakage.leakage_variants(log_q, log_p, log_base, [-8.0, -4.0, -2.0])
    for name in ("base_density", "full_density"):
        for key, values in variants["eq6_literal"].items():
            np.testing.assert_array_equal(variants[name][key], values)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="one length"):
        leakage.leakage_scores(np.zeros(3), np.zeros(3), np.zeros(2), [0.0])
    with pytest.raises(ValueError, match="one length"):
        leakage.leakage_scores(np.zeros(0), np.zeros(0), np.zeros(0), [0.0])
