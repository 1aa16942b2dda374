"""DCI: disentanglement and completeness of hand-made importance matrices; encoders with known answers."""

import numpy as np
import pytest

from disentanglement_cases import ValueSource, identity, noise, random_rotation, rotation, sample
from tf_dpvae.config import ConfigError
from tf_dpvae.evaluation.disentanglement import dci


@pytest.mark.parametrize("importance, d, c", [
    ([[1, 0], [0, 1]], 1.0, 1.0),             # one code per factor, one factor per code
    ([[1, 1], [1, 1]], 0.0, 0.0),             # everything everywhere
    ([[1, 0], [1, 0]], 1.0, 0.0),             # both codes about factor 0 only: D = 1; factor 0 split
    ([[2, 2], [0, 0], [0, 0]], 0.0, 1.0),      # one code for both factors: complete, not disentangled
])
def test_disentanglement_and_completeness_of_hand_made_matrices(importance, d, c):
    assert dci.disentanglement(np.array(importance, float)) == pytest.approx(d, abs=1e-9)
    assert dci.completeness(np.array(importance, float)) == pytest.approx(c, abs=1e-9)


def test_weighted_entropies_by_hand():
    r = np.array([[3.0, 1.0], [0.0, 4.0]])
    # Code 0: P = (¾, ¼), H₂ = −¾log₂¾ − ¼log₂¼; weight 4/8. Code 1: P = (0, 1), H = 0; weight 4/8.
    h = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert dci.disentanglement(r) == pytest.approx(0.5 * (1 - h) + 0.5, abs=1e-9)
    # Factor 0: P̃ = (1, 0), C = 1, weight 3/8. Factor 1: P̃ = (⅕, ⅘), weight 5/8.
    h1 = -(0.2 * np.log2(0.2) + 0.8 * np.log2(0.8))
    assert dci.completeness(r) == pytest.approx(3 / 8 + 5 / 8 * (1 - h1), abs=1e-9)


def run(encoder, n_train=400, n_test=200):
    source = ValueSource(sizes=(3, 4, 5))
    return dci.dci(*sample(source, encoder, n_train, 0), *sample(source, encoder, n_test, 1), seed=0)


def test_true_factors_score_near_one_rotation_lower_noise_near_zero():
    true = run(identity)
    assert true["disentanglement"] > 0.95 and true["completeness"] > 0.95
    assert true["informativeness_test"] == 1.0 and true["informativeness_train"] == 1.0
    rotated = run(rotation(random_rotation(3, seed=1)))
    assert rotated["disentanglement"] < 0.7 and rotated["completeness"] < 0.7
    random = run(noise(3))
    assert random["disentanglement"] < 0.2 and random["completeness"] < 0.2
    assert random["informativeness_test"] < 0.45  # chance: mean of 1/3, 1/4, 1/5 ≈ 0.26
    assert np.asarray(true["importance"]).shape == (3, 3)


def test_sizes_and_bad_inputs_are_clear_errors():
    source = ValueSource()
    with pytest.raises(ConfigError, match="num_test must be a positive integer, got 0"):
        dci.compute_dci(source, identity, num_train=100, num_test=0)
    with pytest.raises(ConfigError, match="num_train must be a positive integer, got 0"):
        dci.compute_dci(source, identity, num_train=0)
    with pytest.raises(ConfigError, match="training and test shapes differ"):
        dci.dci(np.zeros((10, 2)), np.zeros((10, 1), int), np.zeros((10, 3)), np.zeros((10, 1), int))
    with pytest.raises(ConfigError, match="factor 0 takes a single value"):
        dci.dci(np.zeros((10, 2)), np.zeros((10, 1), int), np.zeros((10, 2)), np.zeros((10, 1), int))


def test_lasso_estimator_true_factors_near_one_rotation_lower_noise_near_zero():
    source = ValueSource(sizes=(3, 4, 5))

    def lasso(encoder):
        return dci.dci(*sample(source, encoder, 400, 0), *sample(source, encoder, 200, 1),
                       estimator="lasso")

    true = lasso(identity)
    assert true["estimator"] == "lasso" and true["alpha"] == pytest.approx(dci.LASSO_ALPHA)
    assert true["disentanglement"] > 0.99 and true["completeness"] > 0.99
    # the codes are the standardized factors: R² = 1 up to the lasso's shrinkage (α = 0.02)
    assert true["informativeness_test"] > 0.95
    rotated = lasso(rotation(random_rotation(3, seed=1)))
    assert rotated["disentanglement"] < 0.7 and rotated["completeness"] < 0.7
    assert rotated["informativeness_test"] > 0.95  # a rotation loses no linear information
    random = lasso(noise(3))
    assert random["informativeness_test"] < 0.05
    # noise leaves every coefficient near zero (chance correlations, ~1/√400): under a tenth of the
    # importance the true factors get (coefficients ≈ 1 on the diagonal)
    assert np.asarray(random["importance"]).sum() < 0.1 * np.asarray(true["importance"]).sum()


def test_lasso_and_estimator_bad_inputs_are_clear_errors():
    codes, factors = np.random.default_rng(0).normal(size=(20, 2)), np.tile([[0], [1]], (10, 1))
    with pytest.raises(ConfigError, match="estimator must be one of gbt, lasso, got 'svm'"):
        dci.dci(codes, factors, codes, factors, estimator="svm")
    with pytest.raises(ConfigError, match="lasso alpha must be a positive number, got 0"):
        dci.dci(codes, factors, codes, factors, estimator="lasso", alpha=0)
    with pytest.raises(ConfigError, match="factor 0 takes a single value"):
        dci.dci(codes, np.zeros((20, 1), int), codes, factors, estimator="lasso")
