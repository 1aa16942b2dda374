"""SAP: hand-computed score matrices and encoders with known answers, both variants."""

import numpy as np
import pytest

from disentanglement_cases import HADAMARD, ValueSource, identity, noise, random_rotation, rotation, sample
from tf_dpvae.config import ConfigError
from tf_dpvae.evaluation.disentanglement import sap


def test_continuous_sap_by_hand():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 5, size=(500, 2))
    codes = np.stack([factors[:, 0] + rng.normal(size=500), factors[:, 1] * 2.0,
                      factors[:, 0] - factors[:, 1]], axis=1)
    out = sap.sap(codes, factors, continuous=True)
    r2 = np.array([[np.corrcoef(codes[:, j], factors[:, k])[0, 1] ** 2 for k in range(2)]
                   for j in range(3)])
    np.testing.assert_allclose(out["score_matrix"], r2, atol=1e-12)
    top = np.sort(r2, axis=0)
    assert out["sap"] == pytest.approx(np.mean(top[-1] - top[-2]), abs=1e-12)


def test_true_factors_score_near_the_maximum_rotation_lower_noise_near_zero():
    source = ValueSource()
    q = random_rotation(4)
    cont = {name: sap.sap(*sample(source, enc, 4000, 0), continuous=True)["sap"] for name, enc in
            [("true", identity), ("rotated", rotation(q)), ("noise", noise(4))]}
    assert cont["true"] > 0.99 and cont["noise"] < 0.01
    # Standardized independent factors rotated by Q: R²(code j, factor k) = Q_kj² exactly, so the
    # population SAP is the mean over k of the gap between the two largest Q_kj².
    top = np.sort(q ** 2, axis=1)
    expected = np.mean(top[:, -1] - top[:, -2])
    assert cont["rotated"] == pytest.approx(expected, abs=0.03) and expected < 0.8
    # Discrete (the reference's default) with binary factors: the code of a factor predicts it
    # perfectly, every other code at chance (1/2), so the attainable maximum is 1/2.
    binary = ValueSource(sizes=(2, 2, 2, 2))
    disc = {name: sap.sap(*sample(binary, enc, 600, 0), *sample(binary, enc, 300, 1))["sap"]
            for name, enc in [("true", identity), ("rotated", rotation(random_rotation(4))),
                              ("mixed", rotation(HADAMARD)), ("noise", noise(4))]}
    assert disc["true"] > 0.45 and disc["rotated"] < disc["true"] - 0.05
    assert disc["mixed"] < 0.1 and disc["noise"] < 0.1  # every code equally (un)informative


def test_sizes_and_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="num_train must be a positive integer, got 0"):
        sap.compute_sap(ValueSource(), identity, num_train=0)
    with pytest.raises(ConfigError, match="num_test must be a positive integer, got -2"):
        sap.compute_sap(ValueSource(), identity, num_test=-2)
    with pytest.raises(ConfigError, match="discrete SAP needs held-out test codes"):
        sap.sap(np.zeros((4, 2)), np.zeros((4, 1), int))
    with pytest.raises(ConfigError, match="at least 2 code dimensions"):
        sap.sap(np.zeros((4, 1)), np.zeros((4, 1), int), continuous=True)
