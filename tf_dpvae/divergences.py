"""Pure tensor mathematics: Gaussian densities, KL terms, total-correlation estimators, MMD.

Shapes: ``B`` is the batch, ``d`` the latent dimension. Every function is differentiable and keeps all
constants, so that values (not only gradients) can be compared with closed forms.
"""

from __future__ import annotations

import math

import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(x, mean, log_var):
    """Elementwise log N(x; mean, exp(log_var)) = −½[log 2π + log σ² + (x − μ)²/σ²].

    Args: broadcastable tensors. Returns: their broadcast shape (no reduction).
    """
    return -0.5 * (LOG_2PI + log_var + tf.square(x - mean) * tf.exp(-log_var))


def standard_normal_log_density(x):
    """log N(x; 0, I) summed over the last axis. x: [..., d] → [...]."""
    return -0.5 * tf.reduce_sum(LOG_2PI + tf.square(x), axis=-1)


def gaussian_entropy(log_var):
    """Closed-form entropy of N(μ, diag σ²): H = ½ Σ_j (log 2π + 1 + log σ²_j). [B, d] → [B]."""
    return 0.5 * tf.reduce_sum(LOG_2PI + 1.0 + log_var, axis=-1)


def kl_to_standard_normal(mean, log_var):
    """Closed form KL[N(μ, diag σ²) ‖ N(0, I)] = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). [B, d] → [B]."""
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)


def kl_monte_carlo(log_var, log_prior_z):
    """KL[q(z|x) ‖ p(z)] = −H[q(z|x)] − E_q[log p(z)] (paper eq. 5), one reparameterized sample.

    With the decoupled prior, log p(z) = log N(g(z); 0, I) + log|det ∂g/∂z|, so this equals eq. (5)'s
    −E[Σ_k Σ_l b s_k] − ½ log|Σ_z| + ½E[gᵀg] plus the constants that eq. (5) leaves out
    (−d/2 from the entropy and the Gaussian normalizers, which cancel to −d/2 overall); with them kept
    its expectation equals the closed-form KL when g is the identity.

    Args:
      log_var: [B, d] posterior log-variances.
      log_prior_z: [B] log p(z) at z ~ q(z|x).
    Returns: [B] per-example single-sample KL estimate.
    """
    return -gaussian_entropy(log_var) - log_prior_z


def posterior_log_density_matrix(z, mean, log_var):
    """ℓ[i, j, k] = log N(z_ik; μ_jk, σ²_jk): every sample under every posterior of the batch.

    z, mean, log_var: [B, d] → [B, B, d] (row i = sample, column j = posterior).
    """
    return gaussian_log_density(z[:, None, :], mean[None, :, :], log_var[None, :, :])


def log_importance_weights_mss(batch_size, dataset_size):
    """log W for minibatch-stratified sampling (Chen et al. 2018, appendix C.2), [B, B].

    For sample i drawn from posterior n* = i, with M = B − 1 other batch members, the unbiased
    estimate of q(z) = (1/N) Σ_n q(z|n) is
        (1/N)·q(z|n*) + ((N − M)/(N·M))·q(z|n_M) + (1/M)·Σ_{m<M} q(z|n_m).
    Row i therefore has 1/N on the diagonal, (N − M)/(N·M) on one other column ((i+1) mod B, the
    "stratum" member) and 1/M elsewhere; each row sums to 1. (The widely copied helper assigns these by a
    flat stride and fills the first column instead of the diagonal; this is the published estimator.)
    """
    n = tf.cast(dataset_size, tf.float32)
    m = tf.cast(batch_size - 1, tf.float32)  # a tensor inside tf.function
    eye = tf.eye(batch_size)
    stratum = tf.roll(eye, shift=1, axis=1)  # ones at (i, (i+1) mod B)
    weights = (eye * (1.0 / n) + stratum * ((n - m) / (n * m))
               + (1.0 - eye - stratum) * (1.0 / m))
    return tf.math.log(weights)


def total_correlation_terms(z, mean, log_var, log_prior_z, dataset_size, estimator="mss"):
    """β-TCVAE decomposition of the KL (Chen et al. 2018, eq. 2), per sample, in the space of z.

        MI   = log q(z|x) − log q(z)
        TC   = log q(z) − Σ_k log q(z_k)
        DWKL = Σ_k log q(z_k) − log p(z)

    MI + TC + DWKL = log q(z|x) − log p(z), a single-sample KL[q(z|x) ‖ p(z)]. log q(z) and log q(z_k) are
    minibatch estimates of the aggregate posterior over a data set of size N:
      * ``mws`` (minibatch-weighted sampling): log q(z_i) ≈ logsumexp_j ℓ_ij − log(N·B). On identical
        posteriors it gives TC = (d − 1)·log N, its known bias;
      * ``mss`` (minibatch-stratified sampling): the weights of ``log_importance_weights_mss``; unbiased
        for q(z) and TC = 0 on identical posteriors.
    With the decoupled prior, ``log_prior_z`` is the flow's full log p(z) including the log-determinant.

    What "dimension-wise KL" is. TC + DWKL = log q(z) − log p(z) per sample, so in expectation under q
    (z ~ q(z|x), x ~ data)

        E_q[DWKL] = E_q[Σ_k log q(z_k) − log p(z)] = KL[q(z) ‖ p(z)] − TC,     TC = KL[q(z) ‖ Π_k q(z_k)],

    and the β-TCVAE objective is

        α·MI + β·TC + γ·DWKL = α·MI + (β − γ)·TC + γ·KL[q(z) ‖ p(z)]:

    the effective TC weight is β − γ, and γ weighs the marginal KL of q(z) to the prior. (The per-sample
    estimates returned here obey it exactly: α·MI + β·TC + γ·DWKL = α·MI + (β − γ)·TC + γ·(log q̂(z) −
    log p(z)), the minibatch log q̂(z) cancelling between TC and DWKL.) This holds for either prior.
    Whether E_q[DWKL] is itself a KL depends on p: for N(0, I), p factorizes, each term depends on one
    marginal only, and E_q[DWKL] = Σ_k KL[q(z_k) ‖ N(0, 1)] ≥ 0. For the decoupled prior p(z) does not
    factorize and E_q[DWKL] is not a KL: not KL[Π_k q(z_k) ‖ p(z)] either, since the expectation is under
    q(z), not Π_k q(z_k) (the two differ by E_{Π q(z_k)}[log p] − E_q[log p]), and it can be negative
    (q(z) = p(z) with dependent coordinates gives E_q[DWKL] = −TC < 0).

    Args:
      z, mean, log_var: [B, d]; log_prior_z: [B]; dataset_size: N (Python number).
    Returns: dict of [B] tensors ``mi``, ``tc``, ``dwkl``.
    """
    batch_size = tf.shape(z)[0]
    ell = posterior_log_density_matrix(z, mean, log_var)  # [B, B, d]
    if estimator == "mss":
        log_w = log_importance_weights_mss(batch_size, dataset_size)[:, :, None]  # [B, B, 1]
        log_qz = tf.reduce_logsumexp(tf.reduce_sum(ell, axis=2) + log_w[:, :, 0], axis=1)
        log_qz_marginals = tf.reduce_sum(tf.reduce_logsumexp(ell + log_w, axis=1), axis=1)
    elif estimator == "mws":
        log_nb = tf.math.log(float(dataset_size) * tf.cast(batch_size, tf.float32))
        log_qz = tf.reduce_logsumexp(tf.reduce_sum(ell, axis=2), axis=1) - log_nb
        log_qz_marginals = tf.reduce_sum(tf.reduce_logsumexp(ell, axis=1) - log_nb, axis=1)
    else:
        raise ValueError(f"estimator must be 'mss' or 'mws', got {estimator!r}")
    log_qz_given_x = tf.reduce_sum(gaussian_log_density(z, mean, log_var), axis=1)
    return {
        "mi": log_qz_given_x - log_qz,
        "tc": log_qz - log_qz_marginals,
        "dwkl": log_qz_marginals - log_prior_z,
    }


def _squared_distances(a, b):
    """‖a_i − b_j‖² for a: [n, d], b: [m, d] → [n, m]."""
    return tf.reduce_sum(tf.square(a[:, None, :] - b[None, :, :]), axis=-1)


def kernel_matrix(a, b, kernel="imq", scale=1.0):
    """k(a_i, b_j) with bandwidth c = 2·d·σ² (σ = ``scale``), a: [n, d], b: [m, d] → [n, m].

    rbf: exp(−‖a − b‖² / c) (InfoVAE);  imq: c / (c + ‖a − b‖²) (WAE; heavier tails, stronger gradients
    far from the data).
    """
    dim = tf.cast(tf.shape(a)[-1], a.dtype)
    c = 2.0 * dim * scale ** 2
    dist = _squared_distances(a, b)
    if kernel == "rbf":
        return tf.exp(-dist / c)
    if kernel == "imq":
        return c / (c + dist)
    raise ValueError(f"kernel must be 'rbf' or 'imq', got {kernel!r}")


def mmd(x, y, kernel="imq", scale=1.0):
    """Unbiased estimate of MMD²(P, Q) from x ~ P: [n, d], y ~ Q: [m, d] (Gretton et al. 2012, eq. 3).

    MMD² = E k(x, x') + E k(y, y') − 2 E k(x, y), with the diagonals left out of the within-sample means so
    that its expectation is exactly 0 when P = Q (the biased V-statistic sits at O(1/n) above 0).
    """
    n = tf.cast(tf.shape(x)[0], x.dtype)
    m = tf.cast(tf.shape(y)[0], y.dtype)
    k_xx = kernel_matrix(x, x, kernel, scale)
    k_yy = kernel_matrix(y, y, kernel, scale)
    k_xy = kernel_matrix(x, y, kernel, scale)
    within_x = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))
    within_y = (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (m * (m - 1.0))
    return within_x + within_y - 2.0 * tf.reduce_mean(k_xy)


def permute_dims(z, seed):
    """Shuffle each latent dimension independently across the batch (FactorVAE's q̄(z) samples).

    z: [B, d]; seed: int32 [2] for the stateless shuffles → [B, d] whose columns are permutations of z's.
    """
    batch = tf.shape(z)[0]
    dims = z.shape[-1]
    columns = []
    for k in range(dims):
        keys = tf.random.stateless_uniform([batch], seed=seed + tf.constant([0, 1], seed.dtype) * k)
        columns.append(tf.gather(z[:, k], tf.argsort(keys)))
    return tf.stack(columns, axis=1)


def gaussian_mixture_log_density(z, logits, means, scale_tril):
    """log p(z) of a Gaussian mixture with full covariances Σ_k = L_k L_kᵀ:

        log p(z) = logsumexp_k [log π_k + log N(z; μ_k, Σ_k)],   π = softmax(logits),
        log N(z; μ_k, Σ_k) = −½‖L_k⁻¹(z − μ_k)‖² − Σ_i log (L_k)_ii − (d/2) log 2π.

    Args:
      z: [B, d] points.
      logits: [K] unnormalized log mixture weights.
      means: [K, d] component means μ_k.
      scale_tril: [K, d, d] lower-triangular Cholesky factors L_k with a positive diagonal.
    Returns: [B] log densities.
    """
    d = tf.cast(tf.shape(z)[-1], z.dtype)
    diff = z[None, :, :] - means[:, None, :]                                 # [K, B, d]
    # L_k⁻¹(z − μ_k) for every component at once: solve L_k y = (z − μ_k)ᵀ
    white = tf.linalg.triangular_solve(scale_tril, tf.transpose(diff, [0, 2, 1]), lower=True)  # [K, d, B]
    mahalanobis = tf.reduce_sum(tf.square(white), axis=1)                     # [K, B]
    log_det = tf.reduce_sum(tf.math.log(tf.linalg.diag_part(scale_tril)), axis=-1)  # [K]
    component = -0.5 * mahalanobis - log_det[:, None] - 0.5 * d * LOG_2PI     # [K, B]
    log_weights = tf.nn.log_softmax(logits)                                   # [K]
    return tf.reduce_logsumexp(log_weights[:, None] + component, axis=0)      # [B]
