"""MIG against hand computations and against encoders with known answers."""

import math

import numpy as np
import pytest

from disentanglement_cases import ValueSource, identity, noise, random_rotation, rotation, sample
from tf_dpvae.config import ConfigError
from tf_dpvae.evaluation.disentanglement import mig


def plug_in_mi(a, b):
    """Σ p(a, b) log p(a, b) / (p(a) p(b)) by counting, in nats (independent of sklearn)."""
    n, total = len(a), 0.0
    for x in set(a.tolist()):
        for y in set(b.tolist()):
            joint = np.sum((a == x) & (b == y)) / n
            if joint > 0:
                total += joint * math.log(joint / (np.mean(a == x) * np.mean(b == y)))
    return total


def test_three_factor_case_equals_the_hand_computation():
    y1 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    y2 = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    y3 = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    factors = np.stack([y1, y2, y3], axis=1)
    # z1 = y1; z2 = 2·y2 + y3 (four values, four different bins); z3 = y1 + y2.
    codes = np.stack([y1, 2 * y2 + y3, y1 + y2], axis=1).astype(float)
    out = mig.mutual_information_gap(codes, factors)
    ln2 = math.log(2)
    # I(z_j; y_k) in units of ln 2: z1 → [1, 0, 0]; z2 → [0, 1, 1]; z3 → [½, ½, 0]
    # (H(z3) = 1.5 ln 2, H(z3 | y1) = H(z3 | y2) = ln 2). H(y_k) = ln 2.
    np.testing.assert_allclose(out["mutual_information"],
                               np.array([[1, 0, 0], [0, 1, 1], [0.5, 0.5, 0]]) * ln2, atol=1e-12)
    np.testing.assert_allclose(out["factor_entropy"], [ln2] * 3)
    # Gaps / H: y1: 1 − ½; y2: 1 − ½; y3: 1 − 0.  MIG = (½ + ½ + 1) / 3.
    np.testing.assert_allclose(out["mig_per_factor"], [0.5, 0.5, 1.0], atol=1e-12)
    assert out["mig"] == pytest.approx(2 / 3, abs=1e-12)
    # The bins are equal-width per code: an affine map of a code does not change anything.
    scaled = mig.mutual_information_gap(codes * [3.0, -0.5, 10.0] + [1.0, 2.0, -7.0], factors)
    assert scaled["mig"] == pytest.approx(2 / 3, abs=1e-12)


def test_mutual_information_matches_counting_on_a_random_case():
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 3, size=(300, 2))
    codes = factors[:, :1] + rng.normal(scale=0.7, size=(300, 3))
    discrete = mig.histogram_discretize(codes, 20)
    assert discrete.min() >= 1 and discrete.max() == 20  # np.digitize bins 1…20, maximum in the last
    mi = mig.discrete_mutual_information(discrete, factors)
    for j in range(3):
        for k in range(2):
            assert mi[j, k] == pytest.approx(plug_in_mi(discrete[:, j], factors[:, k]), abs=1e-12)


def test_histogram_discretizer_uses_equal_width_bins_over_the_range():
    codes = np.array([[0.0], [0.049], [0.05], [0.5], [0.999], [1.0]])
    np.testing.assert_array_equal(mig.histogram_discretize(codes, 20)[:, 0], [1, 1, 2, 11, 20, 20])


def test_true_factors_score_near_one_rotation_lower_noise_near_zero():
    source = ValueSource()
    true = mig.mutual_information_gap(*sample(source, identity, 3000, 0))["mig"]
    rotated = mig.mutual_information_gap(*sample(source, rotation(random_rotation(4)), 3000, 0))["mig"]
    random = mig.mutual_information_gap(*sample(source, noise(4), 3000, 0))["mig"]
    assert true > 0.97
    assert rotated < 0.5
    assert random < 0.03


def test_compute_mig_samples_from_a_source_deterministically():
    source = ValueSource()
    first = mig.compute_mig(source, identity, seed=1, num_train=500)
    assert first == mig.compute_mig(source, identity, seed=1, num_train=500)
    assert first["mig"] > 0.9


@pytest.mark.parametrize("kwargs, message", [
    ({"num_train": 0}, "num_train must be a positive integer, got 0"),
    ({"num_train": -5}, "num_train must be a positive integer, got -5"),
    ({"num_bins": 0}, "num_bins must be a positive integer, got 0"),
])
def test_sample_sizes_must_be_positive(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        mig.compute_mig(ValueSource(), identity, **kwargs)


def test_bad_inputs_are_clear_errors():
    codes = np.zeros((10, 3))
    with pytest.raises(ConfigError, match=r"K >= 1 ground-truth factors, got shape \(10, 0\)"):
        mig.mutual_information_gap(codes, np.zeros((10, 0), int))
    with pytest.raises(ConfigError, match="at least 2 code dimensions"):
        mig.mutual_information_gap(np.zeros((10, 1)), np.arange(10)[:, None] % 2)
    with pytest.raises(ConfigError, match="factor 0 takes a single value"):
        mig.mutual_information_gap(codes, np.zeros((10, 1), int))
    with pytest.raises(ConfigError, match="10 representations but 9 factor rows"):
        mig.mutual_information_gap(codes, np.zeros((9, 1), int))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        mig.mutual_information_gap(np.full((10, 2), np.nan), np.arange(10)[:, None] % 2)
    with pytest.raises(ConfigError, match="no ground-truth factors"):
        mig.compute_mig(None, identity)
