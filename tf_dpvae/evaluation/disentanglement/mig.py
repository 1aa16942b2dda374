"""Mutual Information Gap (Chen et al. 2018, β-TCVAE), with disentanglement_lib's protocol
(Locatello et al. 2019: ``mig.num_train = 10000``, histogram discretizer with 20 bins).

    z̃_j   = the bin of code j among num_bins equal-width bins spanning [min_n z_nj, max_n z_nj]
            (np.histogram's edges; the maximum falls in the last bin)
    I_jk  = Σ_{a,b} p̂(z̃_j = a, v_k = b) · log[p̂(z̃_j = a, v_k = b) / (p̂(z̃_j = a) p̂(v_k = b))]
            (plug-in mutual information in nats, sklearn.metrics.mutual_info_score)
    H_k   = I(v_k; v_k), the plug-in entropy of factor k
    MIG   = (1/K) Σ_k (I_(1)k − I_(2)k) / H_k,  I_(1)k ≥ I_(2)k the two largest I_jk over codes j

In [0, 1]: 1 when each factor is captured by one code alone, 0 when no code tells more about a factor
than the next best one. The codes are the encoder means on N factor vectors sampled uniformly.
"""

from __future__ import annotations

import numpy as np
import sklearn.metrics

from tf_dpvae.evaluation.disentanglement.factor_codes import (DisentanglementError, check_codes, check_count,
                                                              sample_codes)

NUM_TRAIN = 10_000
NUM_BINS = 20


def histogram_discretize(codes, num_bins: int = NUM_BINS) -> np.ndarray:
    """Each column's bin index: float [N, d] → int64 [N, d] in {1, …, num_bins} (disentanglement_lib's
    ``_histogram_discretize``: np.digitize against np.histogram's edges without the last)."""
    num_bins = check_count("num_bins", num_bins)
    codes = np.asarray(codes, np.float64)
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def discrete_mutual_information(discrete_codes, factors) -> np.ndarray:
    """I(z̃_j; v_k) in nats: int [N, d], int [N, K] → float64 [d, K]."""
    d, k = discrete_codes.shape[1], factors.shape[1]
    return np.array([[sklearn.metrics.mutual_info_score(factors[:, b], discrete_codes[:, a])
                      for b in range(k)] for a in range(d)], np.float64).reshape(d, k)


def discrete_entropy(factors) -> np.ndarray:
    """H(v_k) in nats (plug-in): int [N, K] → float64 [K]."""
    return np.array([sklearn.metrics.mutual_info_score(factors[:, b], factors[:, b])
                     for b in range(factors.shape[1])], np.float64)


def mutual_information_gap(codes, factors, num_bins: int = NUM_BINS) -> dict:
    """MIG of codes [N, d] (d ≥ 2) against discrete factors [N, K].

    Returns {"mig": float, "mig_per_factor": [K], "mutual_information": [d][K] nats,
    "factor_entropy": [K] nats}. DisentanglementError if d < 2 (no gap) or a factor takes a single
    value in the sample (H_k = 0: nothing to normalize by).
    """
    codes, factors = check_codes(codes, factors, "MIG")
    if codes.shape[1] < 2:
        raise DisentanglementError(f"MIG needs at least 2 code dimensions (a gap between the best "
                                   f"and second-best code); got {codes.shape[1]}")
    entropy = discrete_entropy(factors)
    constant = np.flatnonzero(entropy <= 0.0)
    if constant.size:
        raise DisentanglementError(f"MIG: factor {int(constant[0])} takes a single value in the "
                                   f"{len(factors)} samples (zero entropy); sample more points")
    mi = discrete_mutual_information(histogram_discretize(codes, num_bins), factors)
    top = np.sort(mi, axis=0)[::-1]
    per_factor = (top[0] - top[1]) / entropy
    return {"mig": float(np.mean(per_factor)), "mig_per_factor": per_factor.tolist(),
            "mutual_information": mi.tolist(), "factor_entropy": entropy.tolist()}


def compute_mig(source, represent, seed=0, num_train: int = NUM_TRAIN, num_bins: int = NUM_BINS,
                batch_size: int = 1024) -> dict:
    """MIG on num_train factor vectors sampled from ``source`` (see ``sampling.sample_codes``)."""
    num_train = check_count("num_train", num_train)
    codes, factors = sample_codes(source, represent, num_train, np.random.default_rng(seed),
                                  batch_size)
    return mutual_information_gap(codes, factors, num_bins)
