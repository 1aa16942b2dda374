"""tf_dpvae.aggregate_posterior: the exact log q(z) (TensorFlow and NumPy, near and far points), sampling
q(z), and the per-dimension KL, against hand answers."""

import math

import numpy as np
import pytest
import scipy.stats

from tf_dpvae import aggregate_posterior as ap
from tf_dpvae import plots


def mixture_log_density(points, means, log_vars):
    return np.log(np.mean([scipy.stats.multivariate_normal(m, np.diag(np.exp(v))).pdf(points)
                           for m, v in zip(means, log_vars)], axis=0))


def test_log_q_is_the_exact_mixture_including_far_points():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(9, 3)) * 2
    log_vars = rng.normal(size=(9, 3)) * 0.5
    points = rng.normal(size=(11, 3)) * 3
    np.testing.assert_allclose(ap.aggregate_posterior_log_density(points, means, log_vars, chunk=4),
                               mixture_log_density(points, means, log_vars), rtol=1e-9)
    # far from every component, where exp() underflows: the one dominant component by hand
    far = np.array([[60.0, 0.0, 0.0]])
    value = ap.aggregate_posterior_log_density(far, means[:1], np.zeros((1, 3)))
    expected = -0.5 * (3 * math.log(2 * math.pi) + np.sum((far - means[:1]) ** 2))
    np.testing.assert_allclose(value, [expected], rtol=1e-10)
    assert plots.aggregate_posterior_log_density is ap.aggregate_posterior_log_density


def test_tensorflow_log_q_matches_the_numpy_reference():
    """Both implementations against the exact mixture, and each other over uneven chunks."""
    rng = np.random.default_rng(3)
    means = rng.normal(size=(9, 3)) * 2
    log_vars = rng.normal(size=(9, 3)) * 0.5
    points = rng.normal(size=(11, 3)) * 3
    np.testing.assert_allclose(ap.aggregate_posterior_log_density_numpy(points, means, log_vars),
                               mixture_log_density(points, means, log_vars), rtol=1e-9)
    means = rng.normal(size=(3000, 4))
    log_vars = rng.normal(size=(3000, 4)) - 2
    points = rng.normal(size=(1001, 4)) * 4   # log q from about −10³ to 0: both tails exercised
    fast = ap.aggregate_posterior_log_density(points, means, log_vars, chunk=300)
    reference = ap.aggregate_posterior_log_density_numpy(points, means, log_vars, chunk=512)
    assert fast.shape == (1001,) and fast.dtype == np.float64 and fast.min() < -100
    np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-9)
    assert ap.aggregate_posterior_log_density(points[:0], means, log_vars).shape == (0,)


def test_one_pass_blocks_fall_back_to_two_passes_exactly_where_needed():
    """Default (power-of-two, padded) blocks on a point count that is not a multiple of them, with
    points near the encodings (one pass, shared shift) and far from all of them (log q ≈ −10³ to −10⁶,
    recomputed with their own maximum), against the NumPy reference; and d > 8, where the quadratic
    form is a matrix product inside the compiled function, with near and far points too."""
    rng = np.random.default_rng(5)
    means = rng.normal(size=(2000, 2))
    log_vars = rng.normal(size=(2000, 2)) * 0.5 - 4           # narrow: q is tiny between encodings
    far = np.array([[30.0, 0.0], [0.0, -300.0], [1e3, 1e3], [4.0, 4.0]])
    points = np.concatenate([rng.normal(size=(700, 2)), far, rng.normal(size=(300, 2)) * 3])
    reference = ap.aggregate_posterior_log_density_numpy(points, means, log_vars)
    assert reference.max() > -10 and reference.min() < -1e6   # both kinds of points are there
    assert np.sum(reference - (-0.5 * (2 * np.log(2 * np.pi) + log_vars.sum(1))).max()
                  < ap._ONE_PASS_MIN_LOG_SUM) >= 3
    for chunk in (None, 1, 64, 5000):
        np.testing.assert_allclose(ap.aggregate_posterior_log_density(points, means, log_vars, chunk),
                                   reference, rtol=1e-12, atol=1e-9, err_msg=str(chunk))
    means, log_vars = rng.normal(size=(500, 12)), rng.normal(size=(500, 12)) * 0.3 - 2
    directions = rng.normal(size=(8, 12))
    far = (directions / np.linalg.norm(directions, axis=1, keepdims=True)
           * np.geomspace(10, 300, 8)[:, None])                   # log q down to about −2·10⁵
    points = np.concatenate([rng.normal(size=(37, 12)) * 2, far])
    reference = ap.aggregate_posterior_log_density_numpy(points, means, log_vars)
    assert reference.min() < -1e4 and reference.max() > -100   # matrix-product path, both passes
    assert np.sum(reference - (-0.5 * (12 * np.log(2 * np.pi) + log_vars.sum(1))).max()
                  + np.log(len(means)) < ap._ONE_PASS_MIN_LOG_SUM) >= 3
    np.testing.assert_allclose(ap.aggregate_posterior_log_density(points, means, log_vars),
                               reference, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="chunk"):
        ap.aggregate_posterior_log_density(points, means, log_vars, chunk=0)
    assert ap._block_size(25_000, 54_000) == 64 and ap._block_size(3, 54_000) == 4


def test_sampling_q_gives_its_moments():
    rng = np.random.default_rng(1)
    means = np.array([[-2.0, 0.0], [2.0, 1.0]])
    log_vars = np.log(np.array([[0.25, 1.0], [0.25, 4.0]]))
    z, index = ap.sample_aggregate_posterior(means, log_vars, 40_000, rng)
    assert set(np.unique(index)) == {0, 1}
    np.testing.assert_allclose(z.mean(0), [0.0, 0.5], atol=0.05)
    # var of a two-component mixture: mean of variances + variance of means
    np.testing.assert_allclose(z.var(0), [0.25 + 4.0, 2.5 + 0.25], rtol=0.05)


def test_dimension_kl_by_hand():
    # dimension 0: μ = ±1, σ² = 1 → m = 0, s² = 1 + 1 = 2, KL = ½(log 2 + (1 + 1)/2 − 1) = ½ log 2
    # dimension 1: collapsed (μ = 0, σ = 1 everywhere) → KL = 0
    means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    kl, m, s = ap.dimension_kl(means, np.zeros_like(means))
    np.testing.assert_allclose(kl, [0.5 * np.log(2.0), 0.0], atol=1e-12)
    np.testing.assert_allclose(m, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(s, [np.sqrt(2.0), 1.0], atol=1e-12)
    with pytest.raises(ValueError, match="equal shapes"):
        ap.dimension_kl(means, np.zeros((2, 3)))
