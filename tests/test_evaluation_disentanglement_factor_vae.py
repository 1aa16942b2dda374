"""The FactorVAE score: the majority-vote classifier by hand, and encoders with known answers."""

import numpy as np
import pytest

from disentanglement_cases import HADAMARD, ValueSource, identity, noise, rotation
from tf_dpvae.config import ConfigError
from tf_dpvae.evaluation.disentanglement import factor_vae

SMALL = {"batch_size": 32, "num_train": 200, "num_eval": 200, "num_variance_estimate": 1000}


def test_majority_vote_accuracy_by_hand():
    train = np.array([[5, 0, 1],    # votes[k, j]: fixing factor k made code j the least variable
                      [1, 4, 3],
                      [0, 2, 2]])   # code 2: a 1:3 or 2:2 tie; factor 1 has 3 votes > factor 2's 2
    evaluation = np.array([[2, 1, 0],
                           [0, 3, 1],
                           [1, 0, 2]])
    train_acc, eval_acc, classifier = factor_vae.majority_vote_accuracy(train, evaluation)
    np.testing.assert_array_equal(classifier, [0, 1, 1])
    assert train_acc == pytest.approx((5 + 4 + 3) / 18)
    assert eval_acc == pytest.approx((2 + 3 + 1) / 10)


def test_true_factors_score_one():
    out = factor_vae.compute_factor_vae(ValueSource(), identity, seed=0, **SMALL)
    assert out["factor_vae_score"] == 1.0 and out["train_accuracy"] == 1.0
    assert out["num_active_dims"] == 4
    assert np.sum(out["votes_train"]) == 200 and np.sum(out["votes_eval"]) == 200
    # Rescaling single codes changes nothing (codes are compared relative to their global variance).
    scaled = factor_vae.compute_factor_vae(ValueSource(), lambda x: x * [1, 10, 0.1, 3], seed=0,
                                           **SMALL)
    assert scaled["votes_eval"] == out["votes_eval"]


def test_a_rotation_that_mixes_every_factor_scores_lower_and_noise_near_chance():
    # A rotation whose largest loadings form a permutation would still score 1 (each factor still has
    # its own least-variable code): the Hadamard rotation gives every code every factor equally.
    mixed = factor_vae.compute_factor_vae(ValueSource(), rotation(HADAMARD), seed=0, **SMALL)
    assert mixed["factor_vae_score"] < 0.6
    random = factor_vae.compute_factor_vae(ValueSource(), noise(4), seed=0, **SMALL)
    assert random["factor_vae_score"] < 0.45  # chance is 1/K = 0.25 plus the classifier's overfit


def test_collapsed_codes_are_pruned_and_all_collapsed_scores_zero():
    def with_dead_code(x):
        return np.concatenate([x, np.full((len(x), 1), 3.0), 0.01 * x[:, :1]], axis=1)

    out = factor_vae.compute_factor_vae(ValueSource(), with_dead_code, seed=0, **SMALL)
    assert out["num_active_dims"] == 4 and out["factor_vae_score"] == 1.0
    assert np.sum(np.asarray(out["votes_train"])[:, 4:]) == 0
    dead = factor_vae.compute_factor_vae(ValueSource(), lambda x: 0.01 * x, seed=0, **SMALL)
    assert dead["factor_vae_score"] == 0.0 and dead["num_active_dims"] == 0


def test_seeded():
    a = factor_vae.compute_factor_vae(ValueSource(), noise(4, 1), seed=5, **SMALL)
    b = factor_vae.compute_factor_vae(ValueSource(), noise(4, 1), seed=5, **SMALL)
    assert a == b


@pytest.mark.parametrize("name, value", [("batch_size", 0), ("num_train", 0), ("num_eval", -1),
                                         ("num_variance_estimate", 0)])
def test_sample_sizes_must_be_positive(name, value):
    with pytest.raises(ConfigError, match=f"{name} must be a positive integer, got {value}"):
        factor_vae.compute_factor_vae(ValueSource(), identity, **{**SMALL, name: value})


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="batch_size must be at least 2"):
        factor_vae.compute_factor_vae(ValueSource(), identity, **{**SMALL, "batch_size": 1})
    with pytest.raises(ConfigError, match="prune_threshold must be a finite number >= 0, got -1"):
        factor_vae.compute_factor_vae(ValueSource(), identity, prune_threshold=-1.0)
    with pytest.raises(ConfigError, match="no ground-truth factors"):
        factor_vae.compute_factor_vae(None, identity)
    with pytest.raises(ConfigError, match="has no factors"):
        factor_vae.compute_factor_vae(ValueSource(sizes=()), identity)
