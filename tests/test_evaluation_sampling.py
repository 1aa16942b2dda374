"""tf_dpvae.evaluation.sampling: the low- and high-posterior selection (paper §4.1) against hand answers."""

import numpy as np
import pytest

from tf_dpvae import aggregate_posterior as ap
from tf_dpvae.evaluation import sampling


def test_low_posterior_ranking_finds_the_planted_low_density_points():
    """q is a two-component mixture at ±3; 'prior' samples include 5 planted points at the origin
    and far out, where q is tiny: they must be exactly the 5 lowest."""
    rng = np.random.default_rng(2)
    means = np.array([[-3.0, 0.0], [3.0, 0.0]])
    log_vars = np.log(np.full((2, 2), 0.3))
    typical = means[rng.integers(0, 2, 200)] + rng.normal(size=(200, 2)) * 0.3
    planted = np.array([[0.0, 0.0], [0.0, 1.5], [0.0, -1.5], [-6.5, 2.0], [6.5, -2.0]])
    points = np.concatenate([typical[:100], planted, typical[100:]])
    log_q = ap.aggregate_posterior_log_density(points, means, log_vars)
    chosen = sampling.low_posterior_indices(log_q, 5)
    assert sorted(chosen) == list(range(100, 105))
    assert np.all(np.diff(log_q[chosen]) >= 0)  # lowest first


def test_high_posterior_ranking_and_argument_checks():
    log_prior = np.array([-1.0, -30.0, -2.0, -15.0, -3.0])
    np.testing.assert_array_equal(sampling.high_posterior_indices(log_prior, 2), [1, 3])
    with pytest.raises(ValueError, match="k must be"):
        sampling.lowest_indices(log_prior, 0)
    with pytest.raises(ValueError, match="NaN"):
        sampling.lowest_indices([0.0, np.nan], 1)
