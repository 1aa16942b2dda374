"""Sample metrics that see where samples land: improved precision and recall (Kynkäänniemi et al.,
NeurIPS 2019) and density and coverage (Naeem et al., ICML 2020), on any embedding.

Each real point x_i gets a ball B(x_i, r_i) whose radius r_i is the distance to its k-th nearest other
real point; each generated point y_j gets r'_j likewise among the generated points. With d the
Euclidean distance, N real and M generated points:

    precision = (1/M) Σ_j 1[∃ i: d(x_i, y_j) < r_i]          share of samples on the real manifold
    recall    = (1/N) Σ_i 1[∃ j: d(x_i, y_j) < r'_j]         share of real points the samples reach
    density   = (1/(k·M)) Σ_j Σ_i 1[d(x_i, y_j) < r_i]        how many real balls hold a sample (≈ 1
                                                              when samples are distributed as data)
    coverage  = (1/N) Σ_i 1[min_j d(x_i, y_j) < r_i]         share of real balls holding any sample

Strict inequalities and r = the (k+1)-th smallest distance including the point itself, as the
authors' reference (the ``prdc`` package, NAVER, MIT) computes them. Samples far off the data
manifold lower precision and density; a mode the samples miss lowers recall and coverage.

Pure NumPy, in blocks of rows: memory O(block · max(N, M)) instead of the reference's N × M matrices,
so the paper's 10,000-sample protocol fits anywhere.
"""

from __future__ import annotations

import numpy as np

METRICS = ("precision", "recall", "density", "coverage")   # the order of every result dict
NEAREST_K = 5   # Naeem et al.'s k for density and coverage (Kynkäänniemi et al. use 3 for P&R)
_BLOCK = 1024   # rows of a distance block (1024 × 10,000 float64 = 80 MB)


def _as_features(name: str, x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty [n, features] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds non-finite values")
    return x


def _squared_distance_block(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """‖a_i − b_j‖² for a [m, f] and b [n, f] (b_sq = Σ b², [n]) → [m, n], by the expansion
    ‖a‖² + ‖b‖² − 2 a·b, clipped at 0 against rounding. Squared, so that no square root is taken
    of the whole block: every comparison of the metrics is between a distance and a radius, which
    squaring preserves."""
    sq = a @ b.T
    sq *= -2.0
    sq += np.sum(a * a, axis=1)[:, None]
    sq += b_sq[None, :]
    return np.maximum(sq, 0.0, out=sq)


def knn_radii(x, k: int = NEAREST_K, block: int = _BLOCK) -> np.ndarray:
    """r_i = distance from x_i to its k-th nearest other point of x ([n, f] → [n]): the (k+1)-th
    smallest distance in x_i's row, which includes d(x_i, x_i) = 0."""
    x = _as_features("x", x)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k < len(x):
        raise ValueError(f"k must be an integer in [1, {len(x) - 1}] for {len(x)} points, got {k!r}")
    x_sq = np.sum(x * x, axis=1)
    squared = np.empty(len(x))
    for start in range(0, len(x), block):
        d2 = _squared_distance_block(x[start:start + block], x, x_sq)
        squared[start:start + block] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(squared)


def precision_recall_density_coverage(real, fake, k: int = NEAREST_K, real_radii=None,
                                      block: int = _BLOCK) -> dict[str, float]:
    """The four metrics of the module docstring for real [N, f] and generated [M, f] features.

    real_radii: ``knn_radii(real, k)`` when the caller already has them (the same real set scored
    against several sample sets). Returns {precision, recall, density, coverage} as floats in [0, 1]
    (density in [0, N/k])."""
    real, fake = _as_features("real", real), _as_features("fake", fake)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features differ in width: {real.shape[1]} vs {fake.shape[1]}")
    r_real = knn_radii(real, k, block) if real_radii is None else np.asarray(real_radii, np.float64)
    if r_real.shape != (len(real),):
        raise ValueError(f"real_radii must have shape ({len(real)},), got {r_real.shape}")
    r_real2, r_fake2 = r_real ** 2, knn_radii(fake, k, block) ** 2
    fake_sq = np.sum(fake * fake, axis=1)
    in_real_ball = np.zeros(len(fake), dtype=bool)   # precision: y_j inside some real ball
    balls_holding = np.zeros(len(fake))              # density: real balls holding y_j
    recalled = np.zeros(len(real), dtype=bool)       # recall: x_i inside some fake ball
    covered = np.zeros(len(real), dtype=bool)        # coverage: x_i's ball holds its nearest sample
    for start in range(0, len(real), block):
        d2 = _squared_distance_block(real[start:start + block], fake, fake_sq)   # [b, M]
        inside = d2 < r_real2[start:start + block, None]
        in_real_ball |= inside.any(axis=0)
        balls_holding += inside.sum(axis=0)
        recalled[start:start + block] = (d2 < r_fake2[None, :]).any(axis=1)
        covered[start:start + block] = d2.min(axis=1) < r_real2[start:start + block]
    return {"precision": float(in_real_ball.mean()), "recall": float(recalled.mean()),
            "density": float(balls_holding.mean() / k), "coverage": float(covered.mean())}
