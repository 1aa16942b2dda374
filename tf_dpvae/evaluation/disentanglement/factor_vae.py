"""FactorVAE score (Kim & Mnih 2018, §4) with disentanglement_lib's protocol (Locatello et al. 2019:
batch_size 64, num_train 10,000, num_eval 5,000, num_variance_estimate 10,000, prune threshold 0.05).

    s²_j      = Var_n z_nj over num_variance_estimate observations of factors sampled uniformly
                (unbiased, ddof = 1): the global scale of code j
    active    = {j : s_j ≥ prune_threshold}  (a standard deviation; codes collapsed to a constant always drop out)
    one vote  : draw a factor k uniformly; draw batch_size factor vectors, set factor k of all of them
                to the first one's value; represent their observations; the vote is (k, j*) with
                j* = argmin_{j ∈ active} Var_b z_bj / s²_j  (local variance, ddof = 1)
    classifier: every code j predicts the factor with the most training votes for j (majority vote)
    score     = fraction of the num_eval evaluation votes that the classifier gets right

The representation is divided by its global standard deviation (the ratio above), so the score is
invariant to rescaling single codes. Chance level is about 1/K (K factors): noise scores there, not 0.
"""

from __future__ import annotations

import numpy as np

from tf_dpvae.evaluation.disentanglement.factor_codes import (DisentanglementError, check_count, check_source,
                                                              represent_in_batches)

BATCH_SIZE = 64
NUM_TRAIN = 10_000
NUM_EVAL = 5_000
NUM_VARIANCE_ESTIMATE = 10_000
PRUNE_THRESHOLD = 0.05
_VOTES_PER_CHUNK = 32  # votes whose batches are observed and represented together


def majority_vote_accuracy(train_votes, eval_votes) -> tuple[float, float, np.ndarray]:
    """(train accuracy, eval accuracy, classifier [d]) of the majority-vote classifier.

    votes: int [K, d], votes[k, j] = how often fixing factor k made code j the least variable.
    classifier[j] = argmax_k train_votes[k, j]; accuracy = Σ_j votes[classifier[j], j] / Σ votes.
    """
    train_votes, eval_votes = np.asarray(train_votes), np.asarray(eval_votes)
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])

    def accuracy(votes):
        total = votes.sum()
        return float(votes[classifier, columns].sum() / total) if total else 0.0

    return accuracy(train_votes), accuracy(eval_votes), classifier


def _votes(source, represent, num_votes, batch_size, rng, global_variances, active, encode_batch):
    """int64 [K, d]: num_votes votes (see the module docstring)."""
    num_factors, dim = source.num_factors, len(global_variances)
    votes = np.zeros((num_factors, dim), np.int64)
    active_index = np.flatnonzero(active)
    done = 0
    while done < num_votes:
        chunk = min(_VOTES_PER_CHUNK, num_votes - done)
        fixed = rng.integers(num_factors, size=chunk)
        factors = np.asarray(source.sample_factors(chunk * batch_size, rng), np.int64)
        factors = factors.reshape(chunk, batch_size, num_factors)
        rows = np.arange(chunk)
        factors[rows, :, fixed] = factors[rows, 0, fixed][:, None]
        codes = represent_in_batches(represent, source.observe(factors.reshape(-1, num_factors)),
                                     encode_batch)
        if codes.shape[1] != dim:
            raise DisentanglementError(f"the representation function returned {codes.shape[1]} "
                                       f"dimensions, earlier {dim}")
        local = np.var(codes.reshape(chunk, batch_size, dim), axis=1, ddof=1)
        ratio = local[:, active_index] / global_variances[active_index]
        chosen = active_index[np.argmin(ratio, axis=1)]
        np.add.at(votes, (fixed, chosen), 1)
        done += chunk
    return votes


def compute_factor_vae(source, represent, seed=0, batch_size: int = BATCH_SIZE,
                       num_train: int = NUM_TRAIN, num_eval: int = NUM_EVAL,
                       num_variance_estimate: int = NUM_VARIANCE_ESTIMATE,
                       prune_threshold: float = PRUNE_THRESHOLD, encode_batch: int = 2048) -> dict:
    """The FactorVAE score of ``represent`` (observations [n, ...] → codes [n, d]) on ``source``.

    Returns {"factor_vae_score": eval accuracy, "train_accuracy", "eval_accuracy",
    "num_active_dims", "votes_train": [K][d], "votes_eval": [K][d]}. With no active code the score
    is 0 (as in disentanglement_lib).
    """
    check_source(source)
    batch_size = check_count("batch_size", batch_size)
    if batch_size < 2:
        raise DisentanglementError(f"batch_size must be at least 2 (a variance needs two points), "
                                   f"got {batch_size}")
    num_train, num_eval = check_count("num_train", num_train), check_count("num_eval", num_eval)
    num_variance_estimate = check_count("num_variance_estimate", num_variance_estimate)
    if num_variance_estimate < 2:
        raise DisentanglementError(f"num_variance_estimate must be at least 2, got "
                                   f"{num_variance_estimate}")
    if not (isinstance(prune_threshold, (int, float)) and np.isfinite(prune_threshold)
            and prune_threshold >= 0):
        raise DisentanglementError(f"prune_threshold must be a finite number >= 0, got "
                                   f"{prune_threshold!r}")
    rng = np.random.default_rng(seed)
    factors = np.asarray(source.sample_factors(num_variance_estimate, rng), np.int64)
    codes = represent_in_batches(represent, source.observe(factors), encode_batch)
    global_variances = np.var(codes, axis=0, ddof=1)
    active = (np.sqrt(global_variances) >= prune_threshold) & (global_variances > 0)
    result = {"num_active_dims": int(active.sum())}
    if not active.any():
        return {**result, "factor_vae_score": 0.0, "train_accuracy": 0.0, "eval_accuracy": 0.0}
    train_votes = _votes(source, represent, num_train, batch_size, rng, global_variances, active,
                         encode_batch)
    eval_votes = _votes(source, represent, num_eval, batch_size, rng, global_variances, active,
                        encode_batch)
    train_accuracy, eval_accuracy, _ = majority_vote_accuracy(train_votes, eval_votes)
    return {**result, "factor_vae_score": eval_accuracy, "train_accuracy": train_accuracy,
            "eval_accuracy": eval_accuracy, "votes_train": train_votes.tolist(),
            "votes_eval": eval_votes.tolist()}
